import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { TidInput, TidRole } from '../nvme/tid.js';
import { createTid } from '../nvme/tid.js';
import {
  controllerMatchesTid,
  findControllerForTid,
  roleOfController,
  tidOfController,
} from './controller-match.js';
import { interfacesFromNode } from './net-interfaces.js';
import type { ControllerAttribute, NvmeController } from './sysfs-parse.js';
import { parseController } from './sysfs-parse.js';

const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:ab493302-0738-4961-9973-2c6bc2c93697';
const HOSTID = '99b2aca3-bd1c-49ac-9884-a8c3eaccc265';
const WK = 'nqn.2014-08.org.nvmexpress.discovery';
const NQN = 'nqn.2024-01.io.example:vol1';

function info(family: 'IPv4' | 'IPv6', address: string): NetworkInterfaceInfo {
  const base = { netmask: '', mac: '00:00:00:00:00:00', internal: false, cidr: null };
  return family === 'IPv4' ? { ...base, address, family } : { ...base, address, family, scopeid: 0 };
}

const IFACES = interfacesFromNode({
  eth0: [info('IPv4', '10.0.0.5'), info('IPv6', '2001:db8::5')],
  eth1: [info('IPv4', '192.168.1.5')],
});

function ctrl(
  address: string,
  attrs: Partial<Record<ControllerAttribute, string>> = {},
  entries: string[] = ['nvme0c0n1'],
  device = 'nvme0',
): NvmeController {
  const c = parseController({
    name: device,
    attrs: {
      transport: 'tcp',
      address,
      subsysnqn: NQN,
      cntrltype: 'io',
      hostnqn: HOSTNQN,
      hostid: HOSTID,
      ...attrs,
    },
    entries,
  });
  if (c === undefined) throw new Error('bad fixture');
  return c;
}

function tid(fields: Partial<TidInput>, role: TidRole = 'io') {
  return createTid(
    {
      transport: 'tcp',
      traddr: '10.0.0.1',
      trsvcid: '4420',
      subsysnqn: NQN,
      hostNqn: HOSTNQN,
      hostId: HOSTID,
      ...fields,
    },
    { role },
  );
}

const matches = (c: NvmeController, fields: Partial<TidInput>, role?: TidRole) =>
  controllerMatchesTid(c, tid(fields, role), IFACES, role === undefined ? {} : { role });

describe('tidOfController', () => {
  it('gives the TID the controller was created with, from address and attributes', () => {
    const c = ctrl('traddr=10.0.0.1,trsvcid=4420,host_iface=eth0,src_addr=10.0.0.5\n');
    expect(tidOfController(c)).toEqual(tid({ hostIface: 'eth0' }));
  });

  it('does not invent a host-iface from src_addr (F16)', () => {
    expect(tidOfController(ctrl('traddr=10.0.0.1,trsvcid=4420,src_addr=10.0.0.5'))?.hostIface).toBe('');
  });

  it("turns the kernel's none into an empty fc trsvcid (F4)", () => {
    const c = ctrl('traddr=nn-0x1:pn-0x2,trsvcid=none,host_traddr=nn-0x3:pn-0x4', { transport: 'fc' });
    expect(tidOfController(c)).toMatchObject({ transport: 'fc', trsvcid: '', hostTraddr: 'nn-0x3:pn-0x4' });
  });

  it('has none for pcie or when the address is missing', () => {
    expect(tidOfController(ctrl('', { transport: 'pcie' }))).toBeUndefined();
    const noAddress = parseController({ name: 'nvme1', attrs: { transport: 'tcp' }, entries: [] });
    expect(noAddress && tidOfController(noAddress)).toBeUndefined();
  });

  it('gives a discovery controller the discovery role', () => {
    expect(
      roleOfController(ctrl('traddr=10.0.0.1,trsvcid=8009', { subsysnqn: WK, cntrltype: 'discovery' }, [])),
    ).toBe('discovery');
  });
});

describe('controllerMatchesTid: identity fields', () => {
  const c = ctrl('traddr=2001:db8::1,trsvcid=4420,src_addr=2001:db8::5');

  it('matches the same connection whatever the IPv6 spelling of the TID (F10)', () => {
    expect(matches(c, { traddr: '2001:DB8:0:0:0:0:0:1' })).toBe(true);
    expect(matches(c, { traddr: '2001:db8::2' })).toBe(false);
  });

  it("folds an IPv4-mapped TID address onto the kernel's IPv4", () => {
    expect(matches(ctrl('traddr=10.0.0.1,trsvcid=4420'), { traddr: '::ffff:10.0.0.1' })).toBe(true);
  });

  it('needs the same transport, port, host NQN and host ID', () => {
    const v4 = ctrl('traddr=10.0.0.1,trsvcid=4420');
    expect(matches(v4, {})).toBe(true);
    expect(matches(v4, { trsvcid: '4421' })).toBe(false);
    expect(matches(v4, { hostNqn: 'nqn.2024-01.io.example:other' })).toBe(false);
    expect(matches(v4, { hostId: '00000000-0000-0000-0000-000000000001' })).toBe(false);
    expect(matches(v4, { hostId: HOSTID.toUpperCase() })).toBe(true);
    expect(
      controllerMatchesTid(
        v4,
        createTid({ transport: 'rdma', traddr: '10.0.0.1', subsysnqn: NQN }, { role: 'io' }),
        IFACES,
      ),
    ).toBe(false);
  });

  it('accepts any host ID when the kernel does not show one (old kernels)', () => {
    expect(matches(ctrl('traddr=10.0.0.1,trsvcid=4420', { hostid: '' }), {})).toBe(true);
  });

  it('needs the same subsystem NQN, except a well-known-NQN TID on a discovery controller (TP8013)', () => {
    const cdc = ctrl(
      'traddr=10.0.0.1,trsvcid=8009',
      { subsysnqn: 'nqn.2024-01.io.example:cdc', cntrltype: 'discovery' },
      [],
    );
    expect(matches(cdc, { trsvcid: '8009', subsysnqn: WK }, 'discovery')).toBe(true);
    expect(matches(cdc, { trsvcid: '8009', subsysnqn: 'nqn.2024-01.io.example:cdc' }, 'discovery')).toBe(
      true,
    );
    expect(matches(cdc, { trsvcid: '8009', subsysnqn: 'nqn.2024-01.io.example:other' }, 'discovery')).toBe(
      false,
    );
    expect(matches(ctrl('traddr=10.0.0.1,trsvcid=4420'), { subsysnqn: WK })).toBe(false);
  });

  it('does not take an I/O controller without namespaces for a discovery controller (F7)', () => {
    const ioc = ctrl('traddr=10.0.0.1,trsvcid=8009', { subsysnqn: WK, cntrltype: 'io' }, []);
    expect(matches(ioc, { trsvcid: '8009', subsysnqn: WK }, 'discovery')).toBe(false);
    const dc = ctrl('traddr=10.0.0.1,trsvcid=4420', { cntrltype: 'discovery' }, []);
    expect(matches(dc, {}, 'io')).toBe(false);
    expect(matches(dc, {}, 'discovery')).toBe(true);
  });

  it('never matches a pcie controller', () => {
    expect(matches(ctrl('traddr=10.0.0.1,trsvcid=4420', { transport: 'pcie' }), {})).toBe(false);
  });
});

describe('controllerMatchesTid: tcp host side', () => {
  it('ignores the host side when the TID names none', () => {
    expect(matches(ctrl('traddr=10.0.0.1,trsvcid=4420,host_traddr=10.0.0.5,host_iface=eth0'), {})).toBe(true);
  });

  it("compares host-traddr with the controller's own host_traddr first", () => {
    const c = ctrl('traddr=10.0.0.1,trsvcid=4420,host_traddr=10.0.0.5,src_addr=10.0.0.5');
    expect(matches(c, { hostTraddr: '10.0.0.5' })).toBe(true);
    expect(matches(c, { hostTraddr: '10.0.0.6' })).toBe(false);
  });

  it('compares host-traddr with src_addr when the controller was made without one', () => {
    const c = ctrl('traddr=10.0.0.1,trsvcid=4420,src_addr=10.0.0.5');
    expect(matches(c, { hostTraddr: '10.0.0.5' })).toBe(true);
    expect(matches(c, { hostTraddr: '::ffff:10.0.0.5' })).toBe(true);
    expect(matches(c, { hostTraddr: '192.168.1.5' })).toBe(false);
  });

  it('compares a non-IP host-traddr as text instead of crashing (F9)', () => {
    expect(matches(ctrl('traddr=10.0.0.1,trsvcid=4420,src_addr=10.0.0.5'), { hostTraddr: 'myhost' })).toBe(
      false,
    );
  });

  it('on a legacy kernel (no src_addr) uses the first address of host_iface, else assumes a match', () => {
    const viaIface = ctrl('traddr=10.0.0.1,trsvcid=4420,host_iface=eth0');
    expect(matches(viaIface, { hostTraddr: '10.0.0.5' })).toBe(true);
    expect(matches(viaIface, { hostTraddr: '192.168.1.5' })).toBe(false);
    expect(matches(ctrl('traddr=10.0.0.1,trsvcid=4420,host_iface=eth9'), { hostTraddr: '10.0.0.5' })).toBe(
      true,
    );
    expect(matches(ctrl('traddr=10.0.0.1,trsvcid=4420'), { hostTraddr: '10.0.0.5' })).toBe(true);
  });

  it("compares host-iface with the controller's host_iface, else the owner of src_addr or host_traddr", () => {
    expect(matches(ctrl('traddr=10.0.0.1,trsvcid=4420,host_iface=eth0'), { hostIface: 'eth0' })).toBe(true);
    expect(matches(ctrl('traddr=10.0.0.1,trsvcid=4420,host_iface=eth1'), { hostIface: 'eth0' })).toBe(false);
    expect(matches(ctrl('traddr=10.0.0.1,trsvcid=4420,src_addr=2001:db8::5'), { hostIface: 'eth0' })).toBe(
      true,
    );
    expect(matches(ctrl('traddr=10.0.0.1,trsvcid=4420,src_addr=192.168.1.5'), { hostIface: 'eth0' })).toBe(
      false,
    );
    expect(matches(ctrl('traddr=10.0.0.1,trsvcid=4420,src_addr=172.16.0.1'), { hostIface: 'eth0' })).toBe(
      false,
    );
    expect(matches(ctrl('traddr=10.0.0.1,trsvcid=4420,host_traddr=10.0.0.5'), { hostIface: 'eth0' })).toBe(
      true,
    );
    expect(matches(ctrl('traddr=10.0.0.1,trsvcid=4420'), { hostIface: 'eth0' })).toBe(true);
  });
});

describe('controllerMatchesTid: fc, rdma, loop', () => {
  const fcTid = (hostTraddr: string) =>
    createTid(
      {
        transport: 'fc',
        traddr: 'nn-0x1:pn-0x2',
        subsysnqn: NQN,
        hostTraddr,
        hostNqn: HOSTNQN,
        hostId: HOSTID,
      },
      { role: 'io' },
    );

  it('fc: addresses and host addresses compare case-insensitively; trsvcid none equals empty (F4)', () => {
    const c = ctrl('traddr=NN-0x1:PN-0x2,trsvcid=none,host_traddr=nn-0x3:pn-0x4', { transport: 'fc' });
    expect(controllerMatchesTid(c, fcTid('NN-0x3:pn-0x4'), IFACES)).toBe(true);
    expect(controllerMatchesTid(c, fcTid('nn-0x3:pn-0x5'), IFACES)).toBe(false);
    expect(controllerMatchesTid(c, fcTid(''), IFACES)).toBe(false);
    const noHost = ctrl('traddr=nn-0x1:pn-0x2,trsvcid=none', { transport: 'fc' });
    expect(controllerMatchesTid(noHost, fcTid(''), IFACES)).toBe(true);
  });

  it("rdma: a TID host-traddr must equal the controller's", () => {
    const c = ctrl('traddr=10.0.0.1,trsvcid=4420,host_traddr=10.0.0.5', { transport: 'rdma' });
    const rdma = (hostTraddr: string) =>
      createTid(
        {
          transport: 'rdma',
          traddr: '10.0.0.1',
          subsysnqn: NQN,
          hostTraddr,
          hostNqn: HOSTNQN,
          hostId: HOSTID,
        },
        { role: 'io' },
      );
    expect(controllerMatchesTid(c, rdma('10.0.0.5'), IFACES)).toBe(true);
    expect(controllerMatchesTid(c, rdma(''), IFACES)).toBe(true);
    expect(controllerMatchesTid(c, rdma('10.0.0.6'), IFACES)).toBe(false);
  });

  it('loop: the NQN and host identity decide', () => {
    const c = ctrl('traddr=none,trsvcid=none', { transport: 'loop' });
    const loop = createTid(
      { transport: 'loop', traddr: '', subsysnqn: NQN, hostNqn: HOSTNQN, hostId: HOSTID },
      { role: 'io' },
    );
    expect(controllerMatchesTid(c, loop, IFACES)).toBe(true);
  });
});

describe('findControllerForTid', () => {
  it('returns the first matching controller in the given order', () => {
    const list = [
      ctrl('traddr=10.0.0.2,trsvcid=4420', {}, ['nvme0c0n1'], 'nvme0'),
      ctrl('traddr=10.0.0.1,trsvcid=4420', {}, ['nvme0c1n1'], 'nvme1'),
      ctrl('traddr=10.0.0.1,trsvcid=4420', {}, ['nvme0c2n1'], 'nvme2'),
    ];
    expect(findControllerForTid(list, tid({}), IFACES)?.device).toBe('nvme1');
    expect(findControllerForTid(list, tid({ traddr: '10.0.0.3' }), IFACES)).toBeUndefined();
  });
});
