import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { firstAddressOf, interfaceOwning, interfacesFromNode, readInterfaces } from './net-interfaces.js';

function v4(address: string): NetworkInterfaceInfo {
  return {
    address,
    netmask: '255.255.255.0',
    family: 'IPv4',
    mac: '00:00:00:00:00:00',
    internal: false,
    cidr: null,
  };
}
function v6(address: string, scopeid = 0): NetworkInterfaceInfo {
  return {
    address,
    netmask: 'ffff:ffff:ffff:ffff::',
    family: 'IPv6',
    mac: '00:00:00:00:00:00',
    internal: false,
    cidr: null,
    scopeid,
  };
}

const IFACES = interfacesFromNode({
  lo: [v4('127.0.0.1'), v6('::1')],
  eth0: [v4('10.0.0.5'), v6('fe80::1', 2), v6('2001:db8::5')],
  'eth0:1': [v4('10.0.1.5')],
  v6only: [v6('2001:DB8:0:0::7'), v6('fe80::7', 4)],
  eth1: [v4('192.168.1.5')],
});

describe('interfacesFromNode', () => {
  it('keeps IPv6-only interfaces (F8) and folds alias labels into their device', () => {
    expect([...IFACES.keys()].sort()).toEqual(['eth0', 'eth1', 'lo', 'v6only']);
    expect(IFACES.get('eth0')?.map((a) => a.text)).toEqual([
      '10.0.0.5',
      'fe80::1%eth0',
      '2001:db8::5',
      '10.0.1.5',
    ]);
    expect(IFACES.get('v6only')?.map((a) => a.text)).toEqual(['2001:db8::7', 'fe80::7%v6only']);
  });

  it('reads this host without throwing and lists loopback', () => {
    const here = readInterfaces();
    expect(here.get('lo')?.some((a) => a.text === '127.0.0.1')).toBe(true);
  });
});

describe('interfaceOwning', () => {
  it('finds the interface of an IPv4, IPv6, alias or IPv4-mapped address', () => {
    expect(interfaceOwning(IFACES, '10.0.0.5')).toBe('eth0');
    expect(interfaceOwning(IFACES, '10.0.1.5')).toBe('eth0');
    expect(interfaceOwning(IFACES, '::ffff:192.168.1.5')).toBe('eth1');
    expect(interfaceOwning(IFACES, '2001:db8:0::7')).toBe('v6only');
  });

  it('matches a link-local address with or without its scope', () => {
    expect(interfaceOwning(IFACES, 'fe80::7')).toBe('v6only');
    expect(interfaceOwning(IFACES, 'fe80::7%v6only')).toBe('v6only');
    expect(interfaceOwning(IFACES, 'fe80::7%eth0')).toBeUndefined();
  });

  it('is undefined for unknown addresses and non-addresses', () => {
    expect(interfaceOwning(IFACES, '10.9.9.9')).toBeUndefined();
    expect(interfaceOwning(IFACES, 'host.example')).toBeUndefined();
  });
});

describe('firstAddressOf', () => {
  it('gives the first address of a family', () => {
    expect(firstAddressOf(IFACES, 'eth0', 4)?.text).toBe('10.0.0.5');
    expect(firstAddressOf(IFACES, 'eth0', 6)?.text).toBe('fe80::1%eth0');
    expect(firstAddressOf(IFACES, 'v6only', 4)).toBeUndefined();
    expect(firstAddressOf(IFACES, 'nope', 4)).toBeUndefined();
  });
});
