/**
 * IP address literals: parse, canonicalise, compare.
 *
 * Pure: text in, value out. No sockets, no node:net, no logging. Every
 * function is total: unusable text gives `null` (or `false`), never a throw.
 *
 * Canonical text (what `IpAddress.text` holds, and what stas compares, keys
 * and shows):
 * - IPv4: dotted quad, decimal, no leading zeros. Input with leading zeros
 *   (`01.1.1.1`) is rejected, as Python's `ipaddress` does: some tools read it
 *   as octal, so its meaning is ambiguous.
 * - IPv6: RFC 5952: lower-case hex, no leading zeros in a group, the longest
 *   run (leftmost on a tie) of two or more zero groups written `::`. Always
 *   plain hex, never mixed notation: `::1.2.3.4` (deprecated "IPv4-compatible")
 *   is accepted as input and becomes `::102:304`, still family 6.
 * - IPv4-mapped IPv6 (`::ffff:a.b.c.d`, any spelling) FOLDS to the IPv4
 *   address (family 4). Deliberate: it is the same peer, and nvme-stas counted
 *   it as IPv6 in the ip-family filter and failed to match it in exclude=
 *   (behaviour spec §9 F22, nvme-stas PR #515).
 * - `%scope` is only accepted on IPv6. It is kept verbatim (interface names
 *   are case-sensitive) on link-local addresses (fe80::/10), where it takes
 *   part in equality. On any other IPv6 address it is accepted and dropped,
 *   because the kernel ignores it there (inet6_pton reads the scope only for
 *   link-local); a mapped address therefore loses it too. The scope must be a
 *   usable interface name or index (see ifname.ts).
 * - No surrounding blanks, brackets, prefix lengths or ports are accepted.
 *
 * Tests: ip-address.test.ts, ip-address.prop.test.ts
 */
import { isValidIfName } from './ifname.js';

export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  /** Canonical text, including `%scope` for a scoped link-local IPv6 address. */
  readonly text: string;
  /** The scope (interface name or index) of a link-local IPv6 address, verbatim. */
  readonly scope?: string;
}

const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const DOT = 0x2e;

/**
 * The 32-bit value of a dotted quad, or -1. Accepts exactly four dot-separated
 * octets, each `0` or 1–3 decimal digits without a leading zero, at most 255.
 * A hand-rolled scan (no split, no regex): this runs once per address field of
 * every TID built. Anything it accepts is already canonical text.
 */
function parseIpv4Value(text: string): number {
  const length = text.length;
  if (length < 7 || length > 15) return -1;
  let value = 0;
  let octets = 0;
  let i = 0;
  for (;;) {
    const start = i;
    let octet = 0;
    while (i < length) {
      const c = text.charCodeAt(i);
      if (c < DIGIT_0 || c > DIGIT_9) break;
      octet = octet * 10 + (c - DIGIT_0);
      i++;
    }
    const digits = i - start;
    if (digits === 0 || digits > 3 || octet > 255) return -1;
    if (digits > 1 && text.charCodeAt(start) === DIGIT_0) return -1; // leading zero
    value = value * 256 + octet;
    octets++;
    if (octets === 4) return i === length ? value : -1;
    if (i === length || text.charCodeAt(i) !== DOT) return -1;
    i++;
  }
}

/** Parse the hex (and optional trailing dotted-quad) pieces of one side of `::` into 16-bit groups. */
function parseIpv6Pieces(pieces: readonly string[], allowIpv4Tail: boolean): number[] | null {
  const groups: number[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] ?? '';
    if (IPV6_GROUP.test(piece)) {
      groups.push(Number.parseInt(piece, 16));
      continue;
    }
    if (allowIpv4Tail && i === pieces.length - 1) {
      const value = parseIpv4Value(piece);
      if (value === -1) return null;
      groups.push(Math.floor(value / 0x10000), value % 0x10000);
      continue;
    }
    return null;
  }
  return groups;
}

/** Eight 16-bit groups, or null. */
function parseIpv6Groups(text: string): number[] | null {
  if (text === '') return null;
  const gap = text.indexOf('::');
  if (gap === -1) {
    const groups = parseIpv6Pieces(text.split(':'), true);
    return groups !== null && groups.length === 8 ? groups : null;
  }
  if (text.indexOf('::', gap + 1) !== -1) return null;
  const headText = text.slice(0, gap);
  const tailText = text.slice(gap + 2);
  const head = headText === '' ? [] : parseIpv6Pieces(headText.split(':'), false);
  const tail = tailText === '' ? [] : parseIpv6Pieces(tailText.split(':'), true);
  if (head === null || tail === null) return null;
  // `::` stands for at least one zero group.
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

/** RFC 5952 text of eight groups. */
function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1; // a single zero group is never compressed
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}

function isMapped(groups: readonly number[]): boolean {
  for (let i = 0; i < 5; i++) if (groups[i] !== 0) return false;
  return groups[5] === 0xffff;
}

function isLinkLocalGroups(groups: readonly number[]): boolean {
  return ((groups[0] ?? 0) & 0xffc0) === 0xfe80;
}

/** Parse an IPv4 or IPv6 literal into its canonical form (see the module header); null if it is not one. */
export function parseIpAddress(text: string): IpAddress | null {
  const percent = text.indexOf('%');
  const address = percent === -1 ? text : text.slice(0, percent);
  const scope = percent === -1 ? undefined : text.slice(percent + 1);

  if (!address.includes(':')) {
    if (scope !== undefined) return null; // a scope only makes sense on IPv6
    // Every dotted quad parseIpv4Value accepts is already canonical: keep the text.
    return parseIpv4Value(address) === -1 ? null : Object.freeze({ family: 4, text: address });
  }

  const groups = parseIpv6Groups(address);
  if (groups === null) return null;
  if (scope !== undefined && (scope.includes('%') || !isValidIfName(scope))) return null;
  if (isMapped(groups)) {
    const hi = groups[6] ?? 0;
    const lo = groups[7] ?? 0;
    return Object.freeze({ family: 4, text: `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}` });
  }
  const plain = formatIpv6(groups);
  if (scope !== undefined && isLinkLocalGroups(groups)) {
    return Object.freeze({ family: 6, text: `${plain}%${scope}`, scope });
  }
  return Object.freeze({ family: 6, text: plain });
}

/**
 * The canonical text of an IP literal, or null if `text` is not one. Text without ':' can only be a
 * dotted quad (no '%' either), which is its own canonical text: no IpAddress is built for it.
 */
export function canonicalIp(text: string): string | null {
  if (text.indexOf(':') === -1) return parseIpv4Value(text) === -1 ? null : text;
  return parseIpAddress(text)?.text ?? null;
}

function toAddress(value: IpAddress | string): IpAddress | null {
  return typeof value === 'string' ? parseIpAddress(value) : value;
}

/**
 * True when both are IP addresses and name the same one (scope included;
 * IPv4-mapped IPv6 equals its IPv4). Unparsable text never equals anything,
 * not even itself.
 */
export function ipEqual(a: IpAddress | string, b: IpAddress | string): boolean {
  const x = toAddress(a);
  const y = toAddress(b);
  return x !== null && y !== null && x.family === y.family && x.text === y.text;
}

/**
 * Link-local: IPv6 fe80::/10 or IPv4 169.254.0.0/16. Only the IPv6 kind can
 * (and for a connection, must) carry a `%scope`.
 */
export function isLinkLocal(value: IpAddress | string): boolean {
  const ip = toAddress(value);
  if (ip === null) return false;
  if (ip.family === 4) return ip.text.startsWith('169.254.');
  const groups = parseIpv6Groups(ip.scope === undefined ? ip.text : ip.text.slice(0, ip.text.indexOf('%')));
  return groups !== null && isLinkLocalGroups(groups);
}

/** The unspecified address: 0.0.0.0 or :: (also ::ffff:0.0.0.0, which folds to 0.0.0.0). */
export function isUnspecified(value: IpAddress | string): boolean {
  const text = typeof value === 'string' ? canonicalIp(value) : value.text;
  return text === '0.0.0.0' || text === '::';
}
