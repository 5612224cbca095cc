import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_HOSTID, FAKE_HOSTNQN, writeFakeController } from '../testing/sysfs-tree.js';
import { readSysfsSnapshot } from './sysfs.js';

const WK = 'nqn.2014-08.org.nvmexpress.discovery';
let sys: string;

beforeEach(async () => {
  sys = await mkdtemp(join(tmpdir(), 'stas-sysfs-'));
});

afterEach(async () => {
  await rm(sys, { recursive: true, force: true });
});

describe('readSysfsSnapshot', { timeout: 20_000 }, () => {
  it('is empty when the nvme classes do not exist (module not loaded)', async () => {
    await expect(readSysfsSnapshot(sys)).resolves.toEqual({ controllers: [], subsystems: [], errors: [] });
  });

  it('reads the lab scenario: an I/O controller with a namespace and a persistent discovery controller', async () => {
    await writeFakeController(sys, {
      instance: 0,
      subsysnqn: 'nqn.2024-01.io.nvme-lab:subsys1',
      srcAddr: '127.0.0.1',
      model: 'nvme-lab-subsys1',
      serial: 'lab0001',
      namespaces: [1],
    });
    await writeFakeController(sys, {
      instance: 1,
      subsysnqn: WK,
      trsvcid: '8009',
      srcAddr: '127.0.0.1',
      kato: 30,
    });

    const snap = await readSysfsSnapshot(sys);
    expect(snap.errors).toEqual([]);
    expect(snap.controllers.map((c) => [c.device, c.cntrltype, c.namespaces])).toEqual([
      ['nvme0', 'io', ['nvme0n1']],
      ['nvme1', 'discovery', []],
    ]);
    const [io, dc] = snap.controllers;
    expect(io).toMatchObject({
      transport: 'tcp',
      address: { traddr: '127.0.0.1', trsvcid: '4420', hostTraddr: '', hostIface: '', srcAddr: '127.0.0.1' },
      subsysnqn: 'nqn.2024-01.io.nvme-lab:subsys1',
      state: 'live',
      hostnqn: FAKE_HOSTNQN,
      hostid: FAKE_HOSTID,
      katoSec: 5,
      model: 'nvme-lab-subsys1',
      serial: 'lab0001',
      namespacePaths: ['nvme0c0n1'],
      subsystem: { name: 'nvme-subsys0', subsystype: 'nvm', controllers: ['nvme0'], namespaces: ['nvme0n1'] },
    });
    expect(dc).toMatchObject({ katoSec: 30, subsystem: { name: 'nvme-subsys1', subsystype: 'discovery' } });
    expect(snap.subsystems.map((s) => s.name)).toEqual(['nvme-subsys0', 'nvme-subsys1']);
  });

  it('groups two paths of one subsystem and sorts by instance', async () => {
    for (const instance of [10, 2]) {
      await writeFakeController(sys, {
        instance,
        subsystem: 0,
        subsysnqn: 'nqn.2024-01.x:shared',
        namespaces: [1, 2],
      });
    }
    const snap = await readSysfsSnapshot(sys);
    expect(snap.controllers.map((c) => c.device)).toEqual(['nvme2', 'nvme10']);
    expect(snap.controllers[0]?.namespaces).toEqual(['nvme0n1', 'nvme0n2']);
    expect(snap.subsystems).toHaveLength(1);
    expect(snap.subsystems[0]?.controllers).toEqual(['nvme2', 'nvme10']);
  });

  it('gives undefined for attributes an older kernel lacks', async () => {
    await writeFakeController(sys, {
      instance: 0,
      subsysnqn: 'nqn.2024-01.x:v',
      cntrltype: null,
      dctype: null,
      subsystype: null,
      omit: ['hostid', 'fast_io_fail_tmo'],
    });
    const [c] = (await readSysfsSnapshot(sys)).controllers;
    expect(c).toMatchObject({
      cntrltype: undefined,
      dctype: undefined,
      hostid: undefined,
      fastIoFailTmoSec: undefined,
    });
    expect(c?.subsystem?.subsystype).toBeUndefined();
  });

  it('collects a failing attribute as an error and still returns the controller', async () => {
    await writeFakeController(sys, { instance: 0, subsysnqn: 'nqn.2024-01.x:v' });
    await writeFakeController(sys, { instance: 1, subsysnqn: 'nqn.2024-01.x:w' });
    // a directory where a file should be: reading it fails with EISDIR, as an unreadable attribute would
    const state = join(sys, 'devices', 'virtual', 'nvme-fabrics', 'ctl', 'nvme0', 'state');
    await rm(state);
    await mkdir(state);
    const snap = await readSysfsSnapshot(sys);
    expect(snap.controllers.map((c) => [c.device, c.state])).toEqual([
      ['nvme0', undefined],
      ['nvme1', 'live'],
    ]);
    expect(snap.errors).toEqual([
      expect.objectContaining({ name: 'nvme0', attribute: 'state', code: 'EISDIR' }),
    ]);
  });

  it('leaves out a controller whose directory is gone (dangling class link)', async () => {
    await writeFakeController(sys, { instance: 0, subsysnqn: 'nqn.2024-01.x:v' });
    await writeFakeController(sys, { instance: 1, subsysnqn: 'nqn.2024-01.x:w' });
    await rm(join(sys, 'devices', 'virtual', 'nvme-fabrics', 'ctl', 'nvme1'), { recursive: true });
    const snap = await readSysfsSnapshot(sys);
    expect(snap.controllers.map((c) => c.device)).toEqual(['nvme0']);
    expect(snap.errors).toEqual([]);
  });

  it('ignores entries of the class directories that are not controllers', async () => {
    await writeFakeController(sys, { instance: 0, subsysnqn: 'nqn.2024-01.x:v' });
    await writeFile(join(sys, 'class', 'nvme', 'nvme-fabrics'), '');
    expect((await readSysfsSnapshot(sys)).controllers).toHaveLength(1);
    expect(await readdir(join(sys, 'class', 'nvme'))).toContain('nvme-fabrics');
  });

  it('reads many controllers completely with a concurrency of 1', async () => {
    for (let i = 0; i < 12; i++)
      await writeFakeController(sys, { instance: i, subsysnqn: `nqn.2024-01.x:v${i}` });
    const snap = await readSysfsSnapshot(sys, { concurrency: 1 });
    expect(snap.controllers.map((c) => c.instance)).toEqual([...Array(12).keys()]);
  });
});
