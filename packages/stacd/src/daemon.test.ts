// The daemon loop without D-Bus (useBus: false): configured controllers, coalescing of triggers,
// reloads (differences only; an unreadable file keeps the previous configuration), stop without
// disconnecting, explain. The D-Bus side is covered by test/integration/stacd-daemon.test.ts.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FabricsDevice } from '@stas/common/kernel/fabrics-device';
import { createLogger } from '@stas/common/log/logger';
import { resolvePaths } from '@stas/common/paths';
import { FakeFabricsDevice, parseConnectString } from '@stas/common/testing/fake-fabrics';
import { FAKE_HOSTID, FAKE_HOSTNQN } from '@stas/common/testing/sysfs-tree';
import type { DaemonOptions } from './daemon.js';
import { StacDaemon } from './daemon.js';
import { IFACES } from './plan-test-support.js';

let root: string;
let fake: FakeFabricsDevice;
let lines: Record<string, unknown>[];
const daemons: StacDaemon[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'stacd-daemon-'));
  await mkdir(join(root, 'etc', 'stas'), { recursive: true });
  fake = new FakeFabricsDevice({ sysRoot: join(root, 'sys') });
  lines = [];
});
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop();
  await rm(root, { recursive: true, force: true });
});

const conf = (text: string) => writeFile(join(root, 'etc', 'stas', 'stacd.conf'), text);
const controller = (addr: string, nqn: string) => `controller = transport=tcp;traddr=${addr};nqn=${nqn}\n`;

function daemon(more: Partial<DaemonOptions> = {}): StacDaemon {
  const paths = resolvePaths({ STAS_ROOT: root });
  const d = new StacDaemon({
    confFile: join(paths.etcStas, 'stacd.conf'),
    sysConfFile: join(paths.etcStas, 'sys.conf'),
    paths,
    log: createLogger({
      name: 'stacd',
      level: 'info',
      format: 'json',
      sink: { write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) },
    }),
    fabrics: fake,
    useBus: false,
    uevents: null,
    identity: { hostnqn: FAKE_HOSTNQN, hostid: FAKE_HOSTID, hostkey: null, symname: null },
    interfaces: () => IFACES,
    resolve: () => Promise.reject(new Error('no DNS')),
    ...more,
  });
  daemons.push(d);
  return d;
}

/** The fake, except that connects to 10.0.0.1 wait for `gate` (a connect hung in the kernel). */
function gated(gate: Promise<void>): FabricsDevice {
  return {
    connect: (text, opts) =>
      parseConnectString(text).get('traddr') === '10.0.0.1'
        ? gate.then(() => fake.connect(text, opts))
        : fake.connect(text, opts),
    disconnect: (device, opts) => fake.disconnect(device, opts),
    probeOptions: (opts) => fake.probeOptions(opts),
    close: () => fake.close(),
  };
}

describe('StacDaemon without D-Bus', () => {
  it('connects configured controllers while stafd is unknown', async () => {
    await conf(`[Controllers]\n${controller('10.0.0.1', 'nqn.x:1')}`);
    const d = daemon();
    await d.start();
    await d.settled();
    expect(fake.live).toEqual(['nvme0']);
    expect(d.lastRound?.discovered).toMatchObject({ ok: false, reason: 'not-running' });
  });

  it('coalesces a burst of triggers into one round', async () => {
    const d = daemon();
    await d.start();
    await d.settled();
    const before = d.rounds;
    for (let i = 0; i < 50; i++) d.requestRound(`burst ${i}`);
    await d.settled();
    expect(d.rounds - before).toBe(1);
  });

  it('makes one more round for all the triggers that arrive while a round runs', async () => {
    const d = daemon();
    await d.start();
    await d.settled();
    const before = d.rounds;
    const off = d.onRound(() => {
      off();
      for (let i = 0; i < 50; i++) d.requestRound(`during ${i}`);
    });
    d.requestRound('first');
    await d.settled();
    expect(d.rounds - before).toBe(2);
  });

  it('plans once after a burst of connects, not once per finished connect', async () => {
    const n = 20;
    const addrs = Array.from({ length: n }, (_, i) => `10.0.1.${i + 1}`);
    await conf(`[Controllers]\n${addrs.map((a, i) => controller(a, `nqn.x:${i}`)).join('')}`);
    fake = new FakeFabricsDevice({ sysRoot: join(root, 'sys'), delayMs: 2 });
    // Holds long enough that only the executor going idle releases them: no timing in the result.
    const d = daemon({ fabrics: fake, concurrency: 2, outcomeQuietMs: 60_000, outcomeHoldMs: 60_000 });
    await d.start();
    await d.settled();
    expect(fake.live).toHaveLength(n);
    expect(fake.connects).toHaveLength(n);
    expect(d.rounds).toBe(2); // the first, and one after the burst
    expect(d.lastRound?.actions.every((a) => a.kind === 'keep' && a.reason === 'connected')).toBe(true);
  });

  it('never connects a controller again when its connect finishes while a round observes', async () => {
    await conf(
      `[Controllers]\n${controller('10.0.0.1', 'nqn.x:1')}controller = transport=tcp;traddr=h.example;nqn=nqn.x:2\n`,
    );
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let lookups = 0;
    const d: StacDaemon = daemon({
      fabrics: gated(gate),
      // Round 2's observation (it resolves h.example) lets the held connect finish in the middle of it.
      resolve: async () => {
        lookups += 1;
        if (lookups === 2) {
          open();
          await d.executor.idle();
        }
        throw new Error('no DNS');
      },
    });
    const first = new Promise<void>((resolve) => {
      d.onRound(() => {
        resolve();
      });
    });
    await d.start();
    await first;
    expect(d.executor.busy).toBe(true); // 10.0.0.1 waits at the gate
    d.requestRound('look again');
    await d.settled();
    expect(lookups).toBeGreaterThanOrEqual(3);
    expect(fake.connects).toHaveLength(1);
    expect(fake.live).toEqual(['nvme0']);
  });

  it('does not hold outcomes back for long while the executor waits on a slow connect', async () => {
    await conf(`[Controllers]\n${controller('10.0.0.1', 'nqn.x:1')}${controller('10.0.0.2', 'nqn.x:2')}`);
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const d = daemon({ fabrics: gated(gate), outcomeQuietMs: 5, outcomeHoldMs: 60_000 });
    const second = new Promise<void>((resolve) => {
      d.onRound(() => {
        if (d.rounds === 2) resolve();
      });
    });
    await d.start();
    await second; // 10.0.0.2 connected; its outcome was released while 10.0.0.1 still hangs
    expect(d.executor.busy).toBe(true);
    expect(fake.live).toEqual(['nvme0']);
    expect(d.lastRound?.actions.map((a) => `${a.kind}:${a.reason}`).sort()).toEqual([
      'connect:configured',
      'keep:connected',
    ]);
    open();
    await d.settled();
    expect(fake.live).toEqual(['nvme0', 'nvme1']);
  });

  it('applies only the differences on reload, and logs config problems with file:line', async () => {
    await conf(`[Controllers]\n${controller('10.0.0.1', 'nqn.x:1')}`);
    const d = daemon();
    await d.start();
    await d.settled();
    await conf(
      `[Controllers]\n${controller('10.0.0.1', 'nqn.x:1')}${controller('10.0.0.2', 'nqn.x:2')}controller = traddr=1.2.3.4\n`,
    );
    await d.reload();
    expect(fake.connects).toHaveLength(2);
    expect(fake.disconnects).toEqual([]);
    expect(lines.some((l) => l['level'] === 50 && String(l['msg']).includes('stacd.conf:4: error'))).toBe(
      true,
    );
    await conf(`[Controllers]\n${controller('10.0.0.2', 'nqn.x:2')}`);
    await d.reload();
    // Gone from the config, but stafd (not on any bus here) might still list it: kept.
    expect(fake.disconnects).toEqual([]);
    expect(d.lastRound?.actions.map((a) => `${a.kind}:${a.reason}`)).toEqual([
      'keep:stafd-unavailable',
      'keep:connected',
    ]);
  });

  it('keeps the previous configuration when the file cannot be read or disappears', async () => {
    await conf(`[Controllers]\n${controller('10.0.0.1', 'nqn.x:1')}`);
    const d = daemon();
    await d.start();
    await d.settled();
    await rm(join(root, 'etc', 'stas', 'stacd.conf'));
    await d.reload();
    await mkdir(join(root, 'etc', 'stas', 'stacd.conf'));
    await d.reload();
    expect(fake.disconnects).toEqual([]);
    expect(fake.live).toEqual(['nvme0']);
    expect(lines.some((l) => String(l['msg']).includes('previous configuration stays in force'))).toBe(true);
  });

  it('stops without disconnecting anything, and plans no more', async () => {
    await conf(`[Controllers]\n${controller('10.0.0.1', 'nqn.x:1')}`);
    const d = daemon();
    await d.start();
    await d.settled();
    await d.stop();
    const rounds = d.rounds;
    d.requestRound('after stop');
    await d.settled();
    expect(d.rounds).toBe(rounds);
    expect(fake.disconnects).toEqual([]);
    expect(lines.at(-1)?.['msg']).toBe('stopped; no controller was disconnected');
  });

  it('explains a fresh plan', async () => {
    await conf(`[Controllers]\n${controller('10.0.0.1', 'nqn.x:1')}`);
    const d = daemon();
    await d.start();
    await d.settled();
    const plan = JSON.parse(await d.explainJson()) as {
      fresh: boolean;
      stafd: { state: string };
      actions: { action: string; reason: string; device: string }[];
    };
    expect(plan.fresh).toBe(true);
    expect(plan.stafd.state).toBe('not-running');
    expect(plan.actions).toEqual([
      expect.objectContaining({ action: 'keep', reason: 'connected', device: 'nvme0' }),
    ]);
  });

  it('refuses to start without a readable stacd.conf', async () => {
    await mkdir(join(root, 'etc', 'stas', 'stacd.conf'));
    await expect(daemon().start()).rejects.toMatchObject({ code: 'STACD_CONFIG_UNREADABLE' });
  });
});
