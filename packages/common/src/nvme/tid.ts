/**
 * Transport ID (TID): the identity of one NVMe-oF controller connection, as a
 * normalised, immutable value with a stable string key.
 *
 * Pure: reads no configuration (callers pass the host NQN/ID and apply
 * `ignore-iface` themselves), no I/O, no logging. `createTid` throws a
 * StasError (TID_BAD_TRANSPORT) only for a transport outside the `Transport`
 * union, i.e. a programming error; every other function is total.
 *
 * Shape: a frozen plain object plus functions, not a class. A plain object
 * survives JSON, structuredClone and worker messages unchanged, compares with
 * `toEqual`, and has no prototype to lose across module copies. A type-only
 * brand stops hand-written object literals from posing as normalised TIDs:
 * every Tid comes from `createTid`.
 *
 * Identity is ALL eight fields (transport, traddr, trsvcid, subsysnqn,
 * host-traddr, host-iface, host-nqn, host-id): the host NQN and host ID are
 * part of it, so two host identities on one machine never share a
 * connection (nvme-stas #528). Connection parameters (kato, digests…) are not.
 *
 * Differences from nvme-stas (behaviour spec §7, §9): addresses are
 * canonicalised (IPv6 spelling, case, IPv4-mapped → IPv4); the tcp default
 * port depends on the role (discovery 8009, I/O 4420: fixes F3); fc and loop
 * keep trsvcid '' and are valid TIDs (fixes F4); the key has no concatenation
 * collisions; an empty exclusion filter matches nothing (fixes C5).
 *
 * For callers matching thousands of TIDs: `tidKeyOf` gives the key createTid
 * would, `tidHasFields` whether createTid would give a TID already built, and
 * `tidTargetPrefix` the start of a key that names the target; none builds a TID.
 *
 * Used by: config/controller-spec.ts, the daemons' tables, the DLP cache.
 * Tests: tid.test.ts, tid.prop.test.ts, tid-fast-path.prop.test.ts
 */
import { StasError } from '../errors.js';
import { canonicalIp } from '../net/ip-address.js';

export const TRANSPORTS = ['tcp', 'rdma', 'fc', 'loop'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export const WELL_KNOWN_DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

/** What the controller is for; decides the defaults of trsvcid and subsysnqn. Not part of identity. */
export type TidRole = 'discovery' | 'io';

/** The identity fields. Empty string = not set. */
export interface TidFields {
  readonly transport: Transport;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly subsysnqn: string;
  readonly hostTraddr: string;
  readonly hostIface: string;
  readonly hostNqn: string;
  readonly hostId: string;
}

declare const tidKeyBrand: unique symbol;
/** A TID's identity as one string; equal keys ⇔ equal TIDs. Stable across runs and versions of the data. */
export type TidKey = string & { readonly [tidKeyBrand]: true };

declare const tidBrand: unique symbol;
/** A normalised, frozen TID. Build with `createTid`. */
export interface Tid extends TidFields {
  readonly key: TidKey;
  readonly [tidBrand]: true;
}

export type TidInput = Partial<TidFields> & { readonly transport: Transport; readonly traddr: string };

export function isTransport(value: string): value is Transport {
  return (TRANSPORTS as readonly string[]).includes(value);
}

/** The port used when none is given: tcp discovery 8009, tcp I/O 4420, rdma 4420; fc and loop have none. */
export function defaultTrsvcid(transport: Transport, role: TidRole): string {
  switch (transport) {
    case 'tcp':
      return role === 'discovery' ? '8009' : '4420';
    case 'rdma':
      return '4420';
    case 'fc':
    case 'loop':
      return '';
  }
}

/**
 * Lower-case A–Z only (other letters are left alone). Text with no upper-case
 * ASCII letter (the usual case) comes back as is, found by a regex test, which
 * V8 runs faster than a loop over the characters; all-ASCII text can use
 * toLowerCase, which then changes exactly A–Z.
 */
function asciiLower(text: string): string {
  if (!ASCII_UPPER.test(text)) return text;
  return NON_ASCII.test(text) ? text.replace(/[A-Z]+/g, (run) => run.toLowerCase()) : text.toLowerCase();
}
const ASCII_UPPER = /[A-Z]/;
const NON_ASCII = /[\u0080-\uffff]/;

const FC_COMMA_FORM = /^(nn-0x[0-9a-f]+),(pn-0x[0-9a-f]+)$/;

/**
 * The canonical form of an address field (traddr or host-traddr) for a
 * transport: tcp/rdma → canonical IP text if it is an IP literal, else the
 * host name lower-cased; fc → lower-cased, with the `nn-0x…,pn-0x…` form some
 * log pages use rewritten to `nn-0x…:pn-0x…`; loop → unchanged.
 */
export function canonicalTransportAddress(transport: Transport, text: string): string {
  if (text === '') return ''; // every branch below maps '' to ''
  switch (transport) {
    case 'tcp':
    case 'rdma':
      return canonicalIp(text) ?? asciiLower(text);
    case 'fc':
      return asciiLower(text).replace(FC_COMMA_FORM, '$1:$2');
    case 'loop':
      return text;
  }
}

/** A decimal port loses its leading zeros (`04420` → `4420`); anything else is kept as given. */
function canonicalPort(text: string): string {
  let zeros = 0; // leading zeros that can go (never the last digit)
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return text;
    if (c === 0x30 && zeros === i && i < text.length - 1) zeros++;
  }
  return zeros === 0 ? text : text.slice(zeros);
}

/** The transport, checked: StasError TID_BAD_TRANSPORT if it is not one of TRANSPORTS. */
function checkedTransport(transport: string): Transport {
  if (!isTransport(transport)) {
    throw new StasError('TID_BAD_TRANSPORT', `not an NVMe-oF transport: ${JSON.stringify(transport)}`);
  }
  return transport;
}

/** tcp/rdma: leading zeros dropped, '' → the role's default; fc/loop: always ''. */
function canonicalTrsvcid(transport: Transport, text: string, role: TidRole): string {
  const port = transport === 'tcp' || transport === 'rdma' ? canonicalPort(text) : '';
  return port === '' ? defaultTrsvcid(transport, role) : port;
}

/** '' → WELL_KNOWN_DISCOVERY_NQN for role discovery; else as given. */
function canonicalSubsysnqn(text: string, role: TidRole): string {
  return text === '' && role === 'discovery' ? WELL_KNOWN_DISCOVERY_NQN : text;
}

/**
 * Build a normalised TID.
 * - transport: must be one of TRANSPORTS (else StasError TID_BAD_TRANSPORT).
 * - traddr, hostTraddr: `canonicalTransportAddress`.
 * - trsvcid: tcp/rdma: leading zeros dropped, '' → `defaultTrsvcid`; fc/loop: always ''.
 * - subsysnqn: '' → WELL_KNOWN_DISCOVERY_NQN for role discovery; else as given.
 * - hostIface, hostNqn: as given; hostId lower-cased (a UUID; the kernel prints lower case).
 */
export function createTid(fields: TidInput, opts: { readonly role: TidRole }): Tid {
  const transport = checkedTransport(fields.transport);
  const traddr = canonicalTransportAddress(transport, fields.traddr);
  const trsvcid = canonicalTrsvcid(transport, fields.trsvcid ?? '', opts.role);
  const subsysnqn = canonicalSubsysnqn(fields.subsysnqn ?? '', opts.role);
  const hostTraddr = canonicalTransportAddress(transport, fields.hostTraddr ?? '');
  const hostIface = fields.hostIface ?? '';
  const hostNqn = fields.hostNqn ?? '';
  const hostId = asciiLower(fields.hostId ?? '');
  // One literal in the field order of TidFields, then `key`: the same shape as before.
  return Object.freeze({
    transport,
    traddr,
    trsvcid,
    subsysnqn,
    hostTraddr,
    hostIface,
    hostNqn,
    hostId,
    key: keyOf(transport, traddr, trsvcid, subsysnqn, hostTraddr, hostIface, hostNqn, hostId),
  }) as Tid;
}

/**
 * `createTid(fields, opts).key` without building the TID: for looking TIDs up by key (a planner
 * matching thousands of kernel controllers) with nothing left to collect. Same rules, same throw.
 */
export function tidKeyOf(fields: TidInput, opts: { readonly role: TidRole }): TidKey {
  const transport = checkedTransport(fields.transport);
  return keyOf(
    transport,
    canonicalTransportAddress(transport, fields.traddr),
    canonicalTrsvcid(transport, fields.trsvcid ?? '', opts.role),
    canonicalSubsysnqn(fields.subsysnqn ?? '', opts.role),
    canonicalTransportAddress(transport, fields.hostTraddr ?? ''),
    fields.hostIface ?? '',
    fields.hostNqn ?? '',
    asciiLower(fields.hostId ?? ''),
  );
}

/**
 * Whether `createTid(fields, opts)` would give `tid` (the same key), without building it: the fields
 * are canonicalised and compared one by one, the most telling first, and no string is built for the
 * common spellings. For matching many controllers against TIDs already built.
 */
export function tidHasFields(tid: Tid, fields: TidInput, opts: { readonly role: TidRole }): boolean {
  const transport = checkedTransport(fields.transport);
  return (
    transport === tid.transport &&
    canonicalSubsysnqn(fields.subsysnqn ?? '', opts.role) === tid.subsysnqn &&
    canonicalTransportAddress(transport, fields.traddr) === tid.traddr &&
    canonicalTrsvcid(transport, fields.trsvcid ?? '', opts.role) === tid.trsvcid &&
    (fields.hostNqn ?? '') === tid.hostNqn &&
    (fields.hostIface ?? '') === tid.hostIface &&
    canonicalTransportAddress(transport, fields.hostTraddr ?? '') === tid.hostTraddr &&
    asciiLower(fields.hostId ?? '') === tid.hostId
  );
}

/** `%` and `|` escaped, so that joining with `|` is injective. Most parts hold neither: no regex then. */
function escapeKeyPart(text: string): string {
  if (text.indexOf('%') === -1 && text.indexOf('|') === -1) return text;
  return text.replace(/[%|]/g, (c) => (c === '%' ? '%25' : '%7C'));
}

/**
 * The key of tidKey(). Built with join, which makes one flat string: a chain of `+` makes a rope of
 * fifteen pieces, which every hash, comparison or sort of the key would flatten or walk.
 */
function keyOf(
  transport: string,
  traddr: string,
  trsvcid: string,
  subsysnqn: string,
  hostTraddr: string,
  hostIface: string,
  hostNqn: string,
  hostId: string,
): TidKey {
  return [
    escapeKeyPart(transport),
    escapeKeyPart(traddr),
    escapeKeyPart(trsvcid),
    escapeKeyPart(subsysnqn),
    escapeKeyPart(hostTraddr),
    escapeKeyPart(hostIface),
    escapeKeyPart(hostNqn),
    escapeKeyPart(hostId),
  ].join('|') as TidKey;
}

/**
 * The TID's key: its eight identity fields in a fixed order, each with `%`
 * and `|` percent-escaped, joined by `|`, e.g.
 * `tcp|10.0.0.1|8009|nqn.2014-08.org.nvmexpress.discovery|||nqn.host|<uuid>`.
 * For map keys, log bindings and the on-disk cache.
 */
export function tidKey(tid: Tid): TidKey {
  return tid.key;
}

/**
 * The start of the TID's key that names its target: transport, traddr, trsvcid and subsysnqn, with
 * the `|` after them. Equal for two TIDs exactly when those four fields are equal; and since keys
 * start with it, keys sharing one sort next to each other.
 */
export function tidTargetPrefix(tid: Tid): string {
  const key = tid.key;
  let end = -1;
  for (let field = 0; field < 4; field++) end = key.indexOf('|', end + 1); // a key always has seven
  return key.slice(0, end + 1);
}

export function tidEquals(a: Tid, b: Tid): boolean {
  return a.key === b.key;
}

/**
 * The nvme-stas display form: `(transport, traddr, trsvcid[, subsysnqn][, host-iface][, host-traddr])`.
 * Optional parts appear only when non-empty; host-iface precedes host-traddr; the host NQN and ID are
 * never shown. trsvcid is always shown, even empty (fc: `(fc, nn-1:pn-2, , nqn.x)`).
 */
export function formatTid(tid: Tid): string {
  const parts = [tid.transport, tid.traddr, tid.trsvcid];
  for (const optional of [tid.subsysnqn, tid.hostIface, tid.hostTraddr]) {
    if (optional !== '') parts.push(optional);
  }
  return `(${parts.join(', ')})`;
}

/**
 * The controller-ID dict of the D-Bus API (behaviour spec §2.3), in its key
 * order: traddr, trsvcid, transport, subsysnqn, host-iface, host-traddr,
 * host-nqn. The host ID is not part of that API and is left out.
 */
export function tidToDict(tid: Tid): Record<string, string> {
  return {
    traddr: tid.traddr,
    trsvcid: tid.trsvcid,
    transport: tid.transport,
    subsysnqn: tid.subsysnqn,
    'host-iface': tid.hostIface,
    'host-traddr': tid.hostTraddr,
    'host-nqn': tid.hostNqn,
  };
}

/** Filter keys (as written in `exclude=`) and the TID field each one tests. `nqn` is an alias. */
export const TID_FILTER_KEYS = {
  transport: 'transport',
  traddr: 'traddr',
  trsvcid: 'trsvcid',
  subsysnqn: 'subsysnqn',
  nqn: 'subsysnqn',
  'host-traddr': 'hostTraddr',
  'host-iface': 'hostIface',
  'host-nqn': 'hostNqn',
  'host-id': 'hostId',
} as const satisfies Record<string, keyof TidFields>;

export type TidFilterKey = keyof typeof TID_FILTER_KEYS;

export function isTidFilterKey(key: string): key is TidFilterKey {
  return Object.hasOwn(TID_FILTER_KEYS, key);
}

function isMap(
  filter: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
): filter is ReadonlyMap<string, string> {
  return filter instanceof Map;
}

function filterValueMatches(tid: Tid, key: string, value: string): boolean {
  if (!isTidFilterKey(key)) return false;
  const field = TID_FILTER_KEYS[key];
  switch (field) {
    case 'transport':
      return asciiLower(value) === tid.transport;
    case 'traddr':
    case 'hostTraddr':
      return canonicalTransportAddress(tid.transport, value) === tid[field];
    case 'trsvcid':
      return canonicalPort(value) === tid.trsvcid;
    case 'hostId':
      return asciiLower(value) === tid.hostId;
    case 'subsysnqn':
    case 'hostIface':
    case 'hostNqn':
      return value === tid[field];
  }
}

/**
 * Exclusion "minimal match": true when the filter has at least one key and
 * EVERY key matches the same field of the TID. Keys are those of
 * TID_FILTER_KEYS (lower case); a key outside that set never matches, so an
 * entry holding one matches nothing (a misspelt exclusion must not widen).
 * An empty filter matches nothing (nvme-stas matched everything: §9 C5).
 * Comparison: transport case-insensitive; traddr/host-traddr by canonical
 * form for the TID's transport (so `FE80::1%eth0` ≡ `fe80::1%eth0`,
 * `::ffff:1.2.3.4` ≡ `1.2.3.4`, host names case-insensitive); trsvcid as a
 * number when decimal; host-id case-insensitive; NQNs and host-iface exact.
 */
export function tidMatchesFilter(
  tid: Tid,
  filter: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
): boolean {
  const entries = isMap(filter) ? [...filter.entries()] : Object.entries(filter);
  if (entries.length === 0) return false;
  return entries.every(([key, value]) => filterValueMatches(tid, key, value));
}
