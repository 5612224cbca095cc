/**
 * mDNS announce → connect string written, across a real mDNS exchange: two
 * network namespaces joined by a veth pair (@stas/common/testing/netns).
 * Side A holds what a storage array would: a DC simulator process (two I/O
 * subsystems) on A's address, port 8009, and an avahi-daemon on its own
 * private bus that publishes `_nvme-disc._tcp` for it (avahi-publish,
 * @stas/common/testing/avahi-daemon). Side B is the host: an avahi-daemon on
 * a second private bus, stafd as a process in B on that bus (its avahi
 * browser; its discovery session crosses the veth), and stacd's daemon in
 * this process on the same bus with a FakeFabricsDevice (no delay). stafd must
 * run in B to reach the simulator, hence a process; stacd needs no network.
 * Everything is set up afresh for each run; nothing is published until stafd
 * reports its browser running and stacd has settled.
 *
 * Each run's timeline (wall-clock ms, one clock for all processes):
 *   t0 avahi-publish started; t1 it printed "Established under name";
 *   t2 stafd logged the 'add' of the announced DC (the record's own time);
 *   t3 log_pages_changed for that DC arrived on the bus (heard here, as
 *      stacd hears it); t4 the FakeFabricsDevice received the last of the
 *      two connect strings.
 * Target: report (the figure is dominated by avahi's probing, ~1 s).
 *
 * Touches only what it starts (namespaces, buses, daemons, temporary
 * directories), all torn down after each run, also when the run fails.
 * Fails by throwing (run.ts turns that into a 'not measured' row).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectSystemBus } from '@stas/common/dbus/bus';
import { STAF_BUS_NAME, STAF_INTERFACE, STAF_OBJECT_PATH } from '@stas/common/dbus/staf-api';
import { interfacesFromNode } from '@stas/common/kernel/net-interfaces';
import { resolvePaths } from '@stas/common/paths';
import { startAvahiDaemon, type AvahiDaemon } from '@stas/common/testing/avahi-daemon';
import { FakeFabricsDevice, parseConnectString } from '@stas/common/testing/fake-fabrics';
import { createNetnsPair } from '@stas/common/testing/netns';
import { StacDaemon } from '@stas/stacd/dist/daemon.js';
import type { Row } from './report.js';
import { median } from './report.js';
import {
  HOST_ID,
  HOST_NQN,
  Teardown,
  killChild,
  makeRoot,
  quietLogger,
  startBus,
  startSimProcess,
  waitFor,
} from './support.js';

const SERVICE_TYPE = '_nvme-disc._tcp';
const DC_PORT = 8009;
const SUBSYSTEMS = ['nqn.2014-08.org.example:mdns-bench-1', 'nqn.2014-08.org.example:mdns-bench-2'];
const STAFD = new URL('../../packages/stafd/bin/stafd.js', import.meta.url).pathname;

/** One run's timeline, wall-clock ms (see the header). */
interface Timeline {
  readonly t0: number;
  readonly t1: number;
  readonly t2: number;
  readonly t3: number;
  readonly t4: number;
}

type LogRecord = Record<string, unknown>;

/** stafd as a process inside `netns`, its JSON log records kept as they arrive. */
interface StafdProcess {
  readonly records: LogRecord[];
  readonly exited: () => boolean;
  /** The last few kB of its output, for failure messages. */
  readonly tail: () => string;
  stop(): Promise<void>;
}

function spawnStafd(netns: string, root: string, busAddress: string): StafdProcess {
  const child: ChildProcess = spawn(
    'ip',
    ['netns', 'exec', netns, process.execPath, STAFD, '--bus-address', busAddress, '--log-format', 'json'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', STAS_ROOT: root },
    },
  );
  const records: LogRecord[] = [];
  let text = '';
  let partial = '';
  const onData = (chunk: Buffer): void => {
    const s = chunk.toString('utf8');
    text = (text + s).slice(-8000);
    const lines = (partial + s).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        records.push(JSON.parse(line) as LogRecord);
      } catch {
        // not a log record
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return {
    records,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    tail: () => text,
    stop: () => killChild(child),
  };
}

function hasRecord(records: readonly LogRecord[], match: (r: LogRecord) => boolean): true | undefined {
  return records.some(match) ? true : undefined;
}

async function oneRun(run: number): Promise<Timeline> {
  const teardown = new Teardown();
  try {
    const net = await createNetnsPair();
    teardown.add(() => net.close());
    const link = net.links[0];
    if (link === undefined) throw new Error('the namespace pair has no link');
    const root = await makeRoot('mdns');
    teardown.add(() => root.close());
    await mkdir(join(root.root, 'run', 'stafd'), { recursive: true });
    await mkdir(join(root.root, 'sys', 'class', 'nvme'), { recursive: true });
    await writeFile(join(root.etcStas, 'stafd.conf'), '[Service Discovery]\nzeroconf = enabled\n');
    await writeFile(join(root.etcStas, 'stacd.conf'), '[Global]\n');

    // Side A: the simulator and the publishing avahi (own bus). Side B: avahi on stafd's bus.
    const sim = await startSimProcess(
      SUBSYSTEMS.map((subnqn) => ({ traddr: link.a.ipv4, subnqn })),
      root.root,
      { netns: net.nsA, host: link.a.ipv4, port: DC_PORT },
    );
    teardown.add(() => sim.close());
    const busA = await startBus();
    teardown.add(() => busA.close());
    const busB = await startBus();
    teardown.add(() => busB.close());
    const started = await Promise.allSettled([
      startAvahiDaemon({
        ns: net.nsA,
        hostName: 'dchost',
        interfaces: [link.a.iface],
        busAddress: busA.address,
      }),
      startAvahiDaemon({
        ns: net.nsB,
        hostName: 'stafhost',
        interfaces: [link.b.iface],
        busAddress: busB.address,
      }),
    ]);
    const avahis: AvahiDaemon[] = [];
    for (const s of started) {
      if (s.status === 'fulfilled') {
        avahis.push(s.value);
        teardown.add(() => s.value.close());
      }
    }
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const avahiA = avahis[0];
    if (avahiA === undefined) throw new Error('avahi-daemon in A did not start');

    const stafd = spawnStafd(net.nsB, root.root, busB.address);
    teardown.add(() => stafd.stop());
    const withTail = async <T>(what: Promise<T>): Promise<T> => {
      try {
        return await what;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        throw new Error(`${message}; stafd output: ${stafd.tail().slice(-1500)}`, { cause: err });
      }
    };
    const alive = (): void => {
      if (stafd.exited()) throw new Error('stafd exited');
    };
    await withTail(
      waitFor(
        () => {
          alive();
          return hasRecord(stafd.records, (r) => r['msg'] === 'D-Bus name owned') &&
            hasRecord(stafd.records, (r) => r['msg'] === 'mDNS browsing state' && r['state'] === 'running')
            ? true
            : undefined;
        },
        "stafd's name on the bus and its avahi browser running",
        20_000,
        5,
      ),
    );

    // This process hears log_pages_changed as stacd does, and sees every connect string.
    const watcher = await connectSystemBus({ address: busB.address });
    teardown.add(() => watcher.close());
    let t3 = 0;
    const unsubscribe = await watcher.subscribe(
      { busName: STAF_BUS_NAME, objectPath: STAF_OBJECT_PATH },
      STAF_INTERFACE,
      'log_pages_changed',
      (args) => {
        if (t3 === 0 && args.traddr === link.a.ipv4) t3 = Date.now();
      },
    );
    teardown.add(unsubscribe);
    const written = new Map<string, number>();
    const fake = new FakeFabricsDevice({
      sysRoot: join(root.root, 'sys'),
      respond: (text) => {
        const nqn = parseConnectString(text).get('nqn');
        if (nqn !== undefined && !written.has(nqn)) written.set(nqn, Date.now());
        return undefined;
      },
    });
    const paths = resolvePaths({ STAS_ROOT: root.root });
    const stacd = new StacDaemon({
      confFile: join(paths.etcStas, 'stacd.conf'),
      sysConfFile: join(paths.etcStas, 'sys.conf'),
      paths,
      log: quietLogger('stacd'),
      fabrics: fake,
      busAddress: busB.address,
      uevents: null,
      identity: { hostnqn: HOST_NQN, hostid: HOST_ID, hostkey: null, symname: null },
      interfaces: () =>
        interfacesFromNode({
          [link.b.iface]: [
            {
              address: link.b.ipv4,
              netmask: '255.255.255.0',
              family: 'IPv4',
              mac: '',
              internal: false,
              cidr: `${link.b.ipv4}/24`,
            },
          ],
        }),
      resolve: () => Promise.reject(new Error('no DNS in the benchmark')),
    });
    teardown.add(() => stacd.stop());
    await stacd.start();
    await stacd.settled();

    // Announce, then wait for both connect strings.
    const pub = await withTail(avahiA.publish(`stas bench DC ${run}`, SERVICE_TYPE, DC_PORT, ['p=tcp']));
    teardown.add(() => pub.withdraw('SIGKILL'));
    await withTail(
      waitFor(
        () => {
          alive();
          return SUBSYSTEMS.every((nqn) => written.has(nqn)) ? true : undefined;
        },
        'the connect strings of the announced DC',
        30_000,
        1,
      ),
    );
    const t2 = stafd.records.find((r) => r['action'] === 'add');
    const t2ms = typeof t2?.['time'] === 'number' ? t2['time'] : NaN;
    if (Number.isNaN(t2ms)) throw new Error("stafd logged no 'add' of the announced DC");
    if (t3 === 0) throw new Error('no log_pages_changed for the announced DC');
    return {
      t0: pub.startedAt,
      t1: pub.establishedAt,
      t2: t2ms,
      t3,
      t4: Math.max(...SUBSYSTEMS.map((nqn) => written.get(nqn) ?? NaN)),
    };
  } finally {
    await teardown.run();
  }
}

function ms(values: readonly number[]): string {
  return `${median(values).toFixed(0)} ms`;
}

export async function mdnsToConnect(runs: number): Promise<Row[]> {
  const lines: Timeline[] = [];
  for (let r = 0; r < runs; r += 1) lines.push(await oneRun(r));
  const total = lines.map((l) => l.t4 - l.t0);
  const value = median(total);
  return [
    {
      figure: 'mDNS announce → connect string written',
      how:
        'netns pair over a veth: A = DC simulator + avahi-daemon + avahi-publish; B = avahi-daemon, ' +
        'stafd as a process (avahi browser); stacd in-process with FakeFabricsDevice on B’s private bus; ' +
        'fresh set-up per run',
      value,
      unit: 'ms',
      target: 'report',
      pass: true,
      runs: lines.length,
      detail:
        `medians: avahi establish ${ms(lines.map((l) => l.t1 - l.t0))}, ` +
        `established → stafd adds the DC (browse/resolve, incl. the browser's 100 ms coalescing) ${ms(lines.map((l) => l.t2 - l.t1))}, ` +
        `stafd connect + log read → log_pages_changed ${ms(lines.map((l) => l.t3 - l.t2))}, ` +
        `signal → stacd → connect strings (incl. stacd's 20 ms coalescing) ${ms(lines.map((l) => l.t4 - l.t3))}; ` +
        `stas part (established → written) ${ms(lines.map((l) => l.t4 - l.t1))}; ` +
        `total min ${Math.min(...total).toFixed(0)}, max ${Math.max(...total).toFixed(0)} ms; ` +
        '2 subsystems, both strings counted',
    },
  ];
}
