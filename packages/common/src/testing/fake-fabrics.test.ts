import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildConnectArgs } from '../kernel/connect-args.js';
import { controllerMatchesTid } from '../kernel/controller-match.js';
import type { DeviceName } from '../kernel/fabrics-outcome.js';
import { readSysfsSnapshot } from '../kernel/sysfs.js';
import { createTid } from '../nvme/tid.js';
import { FakeFabricsDevice, fakeFailure, parseConnectString } from './fake-fabrics.js';
import { FAKE_HOSTID, FAKE_HOSTNQN } from './sysfs-tree.js';

let sys: string;
beforeEach(async () => {
  sys = await mkdtemp(join(tmpdir(), 'stas-fake-fabrics-'));
});
afterEach(async () => {
  await rm(sys, { recursive: true, force: true });
});

const ioTid = createTid(
  {
    transport: 'tcp',
    traddr: '127.0.0.1',
    subsysnqn: 'nqn.2024-01.io.example:v',
    hostNqn: FAKE_HOSTNQN,
    hostId: FAKE_HOSTID,
  },
  { role: 'io' },
);

describe('FakeFabricsDevice', () => {
  it('connects like the kernel: lowest free instance, then EALREADY for the same I/O connection', async () => {
    const fake = new FakeFabricsDevice({ sysRoot: sys });
    const supported = (await fake.probeOptions()).options;
    const { text } = buildConnectArgs({ tid: ioTid, role: 'io', options: { kato: 5 }, supported });
    await expect(fake.connect(text)).resolves.toEqual({
      ok: true,
      kind: 'connected',
      device: 'nvme0',
      instance: 0,
      cntlid: 1,
    });
    await expect(fake.connect(text)).resolves.toEqual({ ok: true, kind: 'already-connected' });
    expect(fake.connects.map((c) => c.outcome.kind)).toEqual(['connected', 'already-connected']);
    expect(fake.live).toEqual(['nvme0']);
  });

  it('creates a sysfs controller that sysfs.ts reads and controller-match.ts matches, and removes it on disconnect', async () => {
    const fake = new FakeFabricsDevice({ sysRoot: sys });
    const { text } = buildConnectArgs({
      tid: ioTid,
      role: 'io',
      options: {},
      supported: (await fake.probeOptions()).options,
    });
    await fake.connect(text);
    const [c] = (await readSysfsSnapshot(sys)).controllers;
    expect(c).toMatchObject({
      device: 'nvme0',
      cntrltype: 'io',
      namespaces: ['nvme0n1'],
      hostnqn: FAKE_HOSTNQN,
    });
    expect(c && controllerMatchesTid(c, ioTid, new Map(), { role: 'io' })).toBe(true);
    await expect(fake.disconnect('nvme0' as DeviceName)).resolves.toEqual({ ok: true, kind: 'deleted' });
    expect((await readSysfsSnapshot(sys)).controllers).toEqual([]);
    await expect(fake.disconnect('nvme0' as DeviceName)).resolves.toEqual({ ok: true, kind: 'already-gone' });
    expect(fake.disconnects).toEqual(['nvme0', 'nvme0']);
  });

  it('allows duplicate discovery controllers and reuses freed instance numbers', async () => {
    const fake = new FakeFabricsDevice();
    const dc = 'nqn=nqn.2014-08.org.nvmexpress.discovery,transport=tcp,traddr=127.0.0.1,trsvcid=8009';
    expect((await fake.connect(dc)).kind).toBe('connected');
    expect(await fake.connect(dc)).toMatchObject({ kind: 'connected', instance: 1 });
    await fake.disconnect('nvme0' as DeviceName);
    expect(await fake.connect(dc)).toMatchObject({ instance: 0 });
  });

  it('answers EINVAL to a string without nqn or transport, and custom answers when told', async () => {
    const fake = new FakeFabricsDevice({
      respond: (_text, i) => (i === 1 ? fakeFailure('ECONNREFUSED') : undefined),
    });
    expect(await fake.connect('traddr=1.2.3.4')).toMatchObject({
      ok: false,
      kind: 'invalid-argument',
      errno: 'EINVAL',
    });
    expect(await fake.connect('nqn=a,transport=tcp')).toMatchObject({
      ok: false,
      kind: 'connection-refused',
      transient: true,
    });
    expect(await fake.connect('nqn=a,transport=tcp')).toMatchObject({ ok: true, kind: 'connected' });
  });

  it('answers after its delay and counts requests in flight', async () => {
    const fake = new FakeFabricsDevice({ delayMs: 20 });
    const started = performance.now();
    await Promise.all([
      fake.connect('nqn=a,transport=tcp'),
      fake.connect('nqn=b,transport=tcp'),
      fake.probeOptions(),
    ]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
    expect(fake.maxInFlight).toBe(3);
    expect(fake.inFlight).toBe(0);
  });

  it('decides a connect when it starts, as the kernel does: a concurrent duplicate gets EALREADY', async () => {
    const fake = new FakeFabricsDevice({ sysRoot: sys, delayMs: 20 });
    const supported = (await fake.probeOptions()).options;
    const { text } = buildConnectArgs({ tid: ioTid, role: 'io', options: {}, supported });
    const first = fake.connect(text);
    expect(fake.live).toEqual(['nvme0']);
    await expect(fake.connect(text)).resolves.toEqual({ ok: true, kind: 'already-connected' });
    await expect(first).resolves.toMatchObject({ ok: true, kind: 'connected', device: 'nvme0' });
    const snapshot = await readSysfsSnapshot(sys);
    expect(snapshot.controllers.map((c) => c.device)).toEqual(['nvme0']);
  });

  it('removes a controller only when its disconnect answers', async () => {
    const fake = new FakeFabricsDevice({ sysRoot: sys, delayMs: 20 });
    const supported = (await fake.probeOptions()).options;
    const { text } = buildConnectArgs({ tid: ioTid, role: 'io', options: {}, supported });
    await fake.connect(text);
    const leaving = fake.disconnect('nvme0' as DeviceName);
    expect(fake.live).toEqual(['nvme0']);
    await expect(leaving).resolves.toEqual({ ok: true, kind: 'deleted' });
    expect(fake.live).toEqual([]);
    expect((await readSysfsSnapshot(sys)).controllers).toEqual([]);
  });

  it('refuses work after close and honours an aborted signal', async () => {
    const fake = new FakeFabricsDevice();
    await expect(fake.connect('nqn=a,transport=tcp', { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
    await fake.close();
    await expect(fake.connect('nqn=a,transport=tcp')).rejects.toMatchObject({ code: 'KERNEL_POOL_CLOSED' });
  });

  it('parses connect strings with = inside values and bare flags', () => {
    expect(parseConnectString('nqn=a,dhchap_secret=DHHC-1:00:ab==:,discovery')).toEqual(
      new Map([
        ['nqn', 'a'],
        ['dhchap_secret', 'DHHC-1:00:ab==:'],
        ['discovery', ''],
      ]),
    );
    expect(() => fakeFailure('EALREADY')).toThrow(RangeError);
    expect(() => fakeFailure('EBOGUS')).toThrow(RangeError);
  });
});
