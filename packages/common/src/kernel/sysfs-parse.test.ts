import { describe, expect, it } from 'vitest';
import type { ControllerAttribute, NvmeController, RawDirectory } from './sysfs-parse.js';
import {
  isDiscoveryController,
  isFabricsController,
  isIoController,
  namespaceBlockDevice,
  parseController,
  parseControllerAddress,
  parseSubsystem,
} from './sysfs-parse.js';

const WK = 'nqn.2014-08.org.nvmexpress.discovery';

// Attribute contents as kernel 6.1 shows them (lab capture), newline and padding included.
const IO_6_1: Partial<Record<ControllerAttribute, string>> = {
  address: 'traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1\n',
  cntlid: '1\n',
  cntrltype: 'io\n',
  ctrl_loss_tmo: '600\n',
  dctype: 'none\n',
  fast_io_fail_tmo: 'off\n',
  firmware_rev: '6.1.0-56\n',
  hostid: '99b2aca3-bd1c-49ac-9884-a8c3eaccc265\n',
  hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:ab493302-0738-4961-9973-2c6bc2c93697\n',
  kato: '5\n',
  model: 'nvme-lab-subsys1                        \n',
  reconnect_delay: '10\n',
  serial: 'lab0001             \n',
  state: 'live\n',
  subsysnqn: 'nqn.2024-01.io.nvme-lab:subsys1\n',
  transport: 'tcp\n',
};

function raw(
  name: string,
  attrs: Partial<Record<ControllerAttribute, string>>,
  entries: string[] = [],
): RawDirectory<ControllerAttribute> {
  return { name, attrs, entries };
}

function ctrl(attrs: Partial<Record<ControllerAttribute, string>>, entries: string[] = []): NvmeController {
  const c = parseController(raw('nvme0', attrs, entries));
  if (c === undefined) throw new Error('no controller');
  return c;
}

describe('parseControllerAddress', () => {
  it('reads a 6.1 tcp address with src_addr', () => {
    expect(parseControllerAddress('traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1\n')).toEqual({
      traddr: '127.0.0.1',
      trsvcid: '4420',
      hostTraddr: '',
      hostIface: '',
      srcAddr: '127.0.0.1',
      extra: {},
    });
  });

  it('reads host_traddr and host_iface and keeps unknown fields', () => {
    expect(
      parseControllerAddress(
        'traddr=fe80::1%eth0,trsvcid=8009,host_traddr=fe80::2,host_iface=eth0,src_addr=fe80::2,x=1',
      ),
    ).toEqual({
      traddr: 'fe80::1%eth0',
      trsvcid: '8009',
      hostTraddr: 'fe80::2',
      hostIface: 'eth0',
      srcAddr: 'fe80::2',
      extra: { x: '1' },
    });
  });

  it('turns none (any case) into empty and survives junk', () => {
    expect(parseControllerAddress('traddr=nn-0x1:pn-0x2,trsvcid=none,host_traddr=NONE')).toMatchObject({
      traddr: 'nn-0x1:pn-0x2',
      trsvcid: '',
      hostTraddr: '',
    });
    expect(parseControllerAddress(',,=x,traddr')).toMatchObject({ traddr: '', trsvcid: '' });
  });
});

describe('parseController', () => {
  it('reads every 6.1 attribute into typed fields, trimming padding', () => {
    const c = parseController(raw('nvme0', IO_6_1, ['nvme0c0n1', 'hwmon0', 'power', 'address']), [
      parseSubsystem({
        name: 'nvme-subsys0',
        attrs: { subsysnqn: 'nqn.2024-01.io.nvme-lab:subsys1\n', subsystype: 'nvm\n' },
        entries: ['nvme0', 'nvme0n1', 'ng0n1', 'power'],
      }),
    ]);
    expect(c).toMatchObject({
      device: 'nvme0',
      instance: 0,
      transport: 'tcp',
      subsysnqn: 'nqn.2024-01.io.nvme-lab:subsys1',
      state: 'live',
      cntrltype: 'io',
      dctype: 'none',
      hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:ab493302-0738-4961-9973-2c6bc2c93697',
      hostid: '99b2aca3-bd1c-49ac-9884-a8c3eaccc265',
      katoSec: 5,
      cntlid: 1,
      model: 'nvme-lab-subsys1',
      serial: 'lab0001',
      firmwareRev: '6.1.0-56',
      ctrlLossTmoSec: 600,
      reconnectDelaySec: 10,
      fastIoFailTmoSec: null,
      namespacePaths: ['nvme0c0n1'],
      namespaces: ['nvme0n1'],
      subsystem: { name: 'nvme-subsys0', subsystype: 'nvm', controllers: ['nvme0'], namespaces: ['nvme0n1'] },
    });
    expect(c?.address).toMatchObject({ traddr: '127.0.0.1', srcAddr: '127.0.0.1' });
  });

  it('leaves attributes an older kernel lacks undefined', () => {
    const c = ctrl({ transport: 'tcp\n', address: 'traddr=1.2.3.4,trsvcid=4420\n' });
    expect(c.cntrltype).toBeUndefined();
    expect(c.dctype).toBeUndefined();
    expect(c.katoSec).toBeUndefined();
    expect(c.ctrlLossTmoSec).toBeUndefined();
    expect(c.subsystem).toBeUndefined();
    expect(c.address?.srcAddr).toBe('');
  });

  it('gives undefined for unparsable numbers and null for off', () => {
    const c = ctrl({ kato: 'x\n', cntlid: '-1\n', ctrl_loss_tmo: 'off\n', reconnect_delay: '-1\n' });
    expect([c.katoSec, c.cntlid, c.ctrlLossTmoSec, c.reconnectDelaySec]).toEqual([
      undefined,
      undefined,
      null,
      -1,
    ]);
  });

  it('is undefined for a directory that is not nvme<N>', () => {
    expect(parseController(raw('nvme-fabrics', {}))).toBeUndefined();
    expect(parseController(raw('nvme0n1', {}))).toBeUndefined();
  });

  it('maps non-multipath namespaces and several paths to sorted block devices', () => {
    const c = ctrl({}, ['nvme0n10', 'nvme0n2', 'nvme2c0n1', 'ng0n1']);
    expect(c.namespacePaths).toEqual(['nvme0n2', 'nvme0n10', 'nvme2c0n1']);
    expect(c.namespaces).toEqual(['nvme0n2', 'nvme0n10', 'nvme2n1']);
  });
});

describe('namespaceBlockDevice', () => {
  it('maps a path device to its head and keeps a head', () => {
    expect(namespaceBlockDevice('nvme3c7n2')).toBe('nvme3n2');
    expect(namespaceBlockDevice('nvme3n2')).toBe('nvme3n2');
    expect(namespaceBlockDevice('ng3n2')).toBeUndefined();
  });
});

describe('classification (behaviour spec §6.7 vectors, F7 fixed)', () => {
  it('children and no attributes: an I/O controller, not a discovery one', () => {
    const c = ctrl({}, ['nvme0n1', 'nvme0n2', 'nvme0n3']);
    expect([isDiscoveryController(c), isIoController(c)]).toEqual([false, true]);
  });

  it('the well-known NQN: discovery', () => {
    const c = ctrl({ subsysnqn: `${WK}\n` });
    expect([isDiscoveryController(c), isIoController(c)]).toEqual([true, false]);
  });

  it('cntrltype discovery: discovery', () => {
    expect(isDiscoveryController(ctrl({ cntrltype: 'discovery\n', subsysnqn: 'nqn.2024-01.x:cdc\n' }))).toBe(
      true,
    );
  });

  it('no children, no attributes: discovery (old-kernel heuristic)', () => {
    const c = ctrl({});
    expect([isDiscoveryController(c), isIoController(c)]).toEqual([true, false]);
  });

  it('cntrltype io WITHOUT namespaces: I/O, never discovery (F7)', () => {
    const c = ctrl({ cntrltype: 'io\n' });
    expect([isDiscoveryController(c), isIoController(c)]).toEqual([false, true]);
  });

  it('cntrltype admin: neither', () => {
    const c = ctrl({ cntrltype: 'admin\n' });
    expect([isDiscoveryController(c), isIoController(c)]).toEqual([false, false]);
  });

  it('without cntrltype, the subsystem type decides before the heuristic', () => {
    const sub = (subsystype: string) =>
      parseSubsystem({ name: 'nvme-subsys0', attrs: { subsystype: `${subsystype}\n` }, entries: ['nvme0'] });
    const nvm = parseController(raw('nvme0', {}), [sub('nvm')]);
    const disc = parseController(raw('nvme0', {}, ['nvme0n1']), [sub('discovery')]);
    expect(nvm && [isDiscoveryController(nvm), isIoController(nvm)]).toEqual([false, true]);
    expect(disc && [isDiscoveryController(disc), isIoController(disc)]).toEqual([true, false]);
  });

  it('knows the fabrics transports', () => {
    expect(isFabricsController(ctrl({ transport: 'tcp\n' }))).toBe(true);
    expect(isFabricsController(ctrl({ transport: 'pcie\n' }))).toBe(false);
    expect(isFabricsController(ctrl({}))).toBe(false);
  });
});
