/**
 * Discovery Log Page (LID 0x70): header (GENCTR, NUMREC, RECFMT) and 1024-byte entries, decoded to a
 * typed model with the spec's field names, and encoded for the DC simulator.
 *
 * Pure: bytes in, typed entries out. No sockets, timers or logging. The caller reassembles C2HData and
 * compares GENCTR across reads; this decodes one image. GENCTR and NUMREC stay bigint (64-bit counters,
 * compared for equality only); everything else is a number or string.
 *
 * Decoding sanitises like libnvme (§5.3, §10 #16): text fields are cut at the first NUL and trailing
 * blanks removed; an FC TRADDR "nn-0x…,pn-0x…" becomes "nn-0x…:pn-0x…". Dropping entries (placeholder
 * addresses, transports this host cannot follow) is policy, kept apart in sanitizeEntries(), which
 * returns the reasons so callers can log them.
 *
 * Contract: decodeDiscoveryLog() returns every entry or throws WireError (WIRE_TRUNCATED,
 * WIRE_DLP_NUMREC_OVERFLOW when NUMREC entries do not fit the bytes supplied); never a partial list, and
 * never an allocation sized by NUMREC. Name helpers (trtypeName, …) return nvme-stas's DLPE dict strings,
 * or the decimal number for unknown values.
 *
 * Used by: nvme/session/discovery-session.ts, stafd (D-Bus DLPE dicts), testing/dc-sim.ts
 * Tests:   discovery-log.test.ts (hand-built pages), wire.prop.test.ts (fuzzed pages)
 */
import { WireError } from '../../errors.js';
import { LeReader } from './le-reader.js';
import { LeWriter } from './le-writer.js';

export const DLP_HEADER_SIZE = 1024;
export const DLP_ENTRY_SIZE = 1024;
/** The header read of the consistent-read algorithm: GENCTR, NUMREC, RECFMT rounded up to dwords. */
export const DLP_HEADER_READ_LENGTH = 20;

export const Trtype = { Unspecified: 0, Rdma: 1, Fc: 2, Tcp: 3, Loop: 254 } as const;
export const Adrfam = { Pci: 0, Ipv4: 1, Ipv6: 2, Infiniband: 3, Fc: 4, Loop: 254 } as const;
export const Subtype = { Referral: 1, Nvme: 2, CurrentDiscovery: 3 } as const;
/** TREQ bits: 1:0 secure channel (0 not specified, 1 required, 2 not required), b2 SQ flow control disable. */
export const Treq = { NotSpecified: 0, Required: 1, NotRequired: 2, DisableSqflow: 4 } as const;
/** EFLAGS bits. */
export const Eflag = { DUPRETINFO: 0x1, EPCSD: 0x2, NCC: 0x4 } as const;
export const TcpSectype = { None: 0, Tls12: 1, Tls13: 2 } as const;
export const RdmaQptype = { Connected: 1, Datagram: 2 } as const;
export const RdmaPrtype = { NotSpecified: 1, Infiniband: 2, Roce: 3, Rocev2: 4, Iwarp: 5 } as const;
export const RdmaCms = { RdmaCm: 1 } as const;

export interface DiscoveryLogHeader {
  /** Generation counter; compare for equality only (not monotonic across DC restarts). */
  readonly genctr: bigint;
  /** Number of records. */
  readonly numrec: bigint;
  /** Record format, 0 (nofuse sends 1; accepted). */
  readonly recfmt: number;
  /** Discovery log page flags (byte 18; 0 when the header read was shorter). */
  readonly dlpf: number;
}

/** Transport specific address subtype, by TRTYPE. */
export type Tsas =
  | { readonly kind: 'tcp'; readonly sectype: number }
  | {
      readonly kind: 'rdma';
      readonly qptype: number;
      readonly prtype: number;
      readonly cms: number;
      readonly pkey: number;
    }
  | { readonly kind: 'none' };

export interface DiscoveryLogEntry {
  readonly trtype: number;
  readonly adrfam: number;
  readonly subtype: number;
  readonly treq: number;
  readonly portid: number;
  readonly cntlid: number;
  readonly asqsz: number;
  readonly eflags: number;
  readonly trsvcid: string;
  readonly subnqn: string;
  readonly traddr: string;
  readonly tsas: Tsas;
}

export interface DiscoveryLog {
  readonly header: DiscoveryLogHeader;
  readonly entries: readonly DiscoveryLogEntry[];
}

// ---------------------------------------------------------------------------------------------------
// Decoding

/** Decode the header from at least 18 bytes (the 20-byte header read, or a whole page). */
export function decodeDiscoveryLogHeader(bytes: Uint8Array): DiscoveryLogHeader {
  const r = new LeReader(bytes, 'discovery log header');
  return {
    genctr: r.u64At(0),
    numrec: r.u64At(8),
    recfmt: r.u16At(16),
    dlpf: bytes.length > 18 ? r.u8At(18) : 0,
  };
}

/** Decode one 1024-byte entry starting at `offset`. */
export function decodeDiscoveryLogEntry(bytes: Uint8Array, offset = 0): DiscoveryLogEntry {
  const r = new LeReader(bytes.subarray(offset), 'discovery log entry');
  r.bytesAt(0, DLP_ENTRY_SIZE);
  const trtype = r.u8At(0);
  let traddr = r.textAt(512, 256);
  if (trtype === Trtype.Fc) traddr = traddr.replaceAll(',', ':');
  return {
    trtype,
    adrfam: r.u8At(1),
    subtype: r.u8At(2),
    treq: r.u8At(3),
    portid: r.u16At(4),
    cntlid: r.u16At(6),
    asqsz: r.u16At(8),
    eflags: r.u16At(10),
    trsvcid: r.textAt(32, 32),
    subnqn: r.textAt(256, 256),
    traddr,
    tsas: readTsas(r, 768, trtype),
  };
}

/** Read the 256-byte TSAS at `offset` as TRTYPE defines it (shared with dim.ts). */
export function readTsas(r: LeReader, offset: number, trtype: number): Tsas {
  if (trtype === Trtype.Tcp) return { kind: 'tcp', sectype: r.u8At(offset) };
  if (trtype === Trtype.Rdma) {
    return {
      kind: 'rdma',
      qptype: r.u8At(offset),
      prtype: r.u8At(offset + 1),
      cms: r.u8At(offset + 2),
      pkey: r.u16At(offset + 8),
    };
  }
  return { kind: 'none' };
}

/** Write a TSAS at `offset` (the 256-byte field is otherwise left zero; shared with dim.ts). */
export function writeTsas(w: LeWriter, offset: number, tsas: Tsas): void {
  switch (tsas.kind) {
    case 'tcp':
      w.u8At(offset, tsas.sectype, 'TSAS SECTYPE');
      break;
    case 'rdma':
      w.u8At(offset, tsas.qptype, 'TSAS QPTYPE')
        .u8At(offset + 1, tsas.prtype, 'TSAS PRTYPE')
        .u8At(offset + 2, tsas.cms, 'TSAS CMS')
        .u16At(offset + 8, tsas.pkey, 'TSAS PKEY');
      break;
    case 'none':
      break;
  }
}

function checkCount(count: bigint, available: number, what: string): number {
  const fits = Math.floor(Math.max(0, available) / DLP_ENTRY_SIZE);
  if (count < 0n || count > BigInt(fits)) {
    throw new WireError(
      'WIRE_DLP_NUMREC_OVERFLOW',
      `${what}: NUMREC ${count} entries do not fit the ${available} bytes supplied (room for ${fits})`,
      { offset: 8 },
    );
  }
  return Number(count);
}

/**
 * Decode `count` consecutive entries (the entries read at LPO 1024). WIRE_DLP_NUMREC_OVERFLOW when
 * `count` entries need more bytes than supplied.
 */
export function decodeDiscoveryLogEntries(bytes: Uint8Array, count: number | bigint): DiscoveryLogEntry[] {
  const n = checkCount(BigInt(count), bytes.length, 'discovery log entries');
  const entries: DiscoveryLogEntry[] = [];
  for (let i = 0; i < n; i++) entries.push(decodeDiscoveryLogEntry(bytes, i * DLP_ENTRY_SIZE));
  return entries;
}

/**
 * Decode a whole log image: header at 0, NUMREC entries from offset 1024. Bytes beyond the last entry
 * are ignored; with NUMREC 0 the image may be as short as the 18-byte header.
 */
export function decodeDiscoveryLog(bytes: Uint8Array): DiscoveryLog {
  const header = decodeDiscoveryLogHeader(bytes);
  if (header.numrec === 0n) return { header, entries: [] };
  checkCount(header.numrec, bytes.length - DLP_HEADER_SIZE, 'discovery log');
  return { header, entries: decodeDiscoveryLogEntries(bytes.subarray(DLP_HEADER_SIZE), header.numrec) };
}

// ---------------------------------------------------------------------------------------------------
// Encoding (DC simulator)

export function encodeDiscoveryLogEntry(entry: DiscoveryLogEntry): Uint8Array {
  const w = new LeWriter(DLP_ENTRY_SIZE, 'discovery log entry');
  writeEntry(w, 0, entry);
  return w.bytes;
}

function writeEntry(w: LeWriter, base: number, e: DiscoveryLogEntry): void {
  w.u8At(base + 0, e.trtype, 'TRTYPE')
    .u8At(base + 1, e.adrfam, 'ADRFAM')
    .u8At(base + 2, e.subtype, 'SUBTYPE')
    .u8At(base + 3, e.treq, 'TREQ')
    .u16At(base + 4, e.portid, 'PORTID')
    .u16At(base + 6, e.cntlid, 'CNTLID')
    .u16At(base + 8, e.asqsz, 'ASQSZ')
    .u16At(base + 10, e.eflags, 'EFLAGS')
    .textAt(base + 32, 32, e.trsvcid, 'nul', 'TRSVCID')
    .textAt(base + 256, 256, e.subnqn, 'nul', 'SUBNQN')
    .textAt(base + 512, 256, e.traddr, 'nul', 'TRADDR');
  writeTsas(w, base + 768, e.tsas);
}

export interface DiscoveryLogImage {
  readonly genctr: bigint;
  readonly entries: readonly DiscoveryLogEntry[];
  readonly recfmt?: number;
  readonly dlpf?: number;
  /** NUMREC to write; defaults to entries.length (override only to build inconsistent test pages). */
  readonly numrec?: bigint;
}

/** Encode header + entries: 1024 + 1024 × entries bytes. */
export function encodeDiscoveryLog(log: DiscoveryLogImage): Uint8Array {
  const w = new LeWriter(DLP_HEADER_SIZE + DLP_ENTRY_SIZE * log.entries.length, 'discovery log');
  w.u64At(0, log.genctr, 'GENCTR')
    .u64At(8, log.numrec ?? BigInt(log.entries.length), 'NUMREC')
    .u16At(16, log.recfmt ?? 0, 'RECFMT')
    .u8At(18, log.dlpf ?? 0, 'DLPF');
  log.entries.forEach((e, i) => {
    writeEntry(w, DLP_HEADER_SIZE + i * DLP_ENTRY_SIZE, e);
  });
  return w.bytes;
}

// ---------------------------------------------------------------------------------------------------
// Names (nvme-stas DLPE dict strings) and flag decoders

function named(names: Readonly<Record<number, string>>, value: number): string {
  return names[value] ?? String(value);
}

const TRTYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'unspecified',
  1: 'rdma',
  2: 'fc',
  3: 'tcp',
  254: 'loop',
};
const ADRFAM_NAMES: Readonly<Record<number, string>> = {
  0: 'pci',
  1: 'ipv4',
  2: 'ipv6',
  3: 'infiniband',
  4: 'fc',
};
const SUBTYPE_NAMES: Readonly<Record<number, string>> = { 1: 'referral', 2: 'nvme', 3: 'discovery' };
const TREQ_NAMES: Readonly<Record<number, string>> = {
  0: 'not specified',
  1: 'required',
  2: 'not required',
  4: 'disable sqflow',
};

/** 'tcp', 'rdma', 'fc', 'loop', 'unspecified', or the decimal number. */
export function trtypeName(trtype: number): string {
  return named(TRTYPE_NAMES, trtype);
}

/** 'ipv4', 'ipv6', 'infiniband', 'fc', 'pci', or the decimal number. */
export function adrfamName(adrfam: number): string {
  return named(ADRFAM_NAMES, adrfam);
}

/** 'referral' (1), 'nvme' (2), 'discovery' (3, the current DC), or the decimal number. */
export function subtypeName(subtype: number): string {
  return named(SUBTYPE_NAMES, subtype);
}

/** Exact-value names as nvme-stas shows them; combinations (e.g. 5) give the decimal number. */
export function treqName(treq: number): string {
  return named(TREQ_NAMES, treq);
}

/** TCP TSAS SECTYPE: 'none', 'tls', 'tls1.3', else 'reserved'. */
export function sectypeName(sectype: number): string {
  return sectype === 0 ? 'none' : sectype === 1 ? 'tls' : sectype === 2 ? 'tls1.3' : 'reserved';
}

/** RDMA TSAS QPTYPE: 'connected', 'datagram', else 'reserved'. */
export function qptypeName(qptype: number): string {
  return qptype === 1 ? 'connected' : qptype === 2 ? 'datagram' : 'reserved';
}

/** RDMA TSAS PRTYPE: 'not specified', 'infiniband', 'roce', 'rocev2', 'iwarp', else 'reserved'. */
export function prtypeName(prtype: number): string {
  const names = ['reserved', 'not specified', 'infiniband', 'roce', 'rocev2', 'iwarp'];
  return names[prtype] ?? 'reserved';
}

/** RDMA TSAS CMS: 'cm' (RDMA_CM), else 'reserved'. */
export function cmsName(cms: number): string {
  return cms === 1 ? 'cm' : 'reserved';
}

export interface EntryFlags {
  /** Duplicate returned information: the subsystem may be listed by other DCs/ports too. */
  readonly dupretinfo: boolean;
  /** Explicit persistent connection support for discovery. */
  readonly epcsd: boolean;
  /** Not connected to a CDC. */
  readonly ncc: boolean;
}

export function decodeEflags(eflags: number): EntryFlags {
  return {
    dupretinfo: (eflags & Eflag.DUPRETINFO) !== 0,
    epcsd: (eflags & Eflag.EPCSD) !== 0,
    ncc: (eflags & Eflag.NCC) !== 0,
  };
}

export function encodeEflags(flags: EntryFlags): number {
  return (
    (flags.dupretinfo ? Eflag.DUPRETINFO : 0) | (flags.epcsd ? Eflag.EPCSD : 0) | (flags.ncc ? Eflag.NCC : 0)
  );
}

export type SecureChannel = 'not-specified' | 'required' | 'not-required' | 'reserved';

export function decodeTreq(treq: number): {
  readonly secureChannel: SecureChannel;
  readonly disableSqflow: boolean;
} {
  const sc = treq & 0x3;
  const secureChannel: SecureChannel =
    sc === 0 ? 'not-specified' : sc === 1 ? 'required' : sc === 2 ? 'not-required' : 'reserved';
  return { secureChannel, disableSqflow: (treq & Treq.DisableSqflow) !== 0 };
}

// ---------------------------------------------------------------------------------------------------
// Policy: which entries a host keeps

export type DropReason = 'empty-address' | 'wildcard-address' | 'transport-mismatch';

export interface SanitizeOptions {
  /**
   * TRTYPE of the session that read the log. When given, referral (1) and current-discovery (3) entries
   * of another transport are dropped: this host reaches discovery controllers only over its own
   * transport. NVM subsystem entries (2) are kept whatever their transport (the kernel connects them).
   */
  readonly sessionTransport?: number;
}

export interface SanitizeResult {
  readonly kept: DiscoveryLogEntry[];
  readonly dropped: { readonly entry: DiscoveryLogEntry; readonly reason: DropReason }[];
}

/** 0.0.0.0 (any spelling with zero octets) or an all-zero IPv6 literal such as "::". */
export function isWildcardAddress(traddr: string): boolean {
  const a = traddr.trim();
  if (/^0+\.0+\.0+\.0+$/.test(a)) return true;
  return a.includes(':') && /^[0:.]+$/.test(a);
}

/**
 * Split entries into kept and dropped (with a reason), keeping order. Drops what nvme-stas drops before
 * caching (TRADDR empty, "0.0.0.0" or "::" after trimming: placeholders CDCs return for unreachable
 * entries) plus, with `sessionTransport`, discovery entries this host cannot follow.
 */
export function sanitizeEntries(
  entries: readonly DiscoveryLogEntry[],
  options: SanitizeOptions = {},
): SanitizeResult {
  const kept: DiscoveryLogEntry[] = [];
  const dropped: { entry: DiscoveryLogEntry; reason: DropReason }[] = [];
  for (const entry of entries) {
    const reason = dropReason(entry, options);
    if (reason === undefined) kept.push(entry);
    else dropped.push({ entry, reason });
  }
  return { kept, dropped };
}

function dropReason(entry: DiscoveryLogEntry, options: SanitizeOptions): DropReason | undefined {
  if (entry.traddr.trim() === '') return 'empty-address';
  if (isWildcardAddress(entry.traddr)) return 'wildcard-address';
  const isDc = entry.subtype === Subtype.Referral || entry.subtype === Subtype.CurrentDiscovery;
  if (isDc && options.sessionTransport !== undefined && entry.trtype !== options.sessionTransport) {
    return 'transport-mismatch';
  }
  return undefined;
}
