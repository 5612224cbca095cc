// The sd_notify protocol as systemd sees it from stafd.service and stacd.service: the units' ExecStart
// command line (the bundled daemon with --syslog; here also a private bus, temporary directories and, for
// stacd, --dry-run) with NOTIFY_SOCKET pointing at a datagram socket this test owns; SIGHUP (what
// ExecReload sends) and SIGTERM. Asserts READY=1 … RELOADING=1 (with MONOTONIC_USEC) … READY=1 …
// STOPPING=1 and exit 0. Also measures spawn → READY=1 over 5 runs per daemon, for humans only (set
// STAS_NOTIFY_TIMINGS to a file to get the numbers as JSON lines); nothing asserts on timing.
//
// Bundles stafd and stacd with esbuild into a temporary directory under dist/ (so koffi resolves from the
// repository's node_modules, and `make bundle` running in parallel is never read half-written). Needs
// `npx tsc -b` first (skipped otherwise) and dbus-daemon.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatagramReceiver } from '@stas/common/systemd/unix-datagram';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';
import { waitFor } from './fixtures/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRIES = { stafd: 'packages/stafd/dist/main.js', stacd: 'packages/stacd/dist/main.js' } as const;
const BUILT = Object.values(ENTRIES).every((e) => existsSync(join(ROOT, e)));
const HOST_NQN = 'nqn.2014-08.org.nvmexpress:uuid:0c1f6a52-6d5e-4f0b-9a43-3d2a6b1f7e11';
const HOST_ID = '0c1f6a52-6d5e-4f0b-9a43-3d2a6b1f7e11';
const RUNS = 5;

type Daemon = keyof typeof ENTRIES;

let bundleDir: string;
let tmp: string;
let bus: DbusDaemon;

/** The unit's ExecStart= arguments after the executable. */
async function execStartArgs(daemon: Daemon): Promise<string[]> {
  const unit = await readFile(join(ROOT, 'systemd', `${daemon}.service`), 'utf8');
  const line = /^ExecStart=(\S+)(.*)$/m.exec(unit);
  if (line === null) throw new Error(`${daemon}.service has no ExecStart=`);
  return (line[2] ?? '').trim().split(/\s+/).filter(Boolean);
}

interface Run {
  /** Each datagram, split into its KEY=VALUE lines. */
  readonly datagrams: string[][];
  readonly readyMs: number;
  readonly exitCode: number | null;
  readonly stderr: string;
}

async function runUnit(daemon: Daemon, n: number, withReload: boolean): Promise<Run> {
  const root = join(tmp, `${daemon}-${n}`);
  const etc = join(root, 'etc/stas');
  await mkdir(etc, { recursive: true });
  await mkdir(join(root, 'run', daemon), { recursive: true });
  await writeFile(join(etc, 'sys.conf'), `[Host]\nnqn = ${HOST_NQN}\nid = ${HOST_ID}\n`);
  await writeFile(join(etc, 'stafd.conf'), '[Service Discovery]\nzeroconf = disabled\n');
  await writeFile(join(etc, 'stacd.conf'), '[Global]\n');
  const socketPath = join(root, 'notify.sock');
  const receiver = new DatagramReceiver(socketPath);
  const datagrams: string[][] = [];
  const drain = (): void => {
    for (const d of receiver.drain()) datagrams.push(d.split('\n').filter(Boolean));
  };
  const has = (line: string, from = 0): number =>
    datagrams.findIndex((d, i) => i >= from && d.includes(line));
  try {
    const args = [
      join(bundleDir, `${daemon}.mjs`),
      ...(await execStartArgs(daemon)),
      '--bus-address',
      bus.address,
      ...(daemon === 'stacd' ? ['--dry-run'] : []),
    ];
    const started = performance.now();
    const child = spawn(process.execPath, args, {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        NOTIFY_SOCKET: socketPath,
        STAS_ROOT: root,
        STAS_NVME_ETC_DIR: join(root, 'etc/nvme'),
        RUNTIME_DIRECTORY: join(root, 'run', daemon),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => {
        resolve(code);
      });
    });
    const what = (s: string): { timeoutMs: number; intervalMs: number; what: string } => ({
      timeoutMs: 10_000,
      intervalMs: 1,
      what: `${daemon}: ${s} (stderr: ${stderr})`,
    });
    await waitFor(() => {
      drain();
      return has('READY=1') >= 0;
    }, what('first READY=1'));
    const readyMs = performance.now() - started;
    if (withReload) {
      child.kill('SIGHUP');
      await waitFor(() => {
        drain();
        const reloading = has('RELOADING=1');
        return reloading >= 0 && has('READY=1', reloading + 1) > reloading;
      }, what('RELOADING=1 then READY=1'));
    }
    child.kill('SIGTERM');
    const exitCode = await exited;
    drain();
    return { datagrams, readyMs, exitCode, stderr };
  } finally {
    receiver.close();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? NaN)
    : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

beforeAll(async () => {
  if (!BUILT) return;
  await mkdir(join(ROOT, 'dist'), { recursive: true });
  bundleDir = await mkdtemp(join(ROOT, 'dist', 'sd-notify-test-'));
  tmp = await mkdtemp(join(bundleDir, 'run-'));
  await build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES,
    outdir: bundleDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    banner: {
      js: "import { createRequire as __stasCreateRequire } from 'node:module';\nconst require = __stasCreateRequire(import.meta.url);",
    },
    external: ['koffi', 'x11', 'usocket'],
    logLevel: 'silent',
  });
  bus = await startDbusDaemon();
}, 60_000);

afterAll(async () => {
  if (!BUILT) return;
  await bus.close();
  await rm(bundleDir, { recursive: true, force: true });
});

describe.skipIf(!BUILT).each(['stafd', 'stacd'] as const)(
  '%s.service ExecStart under a notify socket',
  (daemon) => {
    it('sends READY=1, RELOADING=1 with MONOTONIC_USEC and READY=1 on SIGHUP, STOPPING=1 on SIGTERM, exits 0', async () => {
      const run = await runUnit(daemon, 0, true);
      expect(run.exitCode, run.stderr).toBe(0);
      const lines = run.datagrams;
      const ready = lines.findIndex((d) => d.includes('READY=1'));
      const reloading = lines.findIndex((d) => d.includes('RELOADING=1'));
      const readyAgain = lines.findIndex((d, i) => i > reloading && d.includes('READY=1'));
      const stopping = lines.findIndex((d) => d.includes('STOPPING=1'));
      expect(ready).toBeGreaterThanOrEqual(0);
      expect(reloading).toBeGreaterThan(ready);
      expect(lines[reloading]?.some((l) => /^MONOTONIC_USEC=\d+$/.test(l))).toBe(true);
      expect(readyAgain).toBeGreaterThan(reloading);
      expect(stopping).toBeGreaterThan(readyAgain);
      expect(lines.slice(stopping + 1).some((d) => d.includes('READY=1'))).toBe(false);
    });

    it(`reaches READY=1 in ${RUNS} consecutive starts (spawn → READY=1 recorded, not asserted)`, async () => {
      const times: number[] = [];
      for (let n = 1; n <= RUNS; n++) {
        const run = await runUnit(daemon, n, false);
        expect(run.exitCode, run.stderr).toBe(0);
        times.push(run.readyMs);
      }
      expect(times).toHaveLength(RUNS);
      const file = process.env.STAS_NOTIFY_TIMINGS;
      if (file !== undefined && file !== '') {
        const ms = times.map((t) => Math.round(t));
        appendFileSync(
          file,
          `${JSON.stringify({ daemon, what: 'spawn→READY=1', ms, median: median(ms) })}\n`,
        );
      }
    });
  },
);
