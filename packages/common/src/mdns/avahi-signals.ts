/**
 * avahi-daemon's D-Bus API as the avahi browser uses it (avahi 0.8, `org.freedesktop.Avahi`): names,
 * constants, and the checking of the signals it sends, which are input from another process and are
 * checked value by value before use.
 *
 * Pure and total: parsers return null for a body that does not fit (wrong signature, out-of-range
 * numbers, an address that is not an IP literal, oversized TXT data).
 * - ServiceBrowser.ItemNew / ItemRemove `(i interface, i protocol, s name, s type, s domain, u flags)`
 * - ServiceResolver.Found `(i interface, i protocol, s name, s type, s domain, s host, i aprotocol,
 *   s address, q port, aay txt, u flags)`; IPv6 link-local addresses come without their scope (the
 *   interface index is the scope; dc-candidate.ts adds it).
 * - ServiceBrowser.Failure / ServiceResolver.Failure `(s error)`: the error is avahi's D-Bus error
 *   name, e.g. `org.freedesktop.Avahi.TimeoutError` for a resolver that got no answer (a stale cache
 *   entry; not an error for us).
 *
 * Tests: avahi-signals.test.ts
 */
import { parseIpAddress } from '../net/ip-address.js';
import { MAX_TXT_STRINGS } from './mdns-records.js';

export const AVAHI = {
  name: 'org.freedesktop.Avahi',
  serverPath: '/',
  server: 'org.freedesktop.Avahi.Server',
  server2: 'org.freedesktop.Avahi.Server2',
  serviceBrowser: 'org.freedesktop.Avahi.ServiceBrowser',
  serviceResolver: 'org.freedesktop.Avahi.ServiceResolver',
} as const;

export const AVAHI_IF_UNSPEC = -1;
export const AVAHI_PROTO = { unspec: -1, inet: 0, inet6: 1 } as const;
/** AVAHI_LOOKUP_USE_MULTICAST: browse/resolve with mDNS only (no wide-area DNS-SD). */
export const AVAHI_LOOKUP_USE_MULTICAST = 2;

export interface AvahiItem {
  /** Interface index. */
  readonly iface: number;
  /** AVAHI_PROTO.inet or inet6: the protocol the item was browsed on. */
  readonly protocol: 0 | 1;
  readonly name: string;
  readonly type: string;
  readonly domain: string;
  readonly flags: number;
}

export interface AvahiFound extends AvahiItem {
  readonly host: string;
  /** The family of `address` (AVAHI_PROTO.inet or inet6). */
  readonly aprotocol: 0 | 1;
  /** Canonical IP text, without scope. */
  readonly address: string;
  readonly port: number;
  readonly txt: readonly Uint8Array[];
}

export interface SignalLike {
  readonly signature: string;
  readonly body: readonly unknown[];
}

const MAX_TEXT = 1024;

function isInt32(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff;
}

function isUint32(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_TEXT && !/\p{Cc}/u.test(value);
}

function isProtocol(value: unknown): value is 0 | 1 {
  return value === AVAHI_PROTO.inet || value === AVAHI_PROTO.inet6;
}

function itemOf(body: readonly unknown[]): AvahiItem | null {
  const [iface, protocol, name, type, domain] = body;
  const flags = body[body.length - 1];
  if (!isInt32(iface) || iface < 0 || !isProtocol(protocol)) return null;
  if (!isText(name) || !isText(type) || !isText(domain) || !isUint32(flags)) return null;
  return { iface, protocol, name, type, domain, flags };
}

/** ItemNew / ItemRemove arguments, or null. */
export function parseItem(signal: SignalLike): AvahiItem | null {
  if (signal.signature !== 'iisssu' || signal.body.length !== 6) return null;
  return itemOf(signal.body);
}

function txtOf(value: unknown): Uint8Array[] | null {
  if (!Array.isArray(value) || value.length > MAX_TXT_STRINGS) return null;
  const items: Uint8Array[] = [];
  for (const item of value as unknown[]) {
    if (!(item instanceof Uint8Array) || item.length > 255) return null;
    items.push(new Uint8Array(item));
  }
  return items;
}

/** ServiceResolver.Found arguments, or null. */
export function parseFound(signal: SignalLike): AvahiFound | null {
  if (signal.signature !== 'iissssisqaayu' || signal.body.length !== 11) return null;
  const item = itemOf(signal.body);
  if (item === null) return null;
  const [, , , , , host, aprotocol, address, port, txtRaw] = signal.body;
  if (!isText(host) || !isProtocol(aprotocol) || typeof address !== 'string') return null;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 0xffff) return null;
  const ip = parseIpAddress(address.trim());
  // (An IPv4-mapped IPv6 address folds to IPv4 here, whatever `aprotocol` says.)
  if (ip === null || ip.scope !== undefined) return null;
  const txt = txtOf(txtRaw);
  if (txt === null) return null;
  return { ...item, host, aprotocol, address: ip.text, port, txt };
}

/** The text of a Failure signal, or null. */
export function parseFailure(signal: SignalLike): string | null {
  if (signal.signature !== 's' || signal.body.length !== 1) return null;
  const [text] = signal.body;
  return typeof text === 'string' ? text.slice(0, MAX_TEXT) : null;
}

/** A resolver that simply got no answer (a stale entry): not an error. */
export function isTimeoutFailure(text: string): boolean {
  return /timeout/i.test(text);
}

/** The identity of a browsed item: (interface, protocol, name, type, domain); names compare case-insensitively. */
export function itemKey(item: AvahiItem): string {
  const lower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return `${item.iface}\0${item.protocol}\0${lower(item.name)}\0${lower(item.type)}\0${lower(item.domain)}`;
}
