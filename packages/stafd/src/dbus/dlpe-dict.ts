/**
 * Discovery log entries as D-Bus dictionaries (`a{ss}`): the "DLPE dict" of
 * nvme-stas's `get_log_pages` / `get_all_log_pages`, so existing clients keep
 * working — same keys, same value words — but with clean values: `tsas` is
 * real JSON instead of a Python repr, and numbers are plain decimal strings.
 *
 * Pure. The reverse direction (`entryFromDict`) is what stacd uses to read
 * stafd's pages back; it validates every value (D-Bus input is hostile until
 * parsed) and returns null for a dictionary it cannot use.
 *
 * Tests: dlpe-dict.test.ts
 */
import type { DiscoveryLogEntry, Tsas } from '@stas/common/nvme/wire/discovery-log';
import {
  adrfamName,
  cmsName,
  prtypeName,
  qptypeName,
  sectypeName,
  subtypeName,
  trtypeName,
  treqName,
} from '@stas/common/nvme/wire/discovery-log';

export type DlpeDict = Record<string, string>;

export function tsasJson(tsas: Tsas): string | null {
  switch (tsas.kind) {
    case 'tcp':
      return JSON.stringify({ sectype: sectypeName(tsas.sectype) });
    case 'rdma':
      return JSON.stringify({
        qptype: qptypeName(tsas.qptype),
        prtype: prtypeName(tsas.prtype),
        cms: cmsName(tsas.cms),
      });
    case 'none':
      return null;
  }
}

/** Key order as nvme-stas: trtype, adrfam, traddr, trsvcid, subnqn, subtype, treq, tsas, portid, cntlid, asqsz, eflags. */
export function dlpeDict(entry: DiscoveryLogEntry): DlpeDict {
  const dict: DlpeDict = {
    trtype: trtypeName(entry.trtype),
    adrfam: adrfamName(entry.adrfam),
    traddr: entry.traddr.trim(),
    trsvcid: entry.trsvcid.trim(),
    subnqn: entry.subnqn.trim(),
    subtype: subtypeName(entry.subtype),
    treq: treqName(entry.treq),
  };
  const tsas = tsasJson(entry.tsas);
  if (tsas !== null) dict['tsas'] = tsas;
  dict['portid'] = String(entry.portid);
  dict['cntlid'] = String(entry.cntlid);
  dict['asqsz'] = String(entry.asqsz);
  dict['eflags'] = String(entry.eflags);
  return dict;
}

/** What stacd needs of an entry read back from D-Bus. */
export interface DictEntry {
  readonly trtype: string;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly subnqn: string;
  readonly subtype: string;
  readonly eflags: number;
}

const MAX_FIELD = 256;

/** Validates a dictionary received over D-Bus; null when a required key is missing or malformed. */
export function entryFromDict(dict: Readonly<Record<string, unknown>>): DictEntry | null {
  const text = (key: string): string | null => {
    const v = dict[key];
    if (typeof v !== 'string' || v.length > MAX_FIELD || /\p{Cc}/u.test(v)) return null;
    return v;
  };
  const trtype = text('trtype');
  const traddr = text('traddr');
  const trsvcid = text('trsvcid');
  const subnqn = text('subnqn');
  const subtype = text('subtype');
  const eflagsText = text('eflags') ?? '0';
  if (trtype === null || traddr === null || trsvcid === null || subnqn === null || subtype === null)
    return null;
  if (!/^\d{1,5}$/.test(eflagsText)) return null;
  const eflags = Number(eflagsText);
  if (eflags > 0xffff) return null;
  return { trtype, traddr, trsvcid, subnqn, subtype, eflags };
}
