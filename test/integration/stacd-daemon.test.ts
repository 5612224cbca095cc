// stacd end to end in one process: a private dbus-daemon, a fake stafd publishing canned log pages
// (fixtures/fake-stafd.ts), the daemon (packages/stacd/src/daemon.ts) with a FakeFabricsDevice that
// creates controllers in a fake sysfs tree, the real registry code on a temporary /run, and stacctl
// talking to the daemon over the bus.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readOwner } from '@stas/common/kernel/registry';
import { interfacesFromNode } from '@stas/common/kernel/net-interfaces';
import { createLogger } from '@stas/common/log/logger';
import { resolvePaths } from '@stas/common/paths';
import { FakeFabricsDevice } from '@stas/common/testing/fake-fabrics';
import { FAKE_HOSTID, FAKE_HOSTNQN, writeFakeController } from '@stas/common/testing/sysfs-tree';
import { StacDaemon } from '../../packages/stacd/src/daemon.js';
import { runStacctl } from '../../packages/stacd/src/cli/stacctl.js';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';
import { FakeStafd, type FakeDc } from './fixtures/fake-stafd.js';
import { recordTiming } from './fixtures/timings.js';
import { waitFor } from './fixtures/wait.js';

const S1 = 'nqn.2019-08.org.stas:s1';
const S2 = 'nqn.2019-08.org.stas:s2';
const S3 = 'nqn.2019-08.org.stas:s3';
const DC: Omit<FakeDc, 'entries'> = { traddr: '192.0.2.1' };
const IFACES = interfacesFromNode({
  lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '', internal: true, cidr: null }],
});

let bus: DbusDaemon;
let root: string;
let stafd: FakeStafd;
let fake: FakeFabricsDevice;
let lines: Record<string, unknown>[];
const daemons: StacDaemon[] = [];

beforeAll(async () => {
  bus = await startDbusDaemon();
});
afterAll(async () => {
  await bus.close();
});

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'stacd-it-'));
  await mkdir(join(root, 'etc', 'stas'), { recursive: true });
  await mkdir(join(root, 'etc', 'nvme'), { recursive: true });
  await mkdir(join(root, 'sys', 'class', 'nvme'), { recursive: true });
  stafd = new FakeStafd(bus.address);
  fake = new FakeFabricsDevice({ sysRoot: join(root, 'sys') });
  lines = [];
});
afterEach(async () => {
  try {
    for (const d of daemons.splice(0)) await d.stop();
  } finally {
    await stafd.stop();
    await rm(root, { recursive: true, force: true });
  }
});

async function writeConf(text: string): Promise<void> {
  await writeFile(join(root, 'etc', 'stas', 'stacd.conf'), text);
}

async function startStacd(): Promise<StacDaemon> {
  const paths = resolvePaths({ STAS_ROOT: root });
  const daemon = new StacDaemon({
    confFile: join(paths.etcStas, 'stacd.conf'),
    sysConfFile: join(paths.etcStas, 'sys.conf'),
    paths,
    log: createLogger({
      name: 'stacd',
      level: 'debug',
      format: 'json',
      sink: { write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) },
    }),
    fabrics: fake,
    busAddress: bus.address,
    uevents: null,
    identity: { hostnqn: FAKE_HOSTNQN, hostid: FAKE_HOSTID, hostkey: null, symname: null },
    interfaces: () => IFACES,
    resolve: () => Promise.reject(new Error('no DNS in tests')),
  });
  daemons.push(daemon);
  await daemon.start();
  await daemon.settled();
  return daemon;
}

async function stacctl(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await runStacctl(argv, {
    env: { DBUS_SYSTEM_BUS_ADDRESS: bus.address },
    out: (t) => (out += t),
    err: (t) => (err += t),
  });
  return { status, out, err };
}

/** The kernel controllers (by instance) the fake holds, with their subsystem. */
function liveSubsystems(): string[] {
  return fake.connects
    .filter((c) => c.outcome.ok && c.outcome.kind === 'connected')
    .filter((c) => c.outcome.ok && c.outcome.kind === 'connected' && fake.live.includes(c.outcome.device))
    .map((c) => c.tokens.get('nqn') ?? '')
    .sort();
}

async function untilSettled(
  daemon: StacDaemon,
  what: string,
  condition: () => boolean | Promise<boolean>,
): Promise<void> {
  await waitFor(async () => (await condition()) || undefined, { timeoutMs: 10_000, what });
  await daemon.settled();
}

const twoSubsystems: FakeDc[] = [
  {
    ...DC,
    entries: [
      { traddr: '192.0.2.10', subnqn: S1 },
      { traddr: '192.0.2.10', subnqn: S2 },
    ],
  },
];

describe('stacd with a fake stafd on a private bus', () => {
  it('connects what stafd discovered, claims it for stas, and stacctl ls --json shows it', async () => {
    await stafd.start(twoSubsystems);
    const daemon = await startStacd();
    await untilSettled(daemon, 'two controllers connected', () => fake.live.length === 2);
    expect(liveSubsystems()).toEqual([S1, S2]);
    for (const device of fake.live)
      expect(await readOwner({ run: join(root, 'run'), sys: join(root, 'sys') }, device)).toBe('stas');

    const ls = await stacctl('ls', '--json');
    expect(ls.status).toBe(0);
    const list = JSON.parse(ls.out) as Record<string, string>[];
    expect(list.map((c) => [c['subsysnqn'], c['traddr'], c['trsvcid'], c['device']])).toEqual([
      [S1, '192.0.2.10', '4420', 'nvme0'],
      [S2, '192.0.2.10', '4420', 'nvme1'],
    ]);
    const detailed = JSON.parse((await stacctl('ls', '--detailed', '--json')).out) as Record<
      string,
      string
    >[];
    expect(detailed.map((c) => [c['state'], c['origin'], c['connected']])).toEqual([
      ['connected', 'discovered', 'true'],
      ['connected', 'discovered', 'true'],
    ]);
    const table = await stacctl('ls');
    expect(table.out).toMatch(/^DEVICE +STATE +ORIGIN/);
    expect(table.out).toMatch(
      /nvme0 +connected +discovered +tcp +192\.0\.2\.10:4420 +nqn\.2019-08\.org\.stas:s1/,
    );
  });

  it('connects a subsystem announced by log_pages_changed, and logs one decision line for it', async () => {
    await stafd.start(twoSubsystems);
    const daemon = await startStacd();
    await untilSettled(daemon, 'two connected', () => fake.live.length === 2);
    const started = performance.now();
    stafd.setPages([
      { ...DC, entries: [...(twoSubsystems[0]?.entries ?? []), { traddr: '192.0.2.10', subnqn: S3 }] },
    ]);
    await untilSettled(daemon, 'third connected', () => fake.live.length === 3);
    recordTiming(
      'stacd',
      'log_pages_changed → third controller connected (fake kernel)',
      performance.now() - started,
    );
    const decisions = lines.filter((l) => l['action'] === 'connect' && l['level'] === 30);
    expect(decisions.map((l) => l['reason'])).toEqual(['discovered', 'discovered', 'discovered']);
    expect(decisions[2]?.['tid']).toBe(`(tcp, 192.0.2.10, 4420, ${S3})`);
  });

  it('keeps every connection when stafd leaves the bus', async () => {
    await stafd.start(twoSubsystems);
    const daemon = await startStacd();
    await untilSettled(daemon, 'two connected', () => fake.live.length === 2);
    const rounds = daemon.rounds;
    await stafd.stop();
    await untilSettled(daemon, 'a round after stafd left', () => daemon.rounds > rounds);
    expect(daemon.lastRound?.discovered.ok).toBe(false);
    expect(fake.disconnects).toEqual([]);
    expect(fake.live).toHaveLength(2);
    const explain = JSON.parse((await stacctl('explain', '--json')).out) as { actions: { reason: string }[] };
    expect(explain.actions.map((a) => a.reason)).toEqual(['stafd-unavailable', 'stafd-unavailable']);
  });

  it('disconnects an entry removed while stafd is present (only-stas-connections)', async () => {
    await stafd.start(twoSubsystems);
    const daemon = await startStacd();
    await untilSettled(daemon, 'two connected', () => fake.live.length === 2);
    stafd.setPages([{ ...DC, entries: [{ traddr: '192.0.2.10', subnqn: S1 }] }]);
    await untilSettled(daemon, 'one disconnected', () => fake.disconnects.length === 1);
    expect(fake.disconnects).toEqual(['nvme1']);
    expect(await readOwner({ run: join(root, 'run'), sys: join(root, 'sys') }, 'nvme1')).toBeUndefined();
  });

  it('keeps a removed entry under disconnect-scope = no-disconnect', async () => {
    await writeConf('[I/O controller connection management]\ndisconnect-scope = no-disconnect\n');
    await stafd.start(twoSubsystems);
    const daemon = await startStacd();
    await untilSettled(daemon, 'two connected', () => fake.live.length === 2);
    const rounds = daemon.rounds;
    stafd.setPages([{ ...DC, entries: [{ traddr: '192.0.2.10', subnqn: S1 }] }]);
    await untilSettled(daemon, 'a round', () => daemon.rounds > rounds);
    expect(fake.disconnects).toEqual([]);
    const explain = JSON.parse((await stacctl('explain', '--json')).out) as {
      actions: { reason: string; device: string }[];
    };
    expect(explain.actions.find((a) => a.device === 'nvme1')?.reason).toBe('scope-no-disconnect');
  });

  it('exclude= plus a reload disconnects only the excluded controller', async () => {
    await stafd.start(twoSubsystems);
    const daemon = await startStacd();
    await untilSettled(daemon, 'two connected', () => fake.live.length === 2);
    await writeConf(`[Controllers]\nexclude = nqn=${S2}\nexclude = transport=bogus;traddr=\n`);
    await daemon.reload();
    expect(fake.disconnects).toEqual(['nvme1']);
    expect(fake.live).toEqual(['nvme0']);
    expect(lines.some((l) => l['level'] === 40 && String(l['msg']).includes('stacd.conf:3:'))).toBe(true);
    const explain = JSON.parse((await stacctl('explain', '--json')).out) as {
      actions: { action: string; reason: string }[];
    };
    expect(explain.actions.map((a) => `${a.action}:${a.reason}`).sort()).toEqual([
      'keep:connected',
      'skip:excluded',
    ]);
  });

  it('adopts the connections after a restart without reconnecting (instance numbers unchanged)', async () => {
    await stafd.start(twoSubsystems);
    const first = await startStacd();
    await untilSettled(first, 'two connected', () => fake.live.length === 2);
    await first.stop();
    expect(fake.disconnects).toEqual([]);
    const before = [...fake.live];
    const connects = fake.connects.length;
    const second = await startStacd();
    await second.settled();
    expect(fake.connects).toHaveLength(connects);
    expect(fake.live).toEqual(before);
    expect(second.lastRound?.actions.map((a) => `${a.kind}:${a.reason}`)).toEqual([
      'keep:connected',
      'keep:connected',
    ]);
  });

  it('adopts a matching controller it did not create, and never disconnects one made by hand', async () => {
    const sys = join(root, 'sys');
    // nvme0: matches a discovered entry, unowned (e.g. connected before stacd ran) → adopted.
    await writeFakeController(sys, {
      instance: 0,
      subsysnqn: S1,
      traddr: '192.0.2.10',
      hostnqn: FAKE_HOSTNQN,
      hostid: FAKE_HOSTID,
    });
    // nvme5: `nvme connect` by hand, not discovered, unowned → left alone.
    await writeFakeController(sys, { instance: 5, subsysnqn: 'nqn.manual:x', traddr: '192.0.2.50' });
    await stafd.start([{ ...DC, entries: [{ traddr: '192.0.2.10', subnqn: S1 }] }]);
    const daemon = await startStacd();
    await daemon.settled();
    const reg = { run: join(root, 'run'), sys };
    expect(fake.connects).toHaveLength(0);
    expect(await readOwner(reg, 'nvme0')).toBe('stas');
    expect(await readOwner(reg, 'nvme5')).toBeUndefined();
    stafd.setPages([{ ...DC, entries: [] }]);
    await untilSettled(daemon, 'nvme0 disconnected', () => fake.disconnects.length === 1);
    expect(fake.disconnects).toEqual(['nvme0']);
  });

  it('serves status, tron/troff and explain to stacctl, and says when stacd is not running', async () => {
    await stafd.start(twoSubsystems);
    const daemon = await startStacd();
    await untilSettled(daemon, 'two connected', () => fake.live.length === 2);
    const status = JSON.parse((await stacctl('status', '--json')).out) as {
      process: Record<string, unknown>;
      controllers: unknown[];
    };
    expect(status.process).toMatchObject({
      tron: false,
      hostnqn: FAKE_HOSTNQN,
      hostkey: null,
      stafd: 'on the bus',
    });
    expect(status.controllers).toHaveLength(2);
    expect(await stacctl('tron')).toEqual({ status: 0, out: 'tron = true\n', err: '' });
    expect(daemon.tron).toBe(true);
    expect(await stacctl('troff')).toEqual({ status: 0, out: 'tron = false\n', err: '' });
    const human = await stacctl('explain');
    expect(human.out).toMatch(/^plan: /);
    expect(human.out).toMatch(/keep +connected +nvme0 +tcp 192\.0\.2\.10:4420/);
    await daemon.stop();
    const gone = await stacctl('ls');
    expect(gone.status).toBe(1);
    expect(gone.err).toMatch(/^stacctl: stacd is not running \(nobody owns org\.nvmexpress\.stac on /);
  });

  it('runs without stafd at start, connects configured controllers, and catches up when stafd appears', async () => {
    await writeConf(
      '[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.20;nqn=nqn.2019-08.org.stas:cfg\n',
    );
    const daemon = await startStacd();
    await untilSettled(daemon, 'configured controller connected', () => fake.live.length === 1);
    expect(daemon.lastRound?.discovered.ok).toBe(false);
    await stafd.start(twoSubsystems);
    await untilSettled(daemon, 'discovered ones connected', () => fake.live.length === 3);
    expect(fake.disconnects).toEqual([]);
  });
});
