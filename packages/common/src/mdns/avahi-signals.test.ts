import { describe, expect, it } from 'vitest';
import { isTimeoutFailure, itemKey, parseFailure, parseFound, parseItem } from './avahi-signals.js';

const item = [3, 0, 'DC one', '_nvme-disc._tcp', 'local', 4];
const found = [
  3,
  1,
  'DC one',
  '_nvme-disc._tcp',
  'local',
  'dc.local',
  1,
  'fe80::1',
  8009,
  [Buffer.from('p=tcp')],
  0,
];

describe('avahi signals', () => {
  it('parses ItemNew / ItemRemove arguments', () => {
    expect(parseItem({ signature: 'iisssu', body: item })).toEqual({
      iface: 3,
      protocol: 0,
      name: 'DC one',
      type: '_nvme-disc._tcp',
      domain: 'local',
      flags: 4,
    });
  });

  it('refuses items with another signature, a negative index, an unknown protocol or control characters', () => {
    expect(parseItem({ signature: 'iissss', body: item })).toBeNull();
    expect(parseItem({ signature: 'iisssu', body: [-1, 0, 'a', 't', 'local', 0] })).toBeNull();
    expect(parseItem({ signature: 'iisssu', body: [1, 2, 'a', 't', 'local', 0] })).toBeNull();
    expect(parseItem({ signature: 'iisssu', body: [1, 0, 'a\u0000', 't', 'local', 0] })).toBeNull();
    expect(parseItem({ signature: 'iisssu', body: [1, 0, '', 't', 'local', 0] })).toBeNull();
  });

  it('parses Found with a canonical address and copied TXT data', () => {
    const parsed = parseFound({ signature: 'iissssisqaayu', body: found });
    expect(parsed).toMatchObject({
      iface: 3,
      protocol: 1,
      host: 'dc.local',
      aprotocol: 1,
      address: 'fe80::1',
      port: 8009,
    });
    expect(parsed?.txt.map((t) => Buffer.from(t).toString())).toEqual(['p=tcp']);
  });

  it('refuses Found with a bad address, port or TXT', () => {
    const bad = (index: number, value: unknown) =>
      parseFound({ signature: 'iissssisqaayu', body: found.map((v, i) => (i === index ? value : v)) });
    expect(bad(7, 'dc.local')).toBeNull();
    expect(bad(7, 'fe80::1%eth0')).toBeNull();
    expect(bad(8, 0)).toBeNull();
    expect(bad(9, ['p=tcp'])).toBeNull();
    expect(bad(9, [Buffer.alloc(256)])).toBeNull();
    expect(bad(6, 5)).toBeNull();
    expect(parseFound({ signature: 'iisssu', body: item })).toBeNull();
  });

  it('parses Failure and tells a timeout from an error', () => {
    expect(parseFailure({ signature: 's', body: ['org.freedesktop.Avahi.TimeoutError'] })).toBe(
      'org.freedesktop.Avahi.TimeoutError',
    );
    expect(parseFailure({ signature: 'i', body: [1] })).toBeNull();
    expect(isTimeoutFailure('org.freedesktop.Avahi.TimeoutError')).toBe(true);
    expect(isTimeoutFailure('Timeout reached')).toBe(true);
    expect(isTimeoutFailure('org.freedesktop.Avahi.NotFoundError')).toBe(false);
  });

  it('keys items by interface, protocol, name, type and domain, ignoring case', () => {
    const a = parseItem({ signature: 'iisssu', body: item })!;
    const b = parseItem({ signature: 'iisssu', body: [3, 0, 'dc ONE', '_NVME-disc._tcp', 'Local', 0] })!;
    const c = parseItem({ signature: 'iisssu', body: [3, 1, 'DC one', '_nvme-disc._tcp', 'local', 0] })!;
    expect(itemKey(a)).toBe(itemKey(b));
    expect(itemKey(a)).not.toBe(itemKey(c));
  });
});
