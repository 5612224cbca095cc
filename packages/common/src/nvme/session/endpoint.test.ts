import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { StasError } from '../../errors.js';
import { formatPeer, parsePort, resolveEndpoint, type InterfaceTable } from './endpoint.js';

function nic(address: string, family: 'IPv4' | 'IPv6', scopeid?: number): NetworkInterfaceInfo {
  const base = { address, netmask: '', mac: '00:00:00:00:00:00', internal: false, cidr: null };
  return family === 'IPv4' ? { ...base, family } : { ...base, family, scopeid: scopeid ?? 0 };
}

const TABLE: InterfaceTable = {
  eth0: [nic('192.0.2.5', 'IPv4'), nic('2001:db8::5', 'IPv6'), nic('fe80::5', 'IPv6', 2)],
  eth1: [nic('198.51.100.7', 'IPv4')],
};

function badOption(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof StasError && err.code === 'NVME_BAD_OPTION') return err.message;
    throw err;
  }
  throw new Error('no error');
}

describe('resolveEndpoint', () => {
  it('defaults the port to 8009 and formats IPv4 and IPv6 peers', () => {
    expect(resolveEndpoint({ traddr: '192.0.2.1' }, {})).toEqual({
      host: '192.0.2.1',
      port: 8009,
      family: 4,
      localAddress: undefined,
      peer: '192.0.2.1:8009',
    });
    const v6 = resolveEndpoint({ traddr: '2001:DB8:0::1', trsvcid: '4420' }, {});
    expect(v6).toMatchObject({ host: '2001:db8::1', port: 4420, family: 6, peer: '[2001:db8::1]:4420' });
  });

  it('binds to host-traddr when given', () => {
    expect(resolveEndpoint({ traddr: '192.0.2.1', hostTraddr: '192.0.2.9' }, {}).localAddress).toBe(
      '192.0.2.9',
    );
  });

  it('pins host-iface by binding to an address of that interface, of the right family', () => {
    expect(resolveEndpoint({ traddr: '192.0.2.1', hostIface: 'eth0' }, TABLE).localAddress).toBe('192.0.2.5');
    expect(resolveEndpoint({ traddr: '2001:db8::1', hostIface: 'eth0' }, TABLE).localAddress).toBe(
      '2001:db8::5',
    );
  });

  it('scopes a link-local destination to host-iface and binds to the link-local address', () => {
    const ep = resolveEndpoint({ traddr: 'fe80::1', hostIface: 'eth0' }, TABLE);
    expect(ep).toMatchObject({
      host: 'fe80::1%eth0',
      localAddress: 'fe80::5%eth0',
      peer: '[fe80::1%eth0]:8009',
    });
  });

  it('accepts host-traddr that belongs to host-iface and refuses one that does not', () => {
    expect(
      resolveEndpoint({ traddr: '192.0.2.1', hostIface: 'eth0', hostTraddr: '192.0.2.5' }, TABLE)
        .localAddress,
    ).toBe('192.0.2.5');
    expect(
      badOption(() =>
        resolveEndpoint({ traddr: '192.0.2.1', hostIface: 'eth0', hostTraddr: '192.0.2.6' }, TABLE),
      ),
    ).toContain('is not an address of host-iface eth0');
  });

  it('refuses unusable values with NVME_BAD_OPTION', () => {
    expect(badOption(() => resolveEndpoint({ traddr: 'dc.example.com' }, {}))).toContain(
      'not an IPv4 or IPv6 address',
    );
    expect(badOption(() => resolveEndpoint({ traddr: '192.0.2.1', trsvcid: '70000' }, {}))).toContain(
      'not a TCP port',
    );
    expect(badOption(() => resolveEndpoint({ traddr: '192.0.2.1', hostIface: 'eth9' }, TABLE))).toContain(
      'no such interface',
    );
    expect(badOption(() => resolveEndpoint({ traddr: '2001:db8::1', hostIface: 'eth1' }, TABLE))).toContain(
      'has no IPv6 address',
    );
    expect(badOption(() => resolveEndpoint({ traddr: 'fe80::1' }, TABLE))).toContain('link-local');
    expect(badOption(() => resolveEndpoint({ traddr: 'fe80::1%eth1', hostIface: 'eth0' }, TABLE))).toContain(
      'scoped to eth1',
    );
    expect(
      badOption(() => resolveEndpoint({ traddr: '192.0.2.1', hostTraddr: '2001:db8::5' }, {})),
    ).toContain('is IPv6');
  });
});

describe('parsePort / formatPeer', () => {
  it('parses decimal ports only', () => {
    expect(parsePort(undefined)).toBe(8009);
    expect(parsePort(' 4420 ')).toBe(4420);
    expect(() => parsePort('0x10')).toThrow(StasError);
    expect(() => parsePort(0)).toThrow(StasError);
  });

  it('brackets IPv6 hosts', () => {
    expect(formatPeer('::1', 8009)).toBe('[::1]:8009');
    expect(formatPeer('10.0.0.1', '4420')).toBe('10.0.0.1:4420');
  });
});
