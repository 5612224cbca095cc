/**
 * Output of `stafctl discover`: the human table and the stable JSON document (schema in
 * packages/stafd/docs/stafctl-discover.md).
 *
 * Pure: values in, text out. The JSON record fields that `nvme discover -o json` (nvme-cli 2.x) prints
 * have the same names AND the same string values as there (libnvme's nvmf_*_str tables: "nvme
 * subsystem", "not specified", "explicit discovery connections", "tls13", …), so a test can compare
 * the two field by field. stas adds fields nvme-cli does not print (cntlid, asqsz, tsas, codes), never
 * under an nvme-cli name.
 *
 * Used by: discover-command.ts
 * Tests:   discover-format.test.ts
 */
import type { DiscoverResult } from '@stas/common/nvme/session/discover';
import { Eflag, Trtype, type DiscoveryLogEntry, type Tsas } from '@stas/common/nvme/wire/discovery-log';

const UNRECOGNIZED = 'unrecognized';

function pick(names: Readonly<Record<number, string>>, value: number): string {
  return names[value] ?? UNRECOGNIZED;
}

const TRTYPE: Readonly<Record<number, string>> = { 1: 'rdma', 2: 'fc', 3: 'tcp', 254: 'loop' };
const ADRFAM: Readonly<Record<number, string>> = {
  0: 'pci',
  1: 'ipv4',
  2: 'ipv6',
  3: 'infiniband',
  4: 'fibre-channel',
};
const SUBTYPE: Readonly<Record<number, string>> = {
  1: 'discovery subsystem referral',
  2: 'nvme subsystem',
  3: 'current discovery subsystem',
};
const SQFLOW = 'sq flow control disable supported';
const TREQ: Readonly<Record<number, string>> = {
  0: 'not specified',
  1: 'required',
  2: 'not required',
  4: `not specified, ${SQFLOW}`,
  5: `required, ${SQFLOW}`,
  6: `not required, ${SQFLOW}`,
};
const SECTYPE: Readonly<Record<number, string>> = { 0: 'none', 1: 'tls', 2: 'tls13' };
const PRTYPE: Readonly<Record<number, string>> = {
  1: 'not specified',
  2: 'infiniband',
  3: 'roce',
  4: 'roce-v2',
  5: 'iwarp',
};
const QPTYPE: Readonly<Record<number, string>> = { 1: 'connected', 2: 'datagram' };
const CMS: Readonly<Record<number, string>> = { 1: 'rdma-cm' };

/** nvme-cli's EFLAGS text: the set flags in libnvme's order, joined by ", "; "none" for 0. */
export function eflagsText(eflags: number): string {
  if (eflags === 0) return 'none';
  if (eflags > 7) return UNRECOGNIZED;
  const parts: string[] = [];
  if ((eflags & Eflag.EPCSD) !== 0) parts.push('explicit discovery connections');
  if ((eflags & Eflag.DUPRETINFO) !== 0) parts.push('duplicate discovery information');
  if ((eflags & Eflag.NCC) !== 0) parts.push('no cdc connectivity');
  return parts.join(', ');
}

export const nvmeCliNames = {
  trtype: (v: number) => pick(TRTYPE, v),
  adrfam: (v: number) => pick(ADRFAM, v),
  subtype: (v: number) => pick(SUBTYPE, v),
  treq: (v: number) => pick(TREQ, v),
  sectype: (v: number) => pick(SECTYPE, v),
  prtype: (v: number) => pick(PRTYPE, v),
  qptype: (v: number) => pick(QPTYPE, v),
  cms: (v: number) => pick(CMS, v),
  eflags: eflagsText,
} as const;

export type JsonTsas =
  | { readonly sectype: string }
  | { readonly qptype: string; readonly prtype: string; readonly cms: string; readonly pkey: number }
  | Record<string, never>;

export interface DiscoveryRecordJson {
  readonly trtype: string;
  readonly adrfam: string;
  readonly subtype: string;
  readonly treq: string;
  readonly portid: number;
  readonly trsvcid: string;
  readonly subnqn: string;
  readonly traddr: string;
  readonly eflags: string;
  readonly sectype?: string;
  readonly rdma_prtype?: string;
  readonly rdma_qptype?: string;
  readonly rdma_cms?: string;
  readonly rdma_pkey?: number;
  readonly cntlid: number;
  readonly asqsz: number;
  readonly tsas: JsonTsas;
  readonly codes: {
    readonly trtype: number;
    readonly adrfam: number;
    readonly subtype: number;
    readonly treq: number;
    readonly eflags: number;
  };
}

export interface DiscoveryJson {
  readonly genctr: number | string;
  readonly numrec: number;
  readonly records: readonly DiscoveryRecordJson[];
  readonly controller: {
    readonly address: string;
    readonly subnqn: string;
    readonly cntlid: number;
    readonly dctype: 'none' | 'ddc' | 'cdc' | 'unrecognized';
  };
}

function tsasJson(tsas: Tsas): JsonTsas {
  switch (tsas.kind) {
    case 'tcp':
      return { sectype: nvmeCliNames.sectype(tsas.sectype) };
    case 'rdma':
      return {
        qptype: nvmeCliNames.qptype(tsas.qptype),
        prtype: nvmeCliNames.prtype(tsas.prtype),
        cms: nvmeCliNames.cms(tsas.cms),
        pkey: tsas.pkey,
      };
    case 'none':
      return {};
  }
}

export function recordJson(e: DiscoveryLogEntry): DiscoveryRecordJson {
  const transport: Partial<DiscoveryRecordJson> =
    e.tsas.kind === 'tcp' && e.trtype === Trtype.Tcp
      ? { sectype: nvmeCliNames.sectype(e.tsas.sectype) }
      : e.tsas.kind === 'rdma'
        ? {
            rdma_prtype: nvmeCliNames.prtype(e.tsas.prtype),
            rdma_qptype: nvmeCliNames.qptype(e.tsas.qptype),
            rdma_cms: nvmeCliNames.cms(e.tsas.cms),
            rdma_pkey: e.tsas.pkey,
          }
        : {};
  return {
    trtype: nvmeCliNames.trtype(e.trtype),
    adrfam: nvmeCliNames.adrfam(e.adrfam),
    subtype: nvmeCliNames.subtype(e.subtype),
    treq: nvmeCliNames.treq(e.treq),
    portid: e.portid,
    trsvcid: e.trsvcid,
    subnqn: e.subnqn,
    traddr: e.traddr,
    eflags: eflagsText(e.eflags),
    ...transport,
    cntlid: e.cntlid,
    asqsz: e.asqsz,
    tsas: tsasJson(e.tsas),
    codes: { trtype: e.trtype, adrfam: e.adrfam, subtype: e.subtype, treq: e.treq, eflags: e.eflags },
  };
}

function dctypeName(dctype: number): DiscoveryJson['controller']['dctype'] {
  return dctype === 0 ? 'none' : dctype === 1 ? 'ddc' : dctype === 2 ? 'cdc' : 'unrecognized';
}

/** The --json document. GENCTR is a number, or its decimal text above 2^53 − 1. */
export function discoveryJson(result: DiscoverResult): DiscoveryJson {
  const genctr =
    result.genctr <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(result.genctr) : result.genctr.toString();
  return {
    genctr,
    numrec: result.entries.length,
    records: result.entries.map(recordJson),
    controller: {
      address: result.peer,
      subnqn: result.identify.subnqn,
      cntlid: result.identify.cntlid,
      dctype: dctypeName(result.identify.dctype),
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Table

const SHORT_SUBTYPE: Readonly<Record<number, string>> = { 1: 'referral', 2: 'nvme', 3: 'discovery' };

function shortTreq(treq: number): string {
  const sc = treq & 0x3;
  const base = sc === 0 ? 'none' : sc === 1 ? 'required' : sc === 2 ? 'not-required' : 'reserved';
  return (treq & 0x4) !== 0 ? `${base},sqflow` : base;
}

function shortEflags(eflags: number): string {
  const parts: string[] = [];
  if ((eflags & Eflag.DUPRETINFO) !== 0) parts.push('dupretinfo');
  if ((eflags & Eflag.EPCSD) !== 0) parts.push('epcsd');
  if ((eflags & Eflag.NCC) !== 0) parts.push('ncc');
  if ((eflags & ~7) !== 0) parts.push(`0x${eflags.toString(16)}`);
  return parts.length === 0 ? 'none' : parts.join(',');
}

function shortSectype(e: DiscoveryLogEntry): string {
  if (e.tsas.kind !== 'tcp') return '-';
  const s = e.tsas.sectype;
  return s === 0 ? 'none' : s === 1 ? 'tls1.2' : s === 2 ? 'tls1.3' : String(s);
}

export const TABLE_COLUMNS = [
  'trtype',
  'adrfam',
  'subtype',
  'traddr',
  'trsvcid',
  'subnqn',
  'portid',
  'cntlid',
  'treq',
  'eflags',
  'sectype',
] as const;

export function tableRow(e: DiscoveryLogEntry): string[] {
  return [
    TRTYPE[e.trtype] ?? String(e.trtype),
    ADRFAM[e.adrfam] === 'fibre-channel' ? 'fc' : (ADRFAM[e.adrfam] ?? String(e.adrfam)),
    SHORT_SUBTYPE[e.subtype] ?? String(e.subtype),
    e.traddr,
    e.trsvcid,
    e.subnqn,
    String(e.portid),
    e.cntlid === 0xffff ? 'dynamic' : String(e.cntlid),
    shortTreq(e.treq),
    shortEflags(e.eflags),
    shortSectype(e),
  ];
}

/** A summary line, then one aligned row per entry under a header. */
export function discoveryTable(result: DiscoverResult): string {
  const rows = [[...TABLE_COLUMNS] as string[], ...result.entries.map(tableRow)];
  const widths = TABLE_COLUMNS.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const lines = rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  const n = result.entries.length;
  const summary = `Discovery log of ${result.identify.subnqn} at ${result.peer}: genctr ${result.genctr}, ${n} record${n === 1 ? '' : 's'}`;
  return [summary, ...lines].join('\n') + '\n';
}
