/**
 * stafd's discovery-log-page cache on disk: versioned JSON (not a pickle),
 * so that a restarted stafd serves the last known pages at once, marked stale
 * until each DC is read again.
 *
 * `encodeCache`/`decodeCache` are pure: decoding validates every field of
 * every record and returns either the records or a reason; it never throws on
 * bad input (a cache file is input like any other). `saveCache`/`loadCache`
 * do the I/O: an atomic write (temp file, fsync, rename), and a load that
 * reports an unreadable or corrupt file as a reason, never as a crash. The
 * load reads nothing of a file that is not a regular file or is larger than
 * MAX_CACHE_BYTES (memory stays bounded whatever the file holds).
 *
 * Tests: dlp-cache-file.test.ts
 */
import { open } from 'node:fs/promises';
import { describeError, isErrnoException } from '@stas/common/errors';
import type { Transport } from '@stas/common/nvme/tid';
import { createTid, isTransport } from '@stas/common/nvme/tid';
import type { Tid } from '@stas/common/nvme/tid';
import type { DiscoveryLogEntry, Tsas } from '@stas/common/nvme/wire/discovery-log';
import { writeFileAtomic } from '@stas/common/util/atomic-write';
import type { DcOrigin } from '../dc-set/plan.js';

export const CACHE_FORMAT = 'stas-dlp-cache';
export const CACHE_VERSION = 1;
/**
 * A cache file larger than this is not read: far above what stafd writes for any real fabric (a DC's
 * page has tens of entries, each about 1 KB of JSON).
 */
export const MAX_CACHE_BYTES = 256 * 1024 * 1024;

/** One DC's cached log page. */
export interface CachedDc {
  readonly tid: Tid;
  readonly origin: DcOrigin;
  readonly entries: readonly DiscoveryLogEntry[];
  /** GENCTR of the page as text (a 64-bit counter). */
  readonly genctr: string;
  /** When the page was read from the DC (ms since the epoch). */
  readonly fetchedAt: number;
}

export type CacheLoad =
  | { readonly ok: true; readonly records: readonly CachedDc[] }
  | { readonly ok: false; readonly reason: 'absent' | 'unreadable' | 'corrupt'; readonly detail: string };

export function encodeCache(records: readonly CachedDc[]): string {
  return JSON.stringify({
    format: CACHE_FORMAT,
    version: CACHE_VERSION,
    dcs: records.map((r) => ({
      tid: {
        transport: r.tid.transport,
        traddr: r.tid.traddr,
        trsvcid: r.tid.trsvcid,
        subsysnqn: r.tid.subsysnqn,
        hostTraddr: r.tid.hostTraddr,
        hostIface: r.tid.hostIface,
        hostNqn: r.tid.hostNqn,
        hostId: r.tid.hostId,
      },
      origin: r.origin,
      genctr: r.genctr,
      fetchedAt: r.fetchedAt,
      entries: r.entries,
    })),
  });
}

class Corrupt extends Error {}

export function decodeCache(text: string): CacheLoad {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: 'corrupt', detail: `not JSON: ${describeError(err)}` };
  }
  try {
    const top = object(json, 'cache');
    if (top['format'] !== CACHE_FORMAT)
      throw new Corrupt(`not a stas log page cache (format ${JSON.stringify(top['format'])})`);
    if (top['version'] !== CACHE_VERSION)
      throw new Corrupt(`unsupported cache version ${JSON.stringify(top['version'])}`);
    const dcs = array(top['dcs'], 'dcs');
    return { ok: true, records: dcs.map((dc, i) => decodeDc(dc, `dcs[${i}]`)) };
  } catch (err) {
    if (err instanceof Corrupt) return { ok: false, reason: 'corrupt', detail: err.message };
    throw err;
  }
}

const ORIGINS: readonly DcOrigin[] = ['configured', 'referral', 'discovered'];

function decodeDc(value: unknown, where: string): CachedDc {
  const dc = object(value, where);
  const t = object(dc['tid'], `${where}.tid`);
  const transport = string(t['transport'], `${where}.tid.transport`);
  if (!isTransport(transport)) throw new Corrupt(`${where}.tid.transport: unknown transport`);
  const field = (name: string): string => string(t[name], `${where}.tid.${name}`);
  const tid = createTid(
    {
      transport: transport satisfies Transport,
      traddr: field('traddr'),
      trsvcid: field('trsvcid'),
      subsysnqn: field('subsysnqn'),
      hostTraddr: field('hostTraddr'),
      hostIface: field('hostIface'),
      hostNqn: field('hostNqn'),
      hostId: field('hostId'),
    },
    { role: 'discovery' },
  );
  const origin = ORIGINS.find((o) => o === dc['origin']);
  if (origin === undefined) throw new Corrupt(`${where}.origin: expected one of ${ORIGINS.join(', ')}`);
  const genctr = string(dc['genctr'], `${where}.genctr`);
  if (!/^\d{1,20}$/.test(genctr)) throw new Corrupt(`${where}.genctr: not a counter`);
  const fetchedAt = integer(dc['fetchedAt'], `${where}.fetchedAt`, 0, Number.MAX_SAFE_INTEGER);
  const entries = array(dc['entries'], `${where}.entries`).map((e, i) =>
    decodeEntry(e, `${where}.entries[${i}]`),
  );
  return { tid, origin, genctr, fetchedAt, entries };
}

function decodeEntry(value: unknown, where: string): DiscoveryLogEntry {
  const e = object(value, where);
  const u = (name: string, max: number): number => integer(e[name], `${where}.${name}`, 0, max);
  const s = (name: string, maxLength: number): string => {
    const text = string(e[name], `${where}.${name}`);
    if (text.length > maxLength) throw new Corrupt(`${where}.${name}: too long`);
    return text;
  };
  return {
    trtype: u('trtype', 0xff),
    adrfam: u('adrfam', 0xff),
    subtype: u('subtype', 0xff),
    treq: u('treq', 0xff),
    portid: u('portid', 0xffff),
    cntlid: u('cntlid', 0xffff),
    asqsz: u('asqsz', 0xffff),
    eflags: u('eflags', 0xffff),
    trsvcid: s('trsvcid', 32),
    subnqn: s('subnqn', 256),
    traddr: s('traddr', 256),
    tsas: decodeTsas(e['tsas'], `${where}.tsas`),
  };
}

function decodeTsas(value: unknown, where: string): Tsas {
  const t = object(value, where);
  switch (t['kind']) {
    case 'tcp':
      return { kind: 'tcp', sectype: integer(t['sectype'], `${where}.sectype`, 0, 0xff) };
    case 'rdma':
      return {
        kind: 'rdma',
        qptype: integer(t['qptype'], `${where}.qptype`, 0, 0xff),
        prtype: integer(t['prtype'], `${where}.prtype`, 0, 0xff),
        cms: integer(t['cms'], `${where}.cms`, 0, 0xff),
        pkey: integer(t['pkey'], `${where}.pkey`, 0, 0xffff),
      };
    case 'none':
      return { kind: 'none' };
    default:
      throw new Corrupt(`${where}.kind: unknown`);
  }
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Corrupt(`${where}: expected an object`);
  return value as Record<string, unknown>;
}

function array(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new Corrupt(`${where}: expected a list`);
  return value;
}

function string(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new Corrupt(`${where}: expected text`);
  return value;
}

function integer(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Corrupt(`${where}: expected an integer ${min}..${max}`);
  }
  return value;
}

export async function saveCache(path: string, records: readonly CachedDc[]): Promise<void> {
  await writeFileAtomic(path, encodeCache(records), { mode: 0o600 });
}

/** Load the cache at `path`; a file above `maxBytes` (default MAX_CACHE_BYTES) is refused unread. */
export async function loadCache(path: string, maxBytes = MAX_CACHE_BYTES): Promise<CacheLoad> {
  let text: string;
  try {
    const file = await open(path, 'r');
    try {
      const st = await file.stat();
      if (!st.isFile()) return { ok: false, reason: 'unreadable', detail: `${path} is not a regular file` };
      if (st.size > maxBytes) {
        return {
          ok: false,
          reason: 'corrupt',
          detail: `${path} is too large (${st.size} bytes, the limit is ${maxBytes})`,
        };
      }
      text = await file.readFile('utf8');
    } finally {
      await file.close();
    }
  } catch (err) {
    if (isErrnoException(err) && err.code === 'ENOENT')
      return { ok: false, reason: 'absent', detail: `${path} does not exist` };
    return { ok: false, reason: 'unreadable', detail: `cannot read ${path}: ${describeError(err)}` };
  }
  // A file that grew between stat and read (nothing else writes it) is still bounded here.
  if (text.length > maxBytes) return { ok: false, reason: 'corrupt', detail: `${path} is too large` };
  const decoded = decodeCache(text);
  return decoded.ok ? decoded : { ...decoded, detail: `${path}: ${decoded.detail}` };
}
