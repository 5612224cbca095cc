import { describe, expect, it } from 'vitest';
import {
  addressBits,
  attributeSource,
  inNetwork,
  mdnsInterfaces,
  socketSignature,
} from './mdns-interfaces.js';

const v4 = (address: string, prefix: number) => ({
  address,
  family: 'IPv4',
  internal: false,
  cidr: `${address}/${prefix}`,
});
const v6 = (address: string, prefix: number) => ({
  address,
  family: 'IPv6',
  internal: false,
  cidr: `${address}/${prefix}`,
});

const TABLE = {
  lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true, cidr: '127.0.0.1/8' }],
  eth1: [v4('10.1.0.2', 24), v6('fd00:1::2', 64), v6('fe80::1:2', 64)],
  eth2: [v4('10.2.0.2', 24), v4('10.3.0.2', 24)],
  ib0: [v6('fe80::9', 64)],
  'bad,name': [v4('10.9.0.2', 24)],
  gone: undefined,
};

describe('mdnsInterfaces', () => {
  it('lists non-loopback interfaces with a valid name, with their first IPv4 address and IPv6 presence', () => {
    const list = mdnsInterfaces(TABLE);
    expect(list.map((i) => [i.name, i.ipv4, i.ipv6])).toEqual([
      ['eth1', '10.1.0.2', true],
      ['eth2', '10.2.0.2', false],
      ['ib0', undefined, true],
    ]);
    expect(list[1]?.networks).toEqual([
      { family: 4, address: '10.2.0.2', prefix: 24 },
      { family: 4, address: '10.3.0.2', prefix: 24 },
    ]);
  });

  it('accepts the numeric families of old Node versions and addresses without a prefix', () => {
    const list = mdnsInterfaces({ eth0: [{ address: '10.0.0.1', family: 4, internal: false, cidr: null }] });
    expect(list[0]?.networks).toEqual([{ family: 4, address: '10.0.0.1', prefix: 32 }]);
  });

  it('changes the socket signature when the IPv4 address or IPv6 presence changes', () => {
    const [before] = mdnsInterfaces({ eth0: [v4('10.0.0.1', 24)] });
    const [after] = mdnsInterfaces({ eth0: [v4('10.0.0.2', 24), v6('fe80::1', 64)] });
    expect(socketSignature(before!)).toBe('eth0 10.0.0.1 -');
    expect(socketSignature(after!)).toBe('eth0 10.0.0.2 6');
  });
});

describe('addresses and networks', () => {
  it('turns addresses into numbers', () => {
    expect(addressBits('10.0.0.1')).toBe(0x0a000001n);
    expect(addressBits('::1')).toBe(1n);
    expect(addressBits('fd00::1:2')).toBe((0xfd00n << 112n) | 0x10002n);
    expect(addressBits('fe80::1%eth0')).toBe((0xfe80n << 112n) | 1n);
    expect(addressBits('nonsense')).toBeNull();
  });

  it('tests prefix membership', () => {
    expect(inNetwork('10.1.0.77', 4, { family: 4, address: '10.1.0.2', prefix: 24 })).toBe(true);
    expect(inNetwork('10.1.1.77', 4, { family: 4, address: '10.1.0.2', prefix: 24 })).toBe(false);
    expect(inNetwork('fd00:1::99', 6, { family: 6, address: 'fd00:1::2', prefix: 64 })).toBe(true);
    expect(inNetwork('fd00:2::99', 6, { family: 6, address: 'fd00:1::2', prefix: 64 })).toBe(false);
    expect(inNetwork('10.1.0.77', 4, { family: 6, address: 'fd00:1::2', prefix: 0 })).toBe(false);
  });
});

describe('attributeSource', () => {
  const list = mdnsInterfaces(TABLE);

  it('uses the scope of an IPv6 link-local source', () => {
    expect(attributeSource('fe80::77%ib0', list)).toEqual(['ib0']);
    expect(attributeSource('fe80::77%eth9', list)).toEqual([]);
  });

  it('finds the interface whose prefix holds the source, for IPv4 and routable IPv6', () => {
    expect(attributeSource('10.3.0.9', list)).toEqual(['eth2']);
    expect(attributeSource('fd00:1::9', list)).toEqual(['eth1']);
    expect(attributeSource('::ffff:10.1.0.9', list)).toEqual(['eth1']);
  });

  it('falls back to the only interface of that family, else to none', () => {
    const single = mdnsInterfaces({ eth0: [v4('10.0.0.1', 24)] });
    expect(attributeSource('169.254.1.1', single)).toEqual(['eth0']);
    expect(attributeSource('169.254.1.1', list)).toEqual([]);
    expect(attributeSource('garbage', list)).toEqual([]);
  });

  it('reports every interface that holds the prefix', () => {
    const twin = mdnsInterfaces({ a: [v4('10.0.0.1', 24)], b: [v4('10.0.0.2', 24)] });
    expect(attributeSource('10.0.0.9', twin)).toEqual(['a', 'b']);
  });
});
