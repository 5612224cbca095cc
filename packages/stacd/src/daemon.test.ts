// The daemon loop without D-Bus (useBus: false): configured controllers, coalescing of triggers,
// reloads (differences only; an unreadable file keeps the previous configuration), stop without
// disconnecting, explain. The D-Bus side is covered by test/integration/stacd-daemon.test.ts.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@stas/common/log/logger';
import { resolvePaths } from '@stas/common/paths';
import { FakeFabricsDevice } from '@stas/common/testing/fake-fabrics';
import { FAKE_HOSTID, FAKE_HOSTNQN } from '@stas/common/testing/sysfs-tree';
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

function daemon(): StacDaemon {
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
  });
  daemons.push(d);
  return d;
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
