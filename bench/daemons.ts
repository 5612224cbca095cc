/**
 * The daemons as processes on a private dbus-daemon, with a temporary STAS_ROOT:
 *
 * - start → READY: `node packages/<d>/bin/<d>.js` until READY=1 arrives on a
 *   NOTIFY_SOCKET (a DatagramReceiver polled every millisecond). Target
 *   < 300 ms each.
 * - idle footprint: the daemons as installed, i.e. the bundles of
 *   scripts/bundle.mjs (built afresh into a private directory under dist/,
 *   where koffi resolves as it does beside the installed bundles) executed
 *   through their shebang line, which carries the daemons' node flags. stafd
 *   with 10 DCs (DC simulators in this process, 10 entries each) and stacd
 *   planning the 100 discovered controllers (--dry-run: there is no
 *   /dev/nvme-fabrics on the bench host). Settled: every DC session is up,
 *   stacd has planned the 100 controllers, and V8's one post-start GC is over
 *   (POST_START_GC_SECONDS); then RSS (max of one sample a second) and CPU
 *   (all threads, schedstat) of each process over `idleSeconds`, with the
 *   figures that include the post-start GC in the detail. Targets RSS < 60
 *   MB and CPU < 0.1 %.
 *
 * Children are stopped by their handle (SIGTERM, SIGKILL after 5 s).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { DatagramReceiver } from '@stas/common/systemd/unix-datagram';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { DcSimulator } from '@stas/common/testing/dc-sim/dc-simulator';
import type { Row } from './report.js';
import { median } from './report.js';
import { MB, killChild, makeRoot, procUsage, startBus, threadUsage, waitFor } from './support.js';

type Daemon = 'stafd' | 'stacd';

const ROOT = new URL('../../', import.meta.url).pathname;

function bin(daemon: Daemon): string {
  return join(ROOT, `packages/${daemon}/bin/${daemon}.js`);
}

/** How a daemon is started: `node bin/<d>.js`, or a bundle executed through its shebang. */
type Launch = { readonly kind: 'bin' } | { readonly kind: 'bundle'; readonly dir: string };

interface Bundles {
  readonly dir: string;
  close(): Promise<void>;
}

/** stafd and stacd bundled by scripts/bundle.mjs into a private directory under dist/. */
async function bundleDaemons(): Promise<Bundles> {
  await mkdir(join(ROOT, 'dist'), { recursive: true });
  const dir = await mkdtemp(join(ROOT, 'dist', 'bench-bundle-'));
  try {
    await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'scripts/bundle.mjs'), '--outdir', dir, 'stafd', 'stacd'],
      { cwd: ROOT },
    );
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, close: () => rm(dir, { recursive: true, force: true }) };
}

/** The node flags on a bundle's `#!/usr/bin/env -S node …` line. */
async function shebangFlags(file: string): Promise<string> {
  const first = (await readFile(file, 'utf8')).slice(0, 200).split('\n')[0] ?? '';
  return /\bnode\b(.*)$/.exec(first)?.[1]?.trim() ?? '';
}

interface Started {
  readonly child: ChildProcess;
  readonly readyMs: number;
  readonly stderr: () => string;
  readonly notify: DatagramReceiver;
}

async function spawnDaemon(
  daemon: Daemon,
  root: string,
  busAddress: string,
  tag: string,
  launch: Launch = { kind: 'bin' },
): Promise<Started> {
  const socket = join(root, `notify-${daemon}-${tag}.sock`);
  const notify = new DatagramReceiver(socket);
  const args = ['--bus-address', busAddress, '--log-format', 'json'];
  if (daemon === 'stacd') args.push('--dry-run');
  // A bundle runs as /usr/bin/<d> does: exec'd, its shebang finding `node` on PATH (this node first).
  const [file, argv] =
    launch.kind === 'bundle'
      ? [join(launch.dir, `${daemon}.mjs`), args]
      : [process.execPath, [bin(daemon), ...args]];
  const path = `${dirname(process.execPath)}:${process.env['PATH'] ?? '/usr/bin:/bin'}`;
  const t = performance.now();
  const child = spawn(file, argv, {
    env: { PATH: path, STAS_ROOT: root, NOTIFY_SOCKET: socket },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    await waitFor(
      () => {
        if (child.exitCode !== null)
          throw new Error(`${daemon} exited ${child.exitCode}: ${stderr.slice(-300)}`);
        return notify.drain().some((m) => m.split('\n').includes('READY=1')) ? true : undefined;
      },
      `${daemon} READY=1`,
      20_000,
      1,
    );
  } catch (err) {
    await killChild(child);
    notify.close();
    throw err;
  }
  return { child, readyMs: performance.now() - t, stderr: () => stderr, notify };
}

/**
 * V8's memory reducer shrinks a new process's heap about 8 s after start-up (two or three GCs,
 * ~50 ms of CPU, RSS −3 MB): the last of start-up, so the idle window begins after it.
 */
const POST_START_GC_SECONDS = 15;

interface Sample {
  readonly rss: number;
  /** All threads, seconds (schedstat, or utime+stime where schedstat is missing). */
  readonly cpu: number;
  /** utime+stime, seconds (10 ms ticks). */
  readonly ticks: number;
  readonly mainWakeups: number;
}

async function sampleOf(pid: number): Promise<Sample> {
  const usage = await procUsage(pid);
  const threads = await threadUsage(pid);
  const cpu = Number.isFinite(threads.cpu) ? threads.cpu : usage.cpu;
  return { rss: usage.rss, cpu, ticks: usage.cpu, mainWakeups: threads.mainWakeups };
}

async function stop(s: Started): Promise<void> {
  await killChild(s.child);
  s.notify.close();
}

export async function startupTimes(runs: number): Promise<Row[]> {
  const bus = await startBus();
  const root = await makeRoot('ready');
  const rows: Row[] = [];
  try {
    await writeFile(join(root.etcStas, 'stafd.conf'), `[Service Discovery]\nzeroconf = disabled\n`);
    for (const daemon of ['stafd', 'stacd'] as const) {
      const times: number[] = [];
      for (let r = 0; r < runs; r += 1) {
        const s = await spawnDaemon(daemon, root.root, bus.address, String(r));
        times.push(s.readyMs);
        await stop(s);
      }
      const value = median(times);
      rows.push({
        figure: `${daemon}: start → READY=1`,
        how: 'spawn node bin → READY=1 on NOTIFY_SOCKET, private bus, empty config',
        value,
        unit: 'ms',
        target: '< 300 ms',
        pass: value < 300,
        runs,
        detail: `min ${Math.min(...times).toFixed(0)} ms; bare \`node -e 0\` ${(await bareNode()).toFixed(0)} ms`,
      });
    }
  } finally {
    await root.close();
    await bus.close();
  }
  return rows;
}

/** RSS of a node process that only waits (the floor under each daemon). */
async function idleNodeRss(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const { rss } = await procUsage(child.pid ?? 0);
  await killChild(child);
  return rss;
}

async function bareNode(): Promise<number> {
  const t = performance.now();
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  return performance.now() - t;
}

export async function idleFootprint(idleSeconds: number): Promise<Row[]> {
  const bundles = await bundleDaemons();
  try {
    return await idleFootprintOf({ kind: 'bundle', dir: bundles.dir }, idleSeconds);
  } finally {
    await bundles.close();
  }
}

async function idleFootprintOf(launch: Launch & { kind: 'bundle' }, idleSeconds: number): Promise<Row[]> {
  const flags = await shebangFlags(join(launch.dir, 'stafd.mjs'));
  const bus = await startBus();
  const root = await makeRoot('idle');
  const sims: DcSimulator[] = [];
  const started: Started[] = [];
  try {
    for (let d = 0; d < 10; d += 1) {
      sims.push(
        await DcSimulator.start({
          entries: Array.from({ length: 10 }, (_, i) =>
            nvmeEntry({ subnqn: `nqn.2014-08.org.example:idle-${d}-${i}`, traddr: `10.0.${d}.${i + 1}` }),
          ),
        }),
      );
    }
    const lines = sims.map((s) => `controller = transport=tcp;traddr=${s.host};trsvcid=${s.port}`).join('\n');
    await writeFile(
      join(root.etcStas, 'stafd.conf'),
      `[Service Discovery]\nzeroconf = disabled\n[Controllers]\n${lines}\n`,
    );
    await writeFile(join(root.etcStas, 'stacd.conf'), `[Global]\n`);
    const stafd = await spawnDaemon('stafd', root.root, bus.address, 'idle', launch);
    started.push(stafd);
    const stacd = await spawnDaemon('stacd', root.root, bus.address, 'idle', launch);
    started.push(stacd);
    // Settled: every DC session is up, and stacd has planned the 100 discovered controllers.
    await waitFor(
      () => (sims.every((s) => s.connections.length > 0) ? true : undefined),
      '10 DC sessions',
      30_000,
      20,
    );
    await waitFor(
      () =>
        (stacd.stderr().match(/nqn\.2014-08\.org\.example:idle-/g)?.length ?? 0) >= 100 ? true : undefined,
      'stacd planning 100 controllers',
      30_000,
      50,
    );
    await new Promise((r) => setTimeout(r, 2000));
    const pids = { stafd: stafd.child.pid ?? 0, stacd: stacd.child.pid ?? 0 };
    const logBefore = { stafd: stafd.stderr().length, stacd: stacd.stderr().length };
    // One sample a second through the post-start GC and the idle window after it.
    const samples: { readonly t: number; readonly of: Record<Daemon, Sample> }[] = [];
    const takeSample = async (): Promise<void> => {
      const t = performance.now();
      samples.push({ t, of: { stafd: await sampleOf(pids.stafd), stacd: await sampleOf(pids.stacd) } });
    };
    const t0 = performance.now();
    const idleFrom = t0 + POST_START_GC_SECONDS * 1000;
    const deadline = idleFrom + idleSeconds * 1000;
    await takeSample();
    while (performance.now() < deadline) {
      const next = Math.min(t0 + samples.length * 1000, deadline);
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
      await takeSample();
    }
    const firstIdle = samples.findIndex((x) => x.t >= idleFrom - 50);
    const idle = samples.slice(firstIdle);
    const logOf = (d: Daemon): string => (d === 'stafd' ? stafd : stacd).stderr();
    const msgOf = (line: string): string => {
      try {
        const msg = (JSON.parse(line) as { msg?: unknown }).msg;
        return (typeof msg === 'string' ? msg : line).slice(0, 60);
      } catch {
        return line.slice(0, 60);
      }
    };
    const bareRss = await idleNodeRss();
    const rows: Row[] = [];
    for (const d of ['stafd', 'stacd'] as const) {
      const over = (from: Sample, to: Sample, seconds: number): { cpu: number; ticks: number } => ({
        cpu: ((to.cpu - from.cpu) / seconds) * 100,
        ticks: ((to.ticks - from.ticks) / seconds) * 100,
      });
      const first = idle[0]?.of[d];
      const last = idle[idle.length - 1]?.of[d];
      const start = samples[0]?.of[d];
      if (first === undefined || last === undefined || start === undefined) throw new Error('no samples');
      const seconds = ((idle[idle.length - 1]?.t ?? NaN) - (idle[0]?.t ?? NaN)) / 1000;
      const allSeconds = ((samples[samples.length - 1]?.t ?? NaN) - (samples[0]?.t ?? NaN)) / 1000;
      const window = over(first, last, seconds);
      const whole = over(start, last, allSeconds);
      const wakeups = last.mainWakeups - first.mainWakeups;
      const rss = idle.map((x) => x.of[d].rss);
      const maxRss = Math.max(...rss) / MB;
      const maxRssAll = Math.max(...samples.map((x) => x.of[d].rss)) / MB;
      const lead = `incl. the first ${POST_START_GC_SECONDS} s after settling`;
      rows.push({
        figure: `${d} idle RSS (10 DCs, 100 controllers)`,
        how:
          `bundle as installed (node ${flags}), ${seconds.toFixed(0)} s idle after settling and V8's ` +
          `post-start GC` +
          (d === 'stacd' ? ' (--dry-run)' : ''),
        value: maxRss,
        unit: 'MB',
        target: '< 60 MB',
        pass: maxRss < 60,
        runs: rss.length,
        detail:
          `max of ${rss.length} samples, one per second (median ${(median(rss) / MB).toFixed(1)}); ` +
          `${lead} (V8 shrinks the heap ~8 s after start-up): max ${maxRssAll.toFixed(1)} MB; ` +
          `an idle bare node process: ${(bareRss / MB).toFixed(1)} MB`,
      });
      rows.push({
        figure: `${d} idle CPU (10 DCs, 100 controllers)`,
        how: `bundle as installed, CPU time of all threads over the same ${seconds.toFixed(0)} s`,
        value: window.cpu,
        unit: '%',
        target: '< 0.1 %',
        pass: window.cpu < 0.1,
        runs: 1,
        detail:
          `${((last.cpu - first.cpu) * 1000).toFixed(1)} ms CPU (schedstat; utime+stime ` +
          `${window.ticks.toFixed(3)} %); main thread woke ${wakeups} times; ${lead} ` +
          `(post-start GC): ${whole.cpu.toFixed(3)} %; log while idle: ` +
          JSON.stringify(
            [
              ...new Set(
                logOf(d)
                  .slice(logBefore[d])
                  .split('\n')
                  .filter((l) => l !== '')
                  .map(msgOf),
              ),
            ].slice(0, 3),
          ).slice(0, 200),
      });
    }
    return rows;
  } finally {
    for (const s of started) await stop(s);
    for (const s of sims) await s.close();
    await root.close();
    await bus.close();
  }
}
