/**
 * mDNS resource records as the embedded browser uses them: hostile network input (records decoded by
 * dns-packet, so `unknown`) checked field by field into a small typed union, and the questions the
 * browser asks.
 *
 * Pure and total: `checkRecord` never throws. Only PTR, SRV, TXT, A and AAAA of class IN are kept;
 * other types are `ignored`; anything malformed is `invalid` with a reason. Rules:
 * - names: 1..254 characters, no empty label, no control characters, no U+FFFD (what dns-packet makes
 *   of bytes that are not UTF-8); host names (SRV targets, A/AAAA owners) also have labels of at most
 *   63 bytes. Names are compared case-insensitively through `lname` (ASCII lower case, RFC 1035 §2.3.3).
 * - TTL: an integer; clamped to MAX_TTL_S. 0 is a goodbye (RFC 6762 §10.1).
 * - SRV: port 1..65535, priority and weight 0..65535.
 * - TXT: at most MAX_TXT_STRINGS strings of at most 255 bytes each; copied out of the packet buffer.
 * - A / AAAA: a unicast address of the record's family (not unspecified, loopback or multicast;
 *   an IPv4-mapped AAAA is refused).
 *
 * Tests: mdns-records.test.ts, mdns-records.prop.test.ts
 */
import { parseIpAddress } from '../net/ip-address.js';

/** Longest TTL we believe (1 day); longer ones are clamped. */
export const MAX_TTL_S = 86_400;
export const MAX_TXT_STRINGS = 256;
const MAX_NAME_CHARS = 254;
const MAX_LABEL_BYTES = 63;

interface RecordBase {
  /** Owner name as received. */
  readonly name: string;
  /** Owner name in ASCII lower case: the comparison key. */
  readonly lname: string;
  /** Seconds; 0 = goodbye. */
  readonly ttl: number;
  /** The cache-flush bit (RFC 6762 §10.2). */
  readonly flush: boolean;
}

export type MdnsRecord =
  | (RecordBase & { readonly type: 'PTR'; readonly target: string })
  | (RecordBase & {
      readonly type: 'SRV';
      readonly port: number;
      readonly host: string;
      readonly priority: number;
      readonly weight: number;
    })
  | (RecordBase & { readonly type: 'TXT'; readonly items: readonly Uint8Array[] })
  | (RecordBase & { readonly type: 'A' | 'AAAA'; readonly address: string });

export type MdnsRecordType = MdnsRecord['type'];

export type RecordCheck =
  | { readonly kind: 'record'; readonly record: MdnsRecord }
  | { readonly kind: 'ignored' }
  | { readonly kind: 'invalid'; readonly problem: string };

export interface MdnsQuestion {
  readonly name: string;
  readonly type: MdnsRecordType;
}

/** ASCII-only lower case: DNS names compare case-insensitively in ASCII only. */
export function lowerName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

const CONTROL = /[\p{Cc}\uFFFD]/u;
const encoder = new TextEncoder();

/** A name as dns-packet decodes it (labels joined by `.`), usable as a DNS-SD owner name. */
export function isValidName(name: unknown): name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_CHARS) return false;
  if (CONTROL.test(name)) return false;
  return !name.split('.').some((label) => label.length === 0);
}

/** A host name: a valid name whose labels are 1..63 bytes. */
export function isValidHostName(name: unknown): name is string {
  if (!isValidName(name)) return false;
  return name.split('.').every((label) => encoder.encode(label).length <= MAX_LABEL_BYTES);
}

function isUint16(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff;
}

function field(object: object, key: string): unknown {
  return (object as Record<string, unknown>)[key];
}

function checkAddress(type: 'A' | 'AAAA', data: unknown): string | null {
  if (typeof data !== 'string') return null;
  const ip = parseIpAddress(data);
  if (ip === null || ip.family !== (type === 'A' ? 4 : 6) || ip.scope !== undefined) return null;
  const text = ip.text;
  if (ip.family === 4) {
    const first = Number(text.split('.')[0]);
    if (text === '0.0.0.0' || first === 127 || first >= 224) return null;
  } else if (text === '::' || text === '::1' || /^ff[0-9a-f]{2}:/.test(text)) {
    return null;
  }
  return text;
}

function checkTxt(data: unknown): Uint8Array[] | null {
  const list: unknown[] = Array.isArray(data) ? (data as unknown[]) : [data];
  if (list.length > MAX_TXT_STRINGS) return null;
  const items: Uint8Array[] = [];
  for (const item of list) {
    if (!(item instanceof Uint8Array) || item.length > 255) return null;
    items.push(new Uint8Array(item)); // a copy: do not keep the whole packet alive
  }
  return items;
}

/** Check one decoded answer/additional record. */
export function checkRecord(raw: unknown): RecordCheck {
  if (typeof raw !== 'object' || raw === null) return { kind: 'invalid', problem: 'not a record' };
  const type = field(raw, 'type');
  if (type !== 'PTR' && type !== 'SRV' && type !== 'TXT' && type !== 'A' && type !== 'AAAA') {
    return { kind: 'ignored' };
  }
  if (field(raw, 'class') !== 'IN') return { kind: 'ignored' };
  const name = field(raw, 'name');
  const hostOwner = type === 'A' || type === 'AAAA';
  if (typeof name !== 'string' || !(hostOwner ? isValidHostName(name) : isValidName(name))) {
    return { kind: 'invalid', problem: `${type} record with an unusable owner name` };
  }
  const ttlRaw = field(raw, 'ttl');
  if (typeof ttlRaw !== 'number' || !Number.isInteger(ttlRaw) || ttlRaw < 0) {
    return { kind: 'invalid', problem: `${type} ${name}: bad TTL` };
  }
  const base: RecordBase = {
    name,
    lname: lowerName(name),
    ttl: Math.min(ttlRaw, MAX_TTL_S),
    flush: field(raw, 'flush') === true,
  };
  const data = field(raw, 'data');
  switch (type) {
    case 'PTR':
      if (!isValidName(data)) return { kind: 'invalid', problem: `PTR ${name}: unusable target` };
      return { kind: 'record', record: { ...base, type, target: data } };
    case 'SRV': {
      if (typeof data !== 'object' || data === null) {
        return { kind: 'invalid', problem: `SRV ${name}: no data` };
      }
      const port = field(data, 'port');
      const host = field(data, 'target');
      const priority = field(data, 'priority') ?? 0;
      const weight = field(data, 'weight') ?? 0;
      if (!isUint16(port) || port === 0) return { kind: 'invalid', problem: `SRV ${name}: bad port` };
      if (!isUint16(priority) || !isUint16(weight)) {
        return { kind: 'invalid', problem: `SRV ${name}: bad priority or weight` };
      }
      if (!isValidHostName(host)) return { kind: 'invalid', problem: `SRV ${name}: unusable target` };
      return { kind: 'record', record: { ...base, type, port, host, priority, weight } };
    }
    case 'TXT': {
      const items = checkTxt(data);
      if (items === null) return { kind: 'invalid', problem: `TXT ${name}: malformed strings` };
      return { kind: 'record', record: { ...base, type, items } };
    }
    case 'A':
    case 'AAAA': {
      const address = checkAddress(type, data);
      if (address === null) return { kind: 'invalid', problem: `${type} ${name}: unusable address` };
      return { kind: 'record', record: { ...base, type, address } };
    }
  }
}

/** The identity of a record within its owner name and type (what makes two records "the same"). */
export function rdataKey(record: MdnsRecord): string {
  switch (record.type) {
    case 'PTR':
      return lowerName(record.target);
    case 'SRV':
      return `${record.priority} ${record.weight} ${record.port} ${lowerName(record.host)}`;
    case 'TXT':
      return record.items.map((item) => Buffer.from(item).toString('hex')).join(' ');
    case 'A':
    case 'AAAA':
      return record.address;
  }
}

/** At most this many records of one packet are looked at. */
export const MAX_RECORDS_PER_PACKET = 256;

export type ResponseCheck =
  | { readonly ok: true; readonly records: readonly MdnsRecord[]; readonly invalid: readonly string[] }
  | { readonly ok: false; readonly problem: string };

/**
 * The usable records of a decoded response packet from UDP port `sourcePort`: answers and additional
 * records (RFC 6762 §6, §11: only from port 5353, opcode QUERY, rcode 0).
 */
export function checkResponse(packet: unknown, sourcePort: number): ResponseCheck {
  if (sourcePort !== 5353) return { ok: false, problem: `source port ${sourcePort} is not 5353` };
  if (typeof packet !== 'object' || packet === null) return { ok: false, problem: 'not a packet' };
  if (field(packet, 'type') !== 'response') return { ok: false, problem: 'not a response' };
  if (field(packet, 'opcode') !== 'QUERY') return { ok: false, problem: 'opcode is not QUERY' };
  if (field(packet, 'rcode') !== 'NOERROR') return { ok: false, problem: 'rcode is not 0' };
  const list = (key: string): unknown[] => {
    const value = field(packet, key);
    return Array.isArray(value) ? (value as unknown[]) : [];
  };
  const records: MdnsRecord[] = [];
  const invalid: string[] = [];
  for (const raw of [...list('answers'), ...list('additionals')].slice(0, MAX_RECORDS_PER_PACKET)) {
    const check = checkRecord(raw);
    if (check.kind === 'record') records.push(check.record);
    else if (check.kind === 'invalid') invalid.push(check.problem);
  }
  return { ok: true, records, invalid };
}
