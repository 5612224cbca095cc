import { describe, expect, it } from 'vitest';
import { StasError } from '../errors.js';
import type { Tid, TidInput, Transport } from './tid.js';
import {
  canonicalTransportAddress,
  createTid,
  defaultTrsvcid,
  formatTid,
  tidEquals,
  tidKey,
  tidMatchesFilter,
  tidToDict,
  WELL_KNOWN_DISCOVERY_NQN,
} from './tid.js';

const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555';
const HOSTID = '11111111-2222-3333-4444-555555555555';
const DELL_NQN = 'nqn.1988-11.com.dell:SFSS:2:20220208134025e8';

const dc = (fields: TidInput): Tid => createTid(fields, { role: 'discovery' });
const io = (fields: TidInput): Tid => createTid(fields, { role: 'io' });

describe('createTid: defaults', () => {
  it('fills every field, with the well-known NQN and port 8009 for a tcp discovery controller', () => {
    expect(dc({ transport: 'tcp', traddr: '10.0.0.1' })).toMatchObject({
      transport: 'tcp',
      traddr: '10.0.0.1',
      trsvcid: '8009',
      subsysnqn: WELL_KNOWN_DISCOVERY_NQN,
      hostTraddr: '',
      hostIface: '',
      hostNqn: '',
      hostId: '',
    });
  });

  it('uses port 4420 for a tcp I/O controller and keeps its empty subsysnqn (fixes F3)', () => {
    const tid = io({ transport: 'tcp', traddr: '10.0.0.1' });
    expect(tid.trsvcid).toBe('4420');
    expect(tid.subsysnqn).toBe('');
  });

  it('uses port 4420 for rdma in both roles', () => {
    expect(dc({ transport: 'rdma', traddr: '10.0.0.1' }).trsvcid).toBe('4420');
    expect(io({ transport: 'rdma', traddr: '10.0.0.1' }).trsvcid).toBe('4420');
  });

  it.each([
    ['tcp', 'discovery', '8009'],
    ['tcp', 'io', '4420'],
    ['rdma', 'discovery', '4420'],
    ['fc', 'io', ''],
    ['loop', 'discovery', ''],
  ] as const)('defaultTrsvcid(%s, %s) is %j', (transport, role, port) => {
    expect(defaultTrsvcid(transport, role)).toBe(port);
  });

  it('keeps an explicit port, without leading zeros', () => {
    expect(io({ transport: 'tcp', traddr: '10.0.0.1', trsvcid: '8009' }).trsvcid).toBe('8009');
    expect(io({ transport: 'tcp', traddr: '10.0.0.1', trsvcid: '04420' }).trsvcid).toBe('4420');
  });

  it('builds fc and loop TIDs with an empty trsvcid whatever was given (fixes F4)', () => {
    const fc = io({ transport: 'fc', traddr: 'nn-0x1:pn-0x2', trsvcid: '4420', subsysnqn: 'nqn.x' });
    expect(fc.trsvcid).toBe('');
    const loop = io({ transport: 'loop', traddr: '', subsysnqn: 'nqn.x' });
    expect(loop.trsvcid).toBe('');
    expect(loop.transport).toBe('loop');
  });

  it('refuses a transport outside the union with a typed error', () => {
    const bad = { transport: 'pcie' as Transport, traddr: '' };
    expect(() => io(bad)).toThrow(StasError);
    try {
      io(bad);
    } catch (err) {
      expect((err as StasError).code).toBe('TID_BAD_TRANSPORT');
    }
  });
});

describe('createTid: normalisation', () => {
  it('canonicalises IP literals in traddr and host-traddr', () => {
    const tid = io({
      transport: 'tcp',
      traddr: '2001:0DB8:0:0:0:0:0:1',
      hostTraddr: '::ffff:10.0.0.2',
      subsysnqn: 'nqn.x',
    });
    expect(tid.traddr).toBe('2001:db8::1');
    expect(tid.hostTraddr).toBe('10.0.0.2');
  });

  it('keeps a link-local scope verbatim', () => {
    expect(dc({ transport: 'tcp', traddr: 'FE80::1%Eth0' }).traddr).toBe('fe80::1%Eth0');
  });

  it('lower-cases host names', () => {
    expect(dc({ transport: 'tcp', traddr: 'DC1.Example.COM' }).traddr).toBe('dc1.example.com');
  });

  it('lower-cases fc addresses and rewrites the comma form', () => {
    const tid = io({
      transport: 'fc',
      traddr: 'NN-0x20000090FA942779,PN-0x10000090FA942779',
      hostTraddr: 'nn-0x2000000000000001:pn-0x1000000000000001',
      subsysnqn: 'nqn.x',
    });
    expect(tid.traddr).toBe('nn-0x20000090fa942779:pn-0x10000090fa942779');
    expect(tid.hostTraddr).toBe('nn-0x2000000000000001:pn-0x1000000000000001');
  });

  it('keeps host-iface, NQNs and loop addresses as given, and lower-cases the host ID', () => {
    const tid = io({
      transport: 'loop',
      traddr: 'Whatever',
      subsysnqn: 'nqn.Case.Matters',
      hostIface: 'Eth0',
      hostNqn: 'nqn.Host',
      hostId: 'ABCDEF00-2222-3333-4444-555555555555',
    });
    expect(tid).toMatchObject({
      traddr: 'Whatever',
      subsysnqn: 'nqn.Case.Matters',
      hostIface: 'Eth0',
      hostNqn: 'nqn.Host',
      hostId: 'abcdef00-2222-3333-4444-555555555555',
    });
  });

  it('returns a frozen value', () => {
    expect(Object.isFrozen(dc({ transport: 'tcp', traddr: '1.1.1.1' }))).toBe(true);
  });

  it('ignores extra properties, so a TID can be respread into createTid', () => {
    const a = io({ transport: 'tcp', traddr: '1.1.1.1', subsysnqn: 'nqn.x' });
    const b = io({ ...a, hostIface: 'eth0' });
    expect(b.hostIface).toBe('eth0');
    expect(b.key).not.toBe(a.key);
    expect(io({ ...b, hostIface: '' }).key).toBe(a.key);
  });
});

describe('equality and keys', () => {
  it('equates differently written but identical TIDs', () => {
    const a = dc({ transport: 'tcp', traddr: 'FE80::aaaa:BBBB:cccc:dddd%eth0', trsvcid: '8009' });
    const b = dc({ transport: 'tcp', traddr: 'fe80:0:0:0:aaaa:bbbb:cccc:dddd%eth0', subsysnqn: '' });
    expect(tidEquals(a, b)).toBe(true);
    expect(tidKey(a)).toBe(tidKey(b));
  });

  it('distinguishes TIDs that differ only in host NQN or host ID (nvme-stas #528)', () => {
    const base = {
      transport: 'tcp',
      traddr: '1.1.1.1',
      subsysnqn: 'nqn.x',
      hostNqn: HOSTNQN,
      hostId: HOSTID,
    } as const;
    expect(tidEquals(io(base), io({ ...base, hostNqn: 'nqn.other' }))).toBe(false);
    expect(tidEquals(io(base), io({ ...base, hostId: '00000000-2222-3333-4444-555555555555' }))).toBe(false);
  });

  it('has a stable, readable key built from all eight fields', () => {
    const tid = dc({ transport: 'tcp', traddr: '10.10.10.10', hostNqn: HOSTNQN, hostId: HOSTID });
    expect(tidKey(tid)).toBe(`tcp|10.10.10.10|8009|${WELL_KNOWN_DISCOVERY_NQN}|||${HOSTNQN}|${HOSTID}`);
  });

  it('has no concatenation collisions', () => {
    const a = io({ transport: 'loop', traddr: 'a|b', subsysnqn: 'c' });
    const b = io({ transport: 'loop', traddr: 'a', subsysnqn: 'b|c' });
    const c = io({ transport: 'loop', traddr: 'a%7Cb', subsysnqn: 'c' });
    const d = io({ transport: 'loop', traddr: 'ab', subsysnqn: 'c' });
    const e = io({ transport: 'loop', traddr: 'a', subsysnqn: 'bc' });
    const keys = new Set([a, b, c, d, e].map(tidKey));
    expect(keys.size).toBe(5);
    expect(tidKey(a)).toBe('loop|a%7Cb||c||||');
    expect(tidKey(c)).toBe('loop|a%257Cb||c||||');
  });
});

describe('formatTid (nvme-stas string form, §7.2)', () => {
  it('shows every part that is set, host-iface before host-traddr', () => {
    const tid = io({
      transport: 'tcp',
      traddr: '10.10.10.10',
      trsvcid: '8009',
      subsysnqn: DELL_NQN,
      hostTraddr: '1.2.3.4',
      hostIface: 'wlp0s20f3',
      hostNqn: 'nqn.1988-11.com.dell:12345',
    });
    expect(formatTid(tid)).toBe(`(tcp, 10.10.10.10, 8009, ${DELL_NQN}, wlp0s20f3, 1.2.3.4)`);
  });

  it('leaves out unset optional parts and never shows the host NQN', () => {
    const tid = io({
      transport: 'tcp',
      traddr: '1.1.1.1',
      trsvcid: '8009',
      subsysnqn: 'nqn.a',
      hostNqn: HOSTNQN,
    });
    expect(formatTid(tid)).toBe('(tcp, 1.1.1.1, 8009, nqn.a)');
  });

  it('shows an empty trsvcid for fc', () => {
    const tid = io({ transport: 'fc', traddr: 'nn-1:pn-2', subsysnqn: 'x', hostTraddr: 'nn-3:pn-4' });
    expect(formatTid(tid)).toBe('(fc, nn-1:pn-2, , x, nn-3:pn-4)');
  });

  it('shows host-traddr alone when host-iface is unset', () => {
    const tid = io({ transport: 'tcp', traddr: '1.1.1.1', subsysnqn: 'nqn.a', hostTraddr: '2.2.2.2' });
    expect(formatTid(tid)).toBe('(tcp, 1.1.1.1, 4420, nqn.a, 2.2.2.2)');
  });
});

describe('tidToDict', () => {
  it('gives the D-Bus controller-ID fields in the API order', () => {
    const tid = io({
      transport: 'tcp',
      traddr: '10.10.10.10',
      trsvcid: '8009',
      subsysnqn: DELL_NQN,
      hostTraddr: '1.2.3.4',
      hostIface: 'wlp0s20f3',
      hostNqn: 'nqn.1988-11.com.dell:poweredge:1234',
      hostId: HOSTID,
    });
    const dict = tidToDict(tid);
    expect(Object.keys(dict)).toEqual([
      'traddr',
      'trsvcid',
      'transport',
      'subsysnqn',
      'host-iface',
      'host-traddr',
      'host-nqn',
    ]);
    expect(dict).toEqual({
      traddr: '10.10.10.10',
      trsvcid: '8009',
      transport: 'tcp',
      subsysnqn: DELL_NQN,
      'host-iface': 'wlp0s20f3',
      'host-traddr': '1.2.3.4',
      'host-nqn': 'nqn.1988-11.com.dell:poweredge:1234',
    });
  });
});

describe('tidMatchesFilter', () => {
  const v4 = dc({ transport: 'tcp', traddr: '1.2.3.4', hostIface: 'eth0', hostNqn: HOSTNQN, hostId: HOSTID });
  const v6 = dc({ transport: 'tcp', traddr: '2001:db8::1' });
  const ll = dc({ transport: 'tcp', traddr: 'fe80::1%eth0' });
  const named = dc({ transport: 'tcp', traddr: 'dc1.example.com' });
  const fc = io({
    transport: 'fc',
    traddr: 'nn-0x1:pn-0x2',
    subsysnqn: 'nqn.x',
    hostTraddr: 'nn-0x3:pn-0x4',
  });

  it('matches when every key matches (minimal match), including defaulted fields', () => {
    expect(tidMatchesFilter(v4, { transport: 'tcp', traddr: '1.2.3.4', trsvcid: '8009' })).toBe(true);
    expect(tidMatchesFilter(v4, new Map([['traddr', '1.2.3.4']]))).toBe(true);
    expect(tidMatchesFilter(v4, { traddr: '1.2.3.4', trsvcid: '4420' })).toBe(false);
  });

  it('matches nothing with an empty filter (fixes C5)', () => {
    expect(tidMatchesFilter(v4, {})).toBe(false);
    expect(tidMatchesFilter(v4, new Map())).toBe(false);
  });

  it('never matches through a key it does not know', () => {
    expect(tidMatchesFilter(v4, { traddr: '1.2.3.4', kato: '30' })).toBe(false);
    expect(tidMatchesFilter(v4, { Traddr: '1.2.3.4' })).toBe(false);
  });

  it('compares IPv4 canonically, including IPv4-mapped IPv6', () => {
    expect(tidMatchesFilter(v4, { traddr: '::ffff:1.2.3.4' })).toBe(true);
    expect(tidMatchesFilter(v4, { traddr: '::FFFF:102:304' })).toBe(true);
    expect(tidMatchesFilter(v4, { traddr: '01.2.3.4' })).toBe(false);
    expect(tidMatchesFilter(v4, { traddr: '1.2.3.5' })).toBe(false);
  });

  it('compares IPv6 canonically (compressed, expanded, upper case)', () => {
    expect(tidMatchesFilter(v6, { traddr: '2001:0DB8:0000:0000:0000:0000:0000:0001' })).toBe(true);
    expect(tidMatchesFilter(v6, { traddr: '2001:db8:0::1' })).toBe(true);
    expect(tidMatchesFilter(v6, { traddr: '2001:db8::2' })).toBe(false);
  });

  it('compares link-local addresses with their scope', () => {
    expect(tidMatchesFilter(ll, { traddr: 'FE80::1%eth0' })).toBe(true);
    expect(tidMatchesFilter(ll, { traddr: 'fe80::1%eth1' })).toBe(false);
    expect(tidMatchesFilter(ll, { traddr: 'fe80::1' })).toBe(false);
  });

  it('compares host names case-insensitively', () => {
    expect(tidMatchesFilter(named, { traddr: 'DC1.example.COM' })).toBe(true);
  });

  it('compares transport case-insensitively', () => {
    expect(tidMatchesFilter(v4, { transport: 'TCP' })).toBe(true);
    expect(tidMatchesFilter(v4, { transport: 'rdma' })).toBe(false);
  });

  it('accepts nqn as an alias of subsysnqn, and compares NQNs exactly', () => {
    expect(tidMatchesFilter(v4, { nqn: WELL_KNOWN_DISCOVERY_NQN })).toBe(true);
    expect(tidMatchesFilter(v4, { subsysnqn: WELL_KNOWN_DISCOVERY_NQN })).toBe(true);
    expect(tidMatchesFilter(v4, { subsysnqn: WELL_KNOWN_DISCOVERY_NQN.toUpperCase() })).toBe(false);
  });

  it('matches the host fields', () => {
    expect(tidMatchesFilter(v4, { 'host-iface': 'eth0' })).toBe(true);
    expect(tidMatchesFilter(v4, { 'host-iface': 'ETH0' })).toBe(false);
    expect(tidMatchesFilter(v4, { 'host-nqn': HOSTNQN })).toBe(true);
    expect(tidMatchesFilter(v4, { 'host-id': HOSTID.toUpperCase() })).toBe(true);
    expect(tidMatchesFilter(fc, { 'host-traddr': 'NN-0x3:PN-0x4' })).toBe(true);
    expect(tidMatchesFilter(fc, { 'host-traddr': 'nn-0x3,pn-0x4' })).toBe(true);
  });

  it('compares a decimal port as a number', () => {
    expect(tidMatchesFilter(v4, { trsvcid: '08009' })).toBe(true);
  });

  it('matches fc entries by transport and address', () => {
    expect(tidMatchesFilter(fc, { transport: 'fc', traddr: 'NN-0x1:pn-0x2' })).toBe(true);
    expect(tidMatchesFilter(fc, { transport: 'fc', trsvcid: '' })).toBe(true);
  });
});

describe('canonicalTransportAddress', () => {
  it('depends on the transport', () => {
    expect(canonicalTransportAddress('tcp', 'FE80::1')).toBe('fe80::1');
    expect(canonicalTransportAddress('rdma', 'Host')).toBe('host');
    expect(canonicalTransportAddress('fc', 'NN-0x1,PN-0x2')).toBe('nn-0x1:pn-0x2');
    expect(canonicalTransportAddress('loop', 'FE80::1')).toBe('FE80::1');
  });
});
