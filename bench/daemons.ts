/**
 * The daemons as processes (packages/stafd/bin/stafd.js, packages/stacd/bin/
 * stacd.js) on a private dbus-daemon, with a temporary STAS_ROOT:
 *
 * - start → READY: spawn until READY=1 arrives on a NOTIFY_SOCKET (a
 *   DatagramReceiver polled every millisecond). Target < 300 ms each.
 * - idle footprint: stafd with 10 DCs (DC simulators in this process, 10
 *   entries each) and stacd planning the 100 discovered controllers
 *   (--dry-run: there is no /dev/nvme-fabrics on the bench host); after they
 *   settle, RSS and CPU of each process over `idleSeconds`. Targets RSS < 60
 *   MB and CPU < 0.1 %.
 *
 * Children are stopped by their handle (SIGTERM, SIGKILL after 5 s).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatagramReceiver } from '@stas/common/systemd/unix-datagram';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { DcSimulator } from '@stas/common/testing/dc-sim/dc-simulator';
import type { Row } from './report.js';
import { median } from './report.js';
import { MB, killChild, makeRoot, procUsage, startBus, waitFor } from './support.js';

type Daemon = 'stafd' | 'stacd';

function bin(daemon: Daemon): string {
  return new URL(`../../packages/${daemon}/bin/${daemon}.js`, import.meta.url).pathname;
}

interface Started {
  readonly child: ChildProcess;
  readonly readyMs: number;
  readonly stderr: () => string;
  readonly notify: DatagramReceiver;
}

async function spawnDaemon(daemon: Daemon, root: string, busAddress: string, tag: string): Promise<Started> {
  const socket = join(root, `notify-${daemon}-${tag}.sock`);
  const notify = new DatagramReceiver(socket);
  const args = [bin(daemon), '--bus-address', busAddress, '--log-format', 'json'];
  if (daemon === 'stacd') args.push('--dry-run');
  const t = performance.now();
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', STAS_ROOT: root, NOTIFY_SOCKET: socket },
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
    const stafd = await spawnDaemon('stafd', root.root, bus.address, 'idle');
    started.push(stafd);
    const stacd = await spawnDaemon('stacd', root.root, bus.address, 'idle');
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
    await new Promise((r) => setTimeout(r, 2000)); // let start-up garbage collection finish
    const pids = { stafd: stafd.child.pid ?? 0, stacd: stacd.child.pid ?? 0 };
    const before = { stafd: await procUsage(pids.stafd), stacd: await procUsage(pids.stacd) };
    const logBefore = { stafd: stafd.stderr().length, stacd: stacd.stderr().length };
    const t = performance.now();
    const rss = { stafd: [before.stafd.rss], stacd: [before.stacd.rss] };
    const deadline = t + idleSeconds * 1000;
    while (performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(1000, deadline - performance.now())));
      for (const d of ['stafd', 'stacd'] as const) rss[d].push((await procUsage(pids[d])).rss);
    }
    const seconds = (performance.now() - t) / 1000;
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
      const after = await procUsage(pids[d]);
      const cpuPct = ((after.cpu - before[d].cpu) / seconds) * 100;
      const maxRss = Math.max(...rss[d]) / MB;
      rows.push({
        figure: `${d} idle RSS (10 DCs, 100 controllers)`,
        how: `process, ${seconds.toFixed(0)} s idle after settling${d === 'stacd' ? ' (--dry-run)' : ''}`,
        value: maxRss,
        unit: 'MB',
        target: '< 60 MB',
        pass: maxRss < 60,
        runs: rss[d].length,
        detail: `max of ${rss[d].length} samples, one per second; an idle bare node process: ${(bareRss / MB).toFixed(1)} MB`,
      });
      rows.push({
        figure: `${d} idle CPU (10 DCs, 100 controllers)`,
        how: `process, utime+stime over ${seconds.toFixed(0)} s idle`,
        value: cpuPct,
        unit: '%',
        target: '< 0.1 %',
        pass: cpuPct < 0.1,
        runs: 1,
        detail:
          `${((after.cpu - before[d].cpu) * 1000).toFixed(0)} ms CPU (10 ms clock ticks); log while idle: ` +
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
