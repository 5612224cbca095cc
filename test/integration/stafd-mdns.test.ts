// stafd's mDNS path end to end, with the built daemon and stafctl: a DC simulator and an avahi-daemon
// publishing `_nvme-disc._tcp 8009 p=tcp` (avahi-publish) run in namespace A; stafd runs in namespace B,
// so its discovery session crosses the veth. The announced DC must appear in `stafctl ls --json` with
// B's interface as host-iface and its entries in `stafctl adlp --json`; once the announcement is
// withdrawn and the simulator stopped it must be purged after zeroconf-connections-persistence (2 s).
// Two ways of finding it: (1) through an avahi-daemon in B on stafd's bus, (2) with no avahi on stafd's
// bus, through stafd's embedded browser (which starts at once when avahi is absent at start-up).
// Needs root, iproute2, avahi-daemon/avahi-publish, dbus-daemon and `npx tsc -b` (skipped otherwise).
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAvahi, type AvahiDaemon } from './fixtures/avahi.js';
import { Cleanup } from './fixtures/cleanup.js';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';
import { createNetnsPair, type Link, type NetnsPair } from './fixtures/netns.js';
import { recordTiming } from './fixtures/timings.js';
import { waitFor } from './fixtures/wait.js';

const run = promisify(execFile);
const path = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url));
const STAFD = path('../../packages/stafd/bin/stafd.js');
const STAFCTL = path('../../packages/stafd/bin/stafctl.js');
const DC_SIM = path('../../packages/common/dist/testing/dc-sim/dc-sim-main.js');
const BUILT = [
  path('../../packages/stafd/dist/main.js'),
  path('../../packages/stafd/dist/cli/main.js'),
  DC_SIM,
].every((file) => existsSync(file));

const TYPE = '_nvme-disc._tcp';
const HOST_NQN = 'nqn.2014-08.org.nvmexpress:uuid:7d1c3a52-2f0e-4a55-9a1f-3c2b8e5d6f01';
const HOST_ID = '7d1c3a52-2f0e-4a55-9a1f-3c2b8e5d6f01';
const SUBSYS = 'nqn.2024-01.io.stas.test:mdns-subsys';
const PERSISTENCE_S = 2;

/** A child process started with `ip netns exec`, its output kept for waits and failure messages. */
interface NsChild {
  readonly output: () => string;
  readonly exited: () => boolean;
  /** SIGTERM (or `signal`), then wait for the exit; SIGKILL after 5 s. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function watchChild(child: ChildProcess): NsChild {
  let output = '';
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const onData = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    output: () => output,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (exited()) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    },
  };
}

async function stafctl(busAddress: string, ...argv: string[]): Promise<unknown> {
  const { stdout } = await run(process.execPath, [STAFCTL, ...argv, '--bus-address', busAddress], {
    timeout: 10_000,
  });
  return JSON.parse(stdout);
}

interface ControllerDict {
  readonly traddr: string;
  readonly trsvcid: string;
  readonly transport: string;
  readonly 'host-iface': string;
  readonly 'host-nqn': string;
}

async function controllers(busAddress: string): Promise<readonly ControllerDict[]> {
  const ls = (await stafctl(busAddress, 'ls', '--json')) as { controllers: ControllerDict[] };
  return ls.controllers;
}

interface Scenario {
  readonly net: NetnsPair;
  readonly link: Link;
  readonly avahiA: AvahiDaemon;
  readonly bus: DbusDaemon;
  readonly sim: NsChild;
  readonly stafd: NsChild;
}

/**
 * Namespace A: avahi (own bus) + the DC simulator on A's address, port 8009. Namespace B: stafd on
 * `bus`, with an avahi-daemon on that bus when `avahiInB`.
 */
async function startScenario(cleanup: Cleanup, avahiInB: boolean): Promise<Scenario> {
  const net = await createNetnsPair();
  cleanup.add(() => net.close());
  const link = net.links[0]!;
  const avahiA = await startAvahi({ ns: net.nsA, hostName: 'dchost', interfaces: [link.a.iface] });
  cleanup.add(() => avahiA.close());

  const dir = await mkdtemp(join(tmpdir(), 'stas-stafd-mdns-'));
  cleanup.add(() => rm(dir, { recursive: true, force: true }));
  const etc = join(dir, 'etc/stas');
  const runtime = join(dir, 'run/stafd');
  await mkdir(etc, { recursive: true });
  await mkdir(join(dir, 'etc/nvme'), { recursive: true });
  await mkdir(runtime, { recursive: true });
  await writeFile(
    join(etc, 'stafd.conf'),
    [
      '[Service Discovery]',
      'zeroconf = enabled',
      '[Discovery controller connection management]',
      `zeroconf-connections-persistence = ${PERSISTENCE_S}s`,
      '',
    ].join('\n'),
  );
  await writeFile(join(etc, 'sys.conf'), `[Host]\nnqn = ${HOST_NQN}\nid = ${HOST_ID}\n`);
  const entries = join(dir, 'entries.json');
  await writeFile(entries, JSON.stringify([{ traddr: link.a.ipv4, subnqn: SUBSYS }]));

  const simProcess = net.spawn(
    net.nsA,
    process.execPath,
    [DC_SIM, '--host', link.a.ipv4, '--port', '8009', '--entries', entries],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const sim = watchChild(simProcess);
  cleanup.add(() => sim.stop('SIGKILL'));
  await waitFor(
    () => {
      if (sim.exited()) throw new Error(`dc-sim exited: ${sim.output()}`);
      return sim.output().includes(`listening ${link.a.ipv4} 8009`);
    },
    { timeoutMs: 10_000, what: 'the DC simulator listening' },
  );

  const bus = await startDbusDaemon();
  cleanup.add(() => bus.close());
  if (avahiInB) {
    const avahiB = await startAvahi({ ns: net.nsB, hostName: 'stafhost', interfaces: [link.b.iface], bus });
    cleanup.add(() => avahiB.close());
  }
  const stafdProcess = net.spawn(
    net.nsB,
    process.execPath,
    [STAFD, '--bus-address', bus.address, '--log-format', 'json', '--tron'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        STAS_ROOT: dir,
        STAS_ETC_DIR: etc,
        RUNTIME_DIRECTORY: runtime,
      },
    },
  );
  const stafd = watchChild(stafdProcess);
  cleanup.add(() => stafd.stop());
  await waitFor(
    async () => {
      if (stafd.exited()) throw new Error('stafd exited');
      return (await controllers(bus.address)).length === 0;
    },
    { timeoutMs: 15_000, intervalMs: 100, what: 'stafd answering stafctl ls' },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\nstafd output:\n${stafd.output()}`, { cause: err });
  });
  return { net, link, avahiA, bus, sim, stafd };
}

/** Announce, check ls/adlp, withdraw + stop the simulator, check the purge (timings recorded). */
/** The mDNS sources stafd logged (`mDNS source` records of its JSON log), in order. */
function loggedSources(s: Scenario): string[] {
  return s.stafd
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((r) => r['msg'] === 'mDNS source')
    .map((r) => String(r['source']));
}

async function announceAndPurge(s: Scenario, source: string, kind: 'avahi' | 'embedded'): Promise<void> {
  const withOutput = async <T>(what: Promise<T>): Promise<T> => {
    try {
      return await what;
    } catch (err) {
      throw new Error(`${(err as Error).message}\nstafd output:\n${s.stafd.output().slice(-8000)}`, {
        cause: err,
      });
    }
  };
  const isOurs = (c: ControllerDict): boolean => c.traddr === s.link.a.ipv4 && c.trsvcid === '8009';

  const pub = await s.avahiA.publish('stas mdns DC', TYPE, 8009, ['p=tcp']);
  const listed = await withOutput(
    waitFor(async () => (await controllers(s.bus.address)).find(isOurs), {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: 'the announced DC in stafctl ls',
    }),
  );
  const visibleAt = Date.now();
  recordTiming(source, 'avahi-publish established → DC in stafctl ls', visibleAt - pub.establishedAt);
  expect(listed).toMatchObject({
    transport: 'tcp',
    traddr: s.link.a.ipv4,
    trsvcid: '8009',
    'host-iface': s.link.b.iface,
    'host-nqn': HOST_NQN,
  });

  interface AdlpDoc {
    'discovery-controllers': {
      'discovery-controller': Record<string, string>;
      'log-pages': Record<string, string>[];
    }[];
  }
  const dcPages = await withOutput(
    waitFor(
      async () => {
        const doc = (await stafctl(s.bus.address, 'adlp', '--json')) as AdlpDoc;
        return doc['discovery-controllers'].find(
          (d) =>
            d['discovery-controller']['traddr'] === s.link.a.ipv4 &&
            d['log-pages'].some((e) => e['subnqn'] === SUBSYS),
        );
      },
      { timeoutMs: 20_000, intervalMs: 50, what: "the DC's log page entries in stafctl adlp" },
    ),
  );
  recordTiming(source, 'avahi-publish established → entries in stafctl adlp', Date.now() - pub.establishedAt);
  expect(dcPages['discovery-controller']['host-iface']).toBe(s.link.b.iface);
  expect(dcPages['log-pages']).toEqual([expect.objectContaining({ subnqn: SUBSYS, traddr: s.link.a.ipv4 })]);

  // Withdrawn (goodbye) and unreachable (simulator gone): purged after the persistence.
  const goneFrom = Date.now();
  await Promise.all([pub.withdraw(), s.sim.stop()]);
  // Still listed shortly after: the persistence keeps a lost DC for 2 s.
  const early = await controllers(s.bus.address);
  const stillListed = early.some(isOurs);
  await withOutput(
    waitFor(async () => !(await controllers(s.bus.address)).some(isOurs), {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: 'the withdrawn, unreachable DC purged from stafctl ls',
    }),
  );
  const purgeMs = Date.now() - goneFrom;
  recordTiming(source, 'withdrawn + simulator stopped → DC gone from stafctl ls', purgeMs);
  expect(stillListed).toBe(true);
  expect(purgeMs).toBeGreaterThanOrEqual(PERSISTENCE_S * 1000);
  const adlp = (await stafctl(s.bus.address, 'adlp', '--json')) as AdlpDoc;
  expect(adlp['discovery-controllers']).toEqual([]);
  expect(s.stafd.exited()).toBe(false);
  // The DC was found by the expected browser, and stafd never switched.
  expect(loggedSources(s)).toEqual([kind]);
}

describe.runIf(BUILT)('stafd finds a DC announced over mDNS (real stafd and stafctl in namespaces)', () => {
  describe('through avahi-daemon on its bus', () => {
    const cleanup = new Cleanup();
    let scenario: Scenario;
    beforeAll(async () => {
      scenario = await startScenario(cleanup, true);
    }, 60_000);
    afterAll(() => cleanup.run());

    it('lists the announced DC with its host-iface and entries, and purges it after the persistence', async () => {
      await announceAndPurge(scenario, 'stafd+avahi', 'avahi');
    }, 60_000);
  });

  describe('without avahi-daemon, through the embedded browser', () => {
    const cleanup = new Cleanup();
    let scenario: Scenario;
    beforeAll(async () => {
      scenario = await startScenario(cleanup, false);
    }, 60_000);
    afterAll(() => cleanup.run());

    it('lists the announced DC with its host-iface and entries, and purges it after the persistence', async () => {
      await announceAndPurge(scenario, 'stafd+embedded', 'embedded');
    }, 60_000);
  });
});
