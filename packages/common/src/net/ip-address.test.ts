import { describe, expect, it } from 'vitest';
import { canonicalIp, ipEqual, isLinkLocal, isUnspecified, parseIpAddress } from './ip-address.js';

describe('parseIpAddress: IPv4', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['100.100.100.200', '100.100.100.200'],
  ])('accepts %s as %s', (input, text) => {
    expect(parseIpAddress(input)).toEqual({ family: 4, text });
  });

  it.each([
    '01.1.1.1',
    '1.1.1.01',
    '00.0.0.0',
    '256.1.1.1',
    '1.2.3',
    '1.2.3.4.5',
    '1..2.3',
    '1.2.3.4.',
    ' 1.2.3.4',
  ])('rejects %j', (input) => {
    expect(parseIpAddress(input)).toBeNull();
  });

  it('rejects a scope on an IPv4 address', () => {
    expect(parseIpAddress('1.2.3.4%eth0')).toBeNull();
  });
});

describe('parseIpAddress: IPv6 canonical text (RFC 5952)', () => {
  it.each([
    ['::1', '::1'],
    ['::', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // leftmost of two equal runs
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // longest run wins
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['1::', '1::'],
    ['FE80::aaaa:BBBB:cccc:dddd', 'fe80::aaaa:bbbb:cccc:dddd'],
    ['fe80:0000:0000:0000:aaaa:bbbb:cccc:dddd', 'fe80::aaaa:bbbb:cccc:dddd'],
  ])('%s → %s', (input, text) => {
    expect(parseIpAddress(input)).toEqual({ family: 6, text });
  });

  it('treats the deprecated IPv4-compatible form ::1.2.3.4 as IPv6, written in hex', () => {
    expect(parseIpAddress('::1.2.3.4')).toEqual({ family: 6, text: '::102:304' });
  });

  it('accepts a dotted-quad tail in the full form', () => {
    expect(parseIpAddress('64:ff9b:0:0:0:0:1.2.3.4')).toEqual({ family: 6, text: '64:ff9b::102:304' });
  });

  it.each([
    '',
    'not-an-ip',
    ':',
    ':::',
    '1:::2',
    '1::2::3',
    ':1::2',
    '1::2:',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '12345::1',
    'g::1',
    '1.2.3.4::',
    '::1.2.3.4:1',
    '::01.2.3.4',
    '[::1]',
    '::1/64',
  ])('rejects %j', (input) => {
    expect(parseIpAddress(input)).toBeNull();
  });
});

describe('parseIpAddress: IPv4-mapped IPv6', () => {
  it.each(['::ffff:1.2.3.4', '::FFFF:1.2.3.4', '::ffff:102:304', '0:0:0:0:0:ffff:0102:0304'])(
    'folds %s to the IPv4 address',
    (input) => {
      expect(parseIpAddress(input)).toEqual({ family: 4, text: '1.2.3.4' });
    },
  );

  it('drops a scope when folding (the kernel ignores it on non-link-local addresses)', () => {
    expect(parseIpAddress('::ffff:1.2.3.4%eth0')).toEqual({ family: 4, text: '1.2.3.4' });
  });
});

describe('parseIpAddress: scopes', () => {
  it('keeps the scope of a link-local address verbatim', () => {
    expect(parseIpAddress('fe80::1%eth0')).toEqual({ family: 6, text: 'fe80::1%eth0', scope: 'eth0' });
    expect(parseIpAddress('FE80::0001%Eth0')).toEqual({ family: 6, text: 'fe80::1%Eth0', scope: 'Eth0' });
    expect(parseIpAddress('fe80::1%2')?.text).toBe('fe80::1%2');
  });

  it('covers all of fe80::/10', () => {
    expect(parseIpAddress('febf::1%eth0')?.scope).toBe('eth0');
    expect(parseIpAddress('fec0::1%eth0')?.scope).toBeUndefined();
  });

  it('drops a scope on a global address', () => {
    expect(parseIpAddress('2001:db8::1%eth0')).toEqual({ family: 6, text: '2001:db8::1' });
  });

  it.each(['fe80::1%', 'fe80::1%a%b', 'fe80::1%eth 0', 'fe80::1%a/b', 'fe80::1%averyveryverylongname'])(
    'rejects the bad scope in %j',
    (input) => {
      expect(parseIpAddress(input)).toBeNull();
    },
  );
});

describe('canonicalIp', () => {
  it('returns the canonical text or null', () => {
    expect(canonicalIp('2001:0DB8::0001')).toBe('2001:db8::1');
    expect(canonicalIp('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(canonicalIp('host.example')).toBeNull();
  });
});

describe('ipEqual', () => {
  it.each([
    ['1.1.1.1', '1.1.1.1'],
    ['1.2.3.4', '::ffff:102:304'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['2001:db8::1', '2001:0DB8:0:0:0:0:0:1'],
    ['FE80::aaaa:BBBB:cccc:dddd', 'fe80::aaaa:bbbb:cccc:dddd'],
    ['fe80::1%eth0', 'FE80:0::1%eth0'],
  ])('%s equals %s', (a, b) => {
    expect(ipEqual(a, b)).toBe(true);
  });

  it.each([
    ['1.1.1.1', '1.1.1.2'],
    ['fe80::1%eth0', 'fe80::1%eth1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['::1.2.3.4', '1.2.3.4'],
    ['not-an-ip', 'not-an-ip'],
    ['', '1.1.1.1'],
  ])('%j differs from %j', (a, b) => {
    expect(ipEqual(a, b)).toBe(false);
  });

  it('accepts parsed values', () => {
    const a = parseIpAddress('::1');
    expect(a).not.toBeNull();
    if (a !== null) expect(ipEqual(a, '0::1')).toBe(true);
  });
});

describe('isLinkLocal / isUnspecified', () => {
  it('recognises link-local addresses of both families', () => {
    expect(isLinkLocal('fe80::1')).toBe(true);
    expect(isLinkLocal('fe80::1%eth0')).toBe(true);
    expect(isLinkLocal('169.254.1.2')).toBe(true);
    expect(isLinkLocal('2001:db8::1')).toBe(false);
    expect(isLinkLocal('10.0.0.1')).toBe(false);
    expect(isLinkLocal('garbage')).toBe(false);
  });

  it('recognises the unspecified addresses', () => {
    expect(isUnspecified('0.0.0.0')).toBe(true);
    expect(isUnspecified('::')).toBe(true);
    expect(isUnspecified('0:0:0:0:0:0:0:0')).toBe(true);
    expect(isUnspecified('::ffff:0.0.0.0')).toBe(true);
    expect(isUnspecified('::1')).toBe(false);
    expect(isUnspecified('')).toBe(false);
  });
});
