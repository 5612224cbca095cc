/**
 * The kernel interface of packages/common/src/kernel against the real guest
 * kernel (nvme-tcp host, nvmet target): option probing, connect strings built
 * by connect-args written through the fabrics worker pool, the "already
 * connected" outcome, block I/O on the new namespace, the sysfs snapshot
 * compared with raw sysfs and `nvme list-subsys -o json`, the registry, the
 * uevent monitor (add, change NVME_EVENT=connected, change NVME_AEN=0x70f002
 * on a persistent discovery controller, remove) and delete_controller.
 *
 * Runs inside the e2e guest (test/e2e/run); touches the guest's nvmet,
 * /dev/nvme-fabrics, /sys, /run/nvme/registry and /dev/nvme*.
 * With STAS_E2E_TIMINGS=<file> set, writes the measured timings there as JSON.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { buildConnectArgs } from '@stas/common/kernel/connect-args';
import {
  controllerMatchesTid,
  findControllerForTid,
  tidOfController,
} from '@stas/common/kernel/controller-match';
import { KernelFabricsDevice } from '@stas/common/kernel/fabrics-device';
import type { FabricsOptionSet } from '@stas/common/kernel/fabrics-options';
import { parseFabricsOptions } from '@stas/common/kernel/fabrics-options';
import type { ConnectSuccess } from '@stas/common/kernel/fabrics-outcome';
import { readInterfaces } from '@stas/common/kernel/net-interfaces';
import { claimController, listRegistry, readOwner, releaseController } from '@stas/common/kernel/registry';
import { isDiscoveryController, isIoController } from '@stas/common/kernel/sysfs-parse';
import type { NvmeController } from '@stas/common/kernel/sysfs-parse';
import { readSysfsSnapshot } from '@stas/common/kernel/sysfs';
import {
  AEN_DISCOVERY_LOG_CHANGED,
  deviceOfUevent,
  nvmeAenOf,
  nvmeEventOf,
} from '@stas/common/kernel/uevent-parse';
import type { Uevent } from '@stas/common/kernel/uevent-parse';
import type { UeventNotice, UeventWatch } from '@stas/common/kernel/uevents';
import { UeventMonitor } from '@stas/common/kernel/uevents';
import type { Tid, TidRole } from '@stas/common/nvme/tid';
import { WELL_KNOWN_DISCOVERY_NQN, createTid } from '@stas/common/nvme/tid';

import { hostIdentity } from './lib/fabrics.js';
import type { HostIdentity } from './lib/fabrics.js';
import { run } from './lib/run.js';
import { applyTarget, linkSubsystem, namespaceBackingFile, nvmet, resetTarget } from './lib/target.js';
import type { TargetSpec } from './lib/target.js';
import { waitFor } from './lib/wait-for.js';

const NQN_ONE = 'nqn.2024-01.io.stas.e2e:kernel-one';
const NQN_TWO = 'nqn.2024-01.io.stas.e2e:kernel-two';
const NQN_LATE = 'nqn.2024-01.io.stas.e2e:kernel-late';
const LOCALHOST = '127.0.0.1';

const TARGET: TargetSpec = {
  subsystems: [
    { nqn: NQN_ONE, serial: 'k0001', model: 'stas-kernel-one', namespaces: [{ nsid: 1, size: '16M' }] },
    { nqn: NQN_TWO, serial: 'k0002', namespaces: [{ nsid: 1, size: '16M' }] },
  ],
  ports: [
    { id: 1, traddr: LOCALHOST, trsvcid: '8009', subsystems: [NQN_ONE, NQN_TWO] },
    { id: 2, traddr: LOCALHOST, trsvcid: '4420', subsystems: [NQN_ONE, NQN_TWO] },
  ],
};

const timings: Record<string, number> = {};
let fabrics: KernelFabricsDevice;
let monitor: UeventMonitor;
let host: HostIdentity;
let probed: FabricsOptionSet;
const registry = { run: '/run', sys: '/sys' };

function tidFor(nqn: string, trsvcid: string, role: TidRole): Tid {
  return createTid(
    {
      transport: 'tcp',
      traddr: LOCALHOST,
      trsvcid,
      subsysnqn: nqn,
      hostNqn: host.hostnqn,
      hostId: host.hostid,
    },
    { role },
  );
}

async function controller(device: string): Promise<NvmeController> {
  const found = (await readSysfsSnapshot('/sys')).controllers.find((c) => c.device === device);
  if (found === undefined) throw new Error(`${device} is not in sysfs`);
  return found;
}

/** Notices until `done(collected)` holds; rejects after `ms`. */
async function collect(
  watch: UeventWatch,
  done: (events: readonly Uevent[]) => boolean,
  ms = 20_000,
): Promise<Uevent[]> {
  const events: Uevent[] = [];
  const deadline = performance.now() + ms;
  let pending: Promise<IteratorResult<UeventNotice>> | undefined;
  while (!done(events)) {
    const left = deadline - performance.now();
    if (left <= 0)
      throw new Error(`uevents so far: ${JSON.stringify(events.map((e) => [e.action, e.devpath]))}`);
    pending ??= watch.next();
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      pending,
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => {
          resolve('timeout');
        }, left);
      }),
    ]).finally(() => {
      clearTimeout(timer);
    });
    if (r === 'timeout') continue; // the next() stays pending; the deadline check ends the loop
    pending = undefined;
    if (r.done === true) throw new Error('the uevent watch ended');
    if (r.value.kind === 'uevent') events.push(r.value.event);
  }
  return events;
}

const forDevice = (device: string) => (e: Uevent) => deviceOfUevent(e) === device;

beforeAll(async () => {
  host = await hostIdentity();
  fabrics = new KernelFabricsDevice({ fabricsDevice: '/dev/nvme-fabrics', sys: '/sys' });
  monitor = new UeventMonitor({ pollIntervalMs: 50 });
  probed = await fabrics.probeOptions();
});

afterAll(async () => {
  monitor.close();
  await fabrics.close();
  await resetTarget();
  const file = process.env.STAS_E2E_TIMINGS;
  if (file !== undefined && file !== '') await writeFile(file, `${JSON.stringify(timings, null, 2)}\n`);
});

beforeEach(async () => {
  await resetTarget();
  await applyTarget(TARGET);
});

describe('kernel interface against the guest kernel', () => {
  it('probes the options the guest kernel lists, exactly as /dev/nvme-fabrics shows them', async () => {
    const { stdout } = await run('cat', ['/dev/nvme-fabrics']);
    expect(probed.source).toBe('kernel');
    expect(probed.options).toEqual(parseFabricsOptions(stdout));
    for (const name of [
      'nqn',
      'transport',
      'traddr',
      'trsvcid',
      'hostnqn',
      'hostid',
      'host_iface',
      'queue_size',
      'discovery',
    ]) {
      expect(probed.options.has(name)).toBe(true);
    }
  });

  it('connects an I/O controller, reports add and connected uevents, carries block I/O, refuses a duplicate, deletes it', async () => {
    const tid = tidFor(NQN_ONE, '4420', 'io');
    const args = buildConnectArgs({
      tid,
      role: 'io',
      options: { 'queue-size': 32, 'nr-io-queues': 1, 'ctrl-loss-tmo': 120, 'reconnect-delay': 5 },
      supported: probed.options,
    });
    expect(args.omitted).toEqual([]);
    const watch = monitor.watch();
    await expect(watch.ready).resolves.toBe('netlink');

    // The event loop keeps running while the worker waits in the kernel for the connection.
    const gaps: number[] = [];
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      gaps.push(now - last);
      last = now;
    }, 10);
    const t0 = performance.now();
    const outcome = await fabrics.connect(args.text);
    timings.connectIoMs = performance.now() - t0;
    clearInterval(ticker);
    timings.connectIoLoopTicks = gaps.length;
    timings.connectIoMaxLoopGapMs = Math.max(0, ...gaps);
    expect(outcome).toMatchObject({ ok: true, kind: 'connected' });
    const { device } = outcome as ConnectSuccess;
    expect(timings.connectIoMaxLoopGapMs).toBeLessThan(1000);

    const events = await collect(
      watch,
      (es) =>
        es.some((e) => forDevice(device)(e) && nvmeEventOf(e) === 'connected') &&
        es.some((e) => e.action === 'add'),
    );
    const mine = events.filter(forDevice(device));
    expect(mine[0]).toMatchObject({ action: 'add', subsystem: 'nvme' });
    expect(mine[0]?.properties).toMatchObject({
      NVME_TRTYPE: 'tcp',
      NVME_TRADDR: LOCALHOST,
      NVME_TRSVCID: '4420',
    });
    expect(mine.some((e) => e.action === 'change' && nvmeEventOf(e) === 'connected')).toBe(true);

    // sysfs: what connect-args asked for is what the kernel did (queue_size really sent: sqsize = 31).
    const c = await controller(device);
    expect(c).toMatchObject({ transport: 'tcp', subsysnqn: NQN_ONE, cntrltype: 'io', state: 'live' });
    expect(isIoController(c)).toBe(true);
    expect(controllerMatchesTid(c, tid, readInterfaces(), { role: 'io' })).toBe(true);
    expect(tidOfController(c)).toEqual(tid);
    expect((await readFile(`/sys/class/nvme/${device}/sqsize`, 'utf8')).trim()).toBe('31');
    expect((await readFile(`/sys/class/nvme/${device}/queue_count`, 'utf8')).trim()).toBe('2');
    expect(c.ctrlLossTmoSec).toBe(120);
    expect(c.reconnectDelaySec).toBe(5);

    // block I/O through the namespace the snapshot names
    const blockDevice = await waitFor(
      async () => {
        const ns = (await controller(device)).namespaces[0];
        return ns !== undefined && existsSync(`/dev/${ns}`) ? `/dev/${ns}` : undefined;
      },
      { timeoutMs: 10_000, what: `namespace block device of ${device}` },
    );
    const pattern = randomBytes(1024 * 1024);
    await writeFile('/tmp/kernel-e2e-pattern', pattern);
    await run('dd', [
      'if=/tmp/kernel-e2e-pattern',
      `of=${blockDevice}`,
      'bs=1M',
      'oflag=direct',
      'conv=fsync',
      'status=none',
    ]);
    await run('dd', [
      `if=${blockDevice}`,
      'of=/tmp/kernel-e2e-back',
      'bs=1M',
      'count=1',
      'iflag=direct',
      'status=none',
    ]);
    expect((await readFile('/tmp/kernel-e2e-back')).equals(pattern)).toBe(true);
    const backing = await readFile(await namespaceBackingFile(NQN_ONE, 1));
    expect(backing.subarray(0, pattern.length).equals(pattern)).toBe(true);

    // the same connection again: the typed "already connected" outcome, no new controller
    const before = (await readSysfsSnapshot('/sys')).controllers.length;
    await expect(fabrics.connect(args.text)).resolves.toEqual({ ok: true, kind: 'already-connected' });
    expect((await readSysfsSnapshot('/sys')).controllers.length).toBe(before);
    expect(
      findControllerForTid((await readSysfsSnapshot('/sys')).controllers, tid, readInterfaces())?.device,
    ).toBe(device);

    // registry: claim what we created, list it, release it
    await expect(claimController(registry, device)).resolves.toEqual({ ok: true, kind: 'claimed' });
    expect(await readOwner(registry, device)).toBe('stas');
    expect((await listRegistry(registry)).map((e) => [e.device, e.owner])).toContainEqual([device, 'stas']);

    const t1 = performance.now();
    await expect(fabrics.disconnect(device)).resolves.toEqual({ ok: true, kind: 'deleted' });
    timings.deleteIoMs = performance.now() - t1;
    await collect(watch, (es) => es.some((e) => forDevice(device)(e) && e.action === 'remove'));
    expect(existsSync(`/sys/class/nvme/${device}`)).toBe(false);
    expect((await listRegistry(registry)).map((e) => e.device)).not.toContain(device); // stale: skipped
    await expect(releaseController(registry, device)).resolves.toEqual({ ok: true, kind: 'released' });
    await expect(fabrics.disconnect(device)).resolves.toEqual({
      ok: true,
      kind: 'already-gone',
    });
    await watch.return();
  });

  it('reads real controllers exactly as raw sysfs and `nvme list-subsys -o json` show them', async () => {
    const dcTid = tidFor(WELL_KNOWN_DISCOVERY_NQN, '8009', 'discovery');
    const outcomes = await Promise.all([
      fabrics.connect(
        buildConnectArgs({
          tid: tidFor(NQN_ONE, '4420', 'io'),
          role: 'io',
          options: {},
          supported: probed.options,
        }).text,
      ),
      fabrics.connect(
        buildConnectArgs({
          tid: tidFor(NQN_TWO, '4420', 'io'),
          role: 'io',
          options: {},
          supported: probed.options,
        }).text,
      ),
      fabrics.connect(
        buildConnectArgs({ tid: dcTid, role: 'discovery', options: { kato: 30 }, supported: probed.options })
          .text,
      ),
    ]);
    expect(outcomes.map((o) => o.kind)).toEqual(['connected', 'connected', 'connected']);

    const t0 = performance.now();
    const snap = await readSysfsSnapshot('/sys');
    timings.snapshot3Ms = performance.now() - t0;
    expect(snap.errors).toEqual([]);
    expect(snap.controllers).toHaveLength(3);

    for (const c of snap.controllers) {
      const attr = async (name: string) =>
        (await readFile(`/sys/class/nvme/${c.device}/${name}`, 'utf8')).trim();
      expect(c.transport).toBe(await attr('transport'));
      expect(c.subsysnqn).toBe(await attr('subsysnqn'));
      expect(c.state).toBe(await attr('state'));
      expect(c.cntrltype).toBe(await attr('cntrltype'));
      expect(c.dctype).toBe(await attr('dctype'));
      expect(c.hostnqn).toBe(host.hostnqn);
      expect(c.hostid).toBe(host.hostid);
      expect(String(c.cntlid)).toBe(await attr('cntlid'));
      expect(String(c.katoSec)).toBe(await attr('kato'));
      expect(c.model).toBe(await attr('model'));
      expect(c.serial).toBe(await attr('serial'));
      expect(c.address).toMatchObject({
        traddr: LOCALHOST,
        srcAddr: LOCALHOST,
        hostTraddr: '',
        hostIface: '',
      });
      expect(`traddr=${c.address?.traddr},trsvcid=${c.address?.trsvcid},src_addr=${c.address?.srcAddr}`).toBe(
        await attr('address'),
      );
    }
    const dc = snap.controllers.find((c) => c.subsysnqn === WELL_KNOWN_DISCOVERY_NQN);
    expect(dc && [isDiscoveryController(dc), isIoController(dc), dc.katoSec, dc.namespaces]).toEqual([
      true,
      false,
      30,
      [],
    ]);
    expect(dc && controllerMatchesTid(dc, dcTid, readInterfaces(), { role: 'discovery' })).toBe(true);
    for (const io of snap.controllers.filter((c) => c !== dc)) {
      expect(io.namespaces).toHaveLength(1);
      expect(io.subsystem?.namespaces).toEqual(io.namespaces);
    }

    interface Path {
      Name: string;
      Transport: string;
      Address: string;
      State: string;
    }
    interface Subsys {
      Name: string;
      NQN: string;
      Paths: Path[];
    }
    const { stdout } = await run('nvme', ['list-subsys', '-o', 'json']);
    const parsed = JSON.parse(stdout) as { Subsystems: Subsys[] }[] | { Subsystems: Subsys[] };
    const subsystems = (Array.isArray(parsed) ? parsed : [parsed]).flatMap((h) => h.Subsystems);
    const fromCli = subsystems
      .flatMap((s) =>
        s.Paths.map((p) => ({
          name: s.Name,
          nqn: s.NQN,
          device: p.Name,
          transport: p.Transport,
          address: p.Address,
          state: p.State,
        })),
      )
      .sort((a, b) => a.device.localeCompare(b.device));
    const fromUs = snap.controllers
      .map((c) => ({
        name: c.subsystem?.name,
        nqn: c.subsystem?.subsysnqn,
        device: c.device,
        transport: c.transport,
        address: `traddr=${c.address?.traddr},trsvcid=${c.address?.trsvcid},src_addr=${c.address?.srcAddr}`,
        state: c.state,
      }))
      .sort((a, b) => a.device.localeCompare(b.device));
    expect(fromUs).toEqual(fromCli);
  });

  it('reports the discovery-log-change AEN of a persistent discovery controller', async () => {
    const watch = monitor.watch();
    await watch.ready;
    const args = buildConnectArgs({
      tid: tidFor(WELL_KNOWN_DISCOVERY_NQN, '8009', 'discovery'),
      role: 'discovery',
      options: { kato: 30 },
      supported: probed.options,
    });
    const t0 = performance.now();
    const outcome = await fabrics.connect(args.text);
    timings.connectDcMs = performance.now() - t0;
    expect(outcome).toMatchObject({ ok: true, kind: 'connected' });
    const { device } = outcome as ConnectSuccess;
    await collect(watch, (es) => es.some((e) => forDevice(device)(e) && nvmeEventOf(e) === 'connected'));

    await nvmet('subsystem', NQN_LATE);
    const t1 = performance.now();
    await linkSubsystem(1, NQN_LATE);
    const events = await collect(watch, (es) =>
      es.some((e) => forDevice(device)(e) && nvmeAenOf(e) !== undefined),
    );
    timings.aenAfterLinkMs = performance.now() - t1;
    const aen = events.find((e) => forDevice(device)(e) && nvmeAenOf(e) !== undefined);
    expect(aen?.action).toBe('change');
    expect(aen && nvmeAenOf(aen)).toBe(AEN_DISCOVERY_LOG_CHANGED);
    expect(aen?.properties['NVME_AEN']).toBe('0x70f002');

    await expect(fabrics.disconnect(device)).resolves.toEqual({ ok: true, kind: 'deleted' });
    await collect(watch, (es) => es.some((e) => forDevice(device)(e) && e.action === 'remove'));
    await watch.return();
  });

  it('maps a refused TCP connection to a typed failure', async () => {
    const args = buildConnectArgs({
      tid: tidFor(NQN_ONE, '4430', 'io'),
      role: 'io',
      options: {},
      supported: probed.options,
    });
    const outcome = await fabrics.connect(args.text);
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'connection-refused',
      errno: 'ECONNREFUSED',
      transient: true,
    });
  });
});
