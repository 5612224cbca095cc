/**
 * Shared pieces of the benchmarks: a private dbus-daemon (allow-all policy,
 * unix socket in a temporary directory; the few lines of
 * test/integration/fixtures/dbus-daemon.ts the benchmarks need), a temporary
 * STAS_ROOT with sys.conf, an in-memory logger, polling waits, process
 * RSS/CPU readers, the DC simulator as a process (optionally inside a network
 * namespace), a teardown list and the 'not measured' row.
 *
 * Touches only its temporary directories and the children it starts (killed
 * by their handle). Fails by throwing; run.ts turns a throw into a
 * 'not measured' row.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Logger } from '@stas/common/log/logger';
import type { Row } from './report.js';

export const HOST_NQN = 'nqn.2014-08.org.nvmexpress:uuid:3da64a01-16c5-4e10-ac46-397e2372b964';
export const HOST_ID = '3da64a01-16c5-4e10-ac46-397e2372b964';

export function notMeasured(figure: string, how: string, target: string, reason: string): Row {
  return {
    figure,
    how,
    value: NaN,
    unit: '',
    target,
    pass: false,
    runs: 0,
    detail: `not measured: ${reason}`,
  };
}

export interface Bus {
  readonly address: string;
  close(): Promise<void>;
}

const POLICY = `<policy context="default">
    <allow user="*"/><allow own="*"/>
    <allow send_type="method_call"/><allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/><allow receive_type="method_return"/>
    <allow receive_type="error"/><allow receive_type="signal"/>
  </policy>`;

/** A private system-type dbus-daemon; resolves with its printed address. */
export async function startBus(): Promise<Bus> {
  const dir = await mkdtemp(join(tmpdir(), 'stas-bench-dbus-'));
  const socket = join(dir, 'bus.sock');
  const conf = join(dir, 'bus.conf');
  await writeFile(
    conf,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=${socket}</listen><auth>EXTERNAL</auth>
  ${POLICY}
</busconfig>\n`,
  );
  const child = spawn(
    'dbus-daemon',
    [`--config-file=${conf}`, '--nofork', '--nopidfile', '--nosyslog', '--print-address=1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl).trim());
    });
    child.once('exit', (code) => {
      reject(new Error(`dbus-daemon exited ${code}: ${err}`));
    });
    child.once('error', reject);
  });
  child.stdout.resume();
  return {
    address,
    close: async () => {
      await killChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function killChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export interface StasRoot {
  readonly root: string;
  readonly etcStas: string;
  close(): Promise<void>;
}

/** A temporary STAS_ROOT with etc/stas/sys.conf (host NQN/ID literals), etc/nvme and run/. */
export async function makeRoot(prefix: string): Promise<StasRoot> {
  const root = await mkdtemp(join(tmpdir(), `stas-bench-${prefix}-`));
  const etcStas = join(root, 'etc/stas');
  await mkdir(etcStas, { recursive: true });
  await mkdir(join(root, 'etc/nvme'), { recursive: true });
  await mkdir(join(root, 'run'), { recursive: true });
  await writeFile(join(etcStas, 'sys.conf'), `[Host]\nnqn = ${HOST_NQN}\nid = ${HOST_ID}\n`);
  return { root, etcStas, close: () => rm(root, { recursive: true, force: true }) };
}

/** A logger that keeps nothing (benchmarks measure the daemons, not log formatting to a terminal). */
export function quietLogger(name: string, records?: Record<string, unknown>[]): Logger {
  return createLogger({
    name,
    level: 'info',
    format: 'json',
    sink: {
      write: (line) => {
        records?.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  });
}

/** Poll `probe` every `everyMs` until it returns a value other than undefined. */
export async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
  everyMs = 1,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** RSS (bytes) and CPU time (utime+stime, seconds) of a process, from /proc. */
export async function procUsage(pid: number): Promise<{ rss: number; cpu: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  return { rss: rssKb * 1024, cpu: ticks / 100 };
}

export interface ThreadUsage {
  /** CPU time of all live threads (schedstat: nanoseconds, not 10 ms ticks), in seconds; NaN if unavailable. */
  readonly cpu: number;
  /** Voluntary context switches of the main thread: how often its event loop went to sleep. */
  readonly mainWakeups: number;
}

/** Finer CPU time and the main thread's wakeups, from /proc/PID/task/*. */
export async function threadUsage(pid: number): Promise<ThreadUsage> {
  let ns = NaN;
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    try {
      const run = Number((await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8')).split(' ')[0]);
      ns = (Number.isNaN(ns) ? 0 : ns) + run;
    } catch {
      // the thread ended meanwhile (or the kernel has no schedstat: NaN)
    }
  }
  const status = await readFile(`/proc/${pid}/task/${pid}/status`, 'utf8');
  const wakeups = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return { cpu: ns / 1e9, mainWakeups: wakeups };
}

export const MB = 1024 * 1024;

/**
 * Undo steps registered as each resource comes up; `run()` runs them newest
 * first, every one even if an earlier one fails, and rethrows the first
 * failure (so a half-done set-up is still torn down).
 */
export class Teardown {
  readonly #steps: (() => Promise<void>)[] = [];

  add(step: () => Promise<void>): void {
    this.#steps.push(step);
  }

  async run(): Promise<void> {
    const failures: unknown[] = [];
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        failures.push(err);
      }
    }
    const [first] = failures;
    if (first instanceof Error) throw first;
    if (failures.length > 0) throw new AggregateError(failures, 'teardown failed');
  }
}

export interface SimProcess {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  close(): Promise<void>;
}

/** Where a simulator process listens: default 127.0.0.1, any free port, this network namespace. */
export interface SimPlace {
  /** Run it inside this network namespace (`ip netns exec`). */
  readonly netns?: string;
  readonly host?: string;
  readonly port?: number;
}

/**
 * A DC simulator in its own process (packages/common dc-sim-main.js), so that
 * its log encoding is not charged to the daemon measured in this process.
 */
export async function startSimProcess(
  entries: readonly { traddr: string; subnqn: string }[],
  dir: string,
  place: SimPlace = {},
): Promise<SimProcess> {
  const file = join(dir, `entries-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify(entries));
  const main = new URL('../../packages/common/dist/testing/dc-sim/dc-sim-main.js', import.meta.url).pathname;
  const args = [
    main,
    '--host',
    place.host ?? '127.0.0.1',
    '--port',
    String(place.port ?? 0),
    '--entries',
    file,
  ];
  const child =
    place.netns === undefined
      ? spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('ip', ['netns', 'exec', place.netns, process.execPath, ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  const [host, port] = await new Promise<[string, number]>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening (\S+) (\d+)/.exec(out);
      if (m !== null) resolve([m[1] ?? '', Number(m[2])]);
    });
    child.once('exit', (code) => {
      reject(new Error(`dc-sim exited ${code}: ${err}`));
    });
  });
  child.stdout.resume();
  return { host, port, pid: child.pid ?? 0, close: () => killChild(child) };
}
