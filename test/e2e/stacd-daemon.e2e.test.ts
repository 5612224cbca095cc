/**
 * stacd against the real guest kernel: nvmet with one discovery port (127.0.0.1:8009) exposing two
 * subsystems, a stafd on the guest's system bus (the real one if packages/stafd/dist/main.js exists and
 * comes up; else test/integration/fixtures/mini-stafd.mjs, a persistent userspace discovery session
 * that follows AENs), and stacd and stacctl as child processes (packages/stacd/bin/*.js, built code).
 *
 * Checks, in order (one kernel, one scenario): both subsystems connected with block devices and
 * registry owner stas, shown by `stacctl ls --json`; a controller made by hand is never touched;
 * linking a third subsystem connects it soon after the AEN; unlinking one disconnects it; stopping
 * stafd keeps every connection; restarting stacd adopts them (same instance numbers); exclude= plus
 * SIGHUP disconnects only that controller.
 *
 * Runs inside the e2e guest (test/e2e/run test/e2e/stacd-); touches nvmet, /dev/nvme-fabrics, /sys,
 * /run/nvme/registry and the system bus. Only processes it started are stopped (by their pid).
 * With STAS_E2E_TIMINGS=<file>, appends its timings there as JSON.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOwner } from '@stas/common/kernel/registry';
import { readSysfsSnapshot } from '@stas/common/kernel/sysfs';

import { namespaceDevices } from './lib/fabrics.js';
import { run } from './lib/run.js';
import { applyTarget, linkSubsystem, resetTarget, unlinkSubsystem } from './lib/target.js';
import type { TargetSpec } from './lib/target.js';
import { waitFor } from './lib/wait-for.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STACD = join(ROOT, 'packages/stacd/bin/stacd.js');
const STACCTL = join(ROOT, 'packages/stacd/bin/stacctl.js');
const REAL_STAFD = join(ROOT, 'packages/stafd/dist/main.js');
const STAFD_BIN = join(ROOT, 'packages/stafd/bin/stafd.js');
const MINI_STAFD = join(ROOT, 'test/integration/fixtures/mini-stafd.mjs');

const S1 = 'nqn.2024-01.io.stas.e2e:stacd-one';
const S2 = 'nqn.2024-01.io.stas.e2e:stacd-two';
const S3 = 'nqn.2024-01.io.stas.e2e:stacd-three';
const MANUAL = 'nqn.2024-01.io.stas.e2e:stacd-manual';
const LOCALHOST = '127.0.0.1';

const TARGET: TargetSpec = {
  subsystems: [S1, S2, S3, MANUAL].map((nqn, i) => ({
    nqn,
    serial: `c000${i}`,
    namespaces: [{ nsid: 1, size: '16M' }],
  })),
  ports: [
    { id: 1, traddr: LOCALHOST, trsvcid: '8009', subsystems: [S1, S2] },
    { id: 2, traddr: LOCALHOST, trsvcid: '4420', subsystems: [MANUAL] },
  ],
};

interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

const timings: Record<string, number | string> = {};
const registry = { run: '/run', sys: '/sys' };
let dir: string;
let stafd: Child | undefined;
let stacd: Child | undefined;
let stafdKind = 'mini-stafd';
let manualDevice = '';

function start(name: string, args: readonly string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  const append = (c: string): void => {
    output += c;
  };
  proc.stdout.setEncoding('utf8').on('data', append);
  proc.stderr.setEncoding('utf8').on('data', append);
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => {
      resolve(code);
    });
  });
  return { name, proc, output: () => output, exited };
}

async function stop(child: Child | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child === undefined) return null;
  if (child.proc.exitCode === null && child.proc.signalCode === null && child.proc.pid !== undefined)
    process.kill(child.proc.pid, signal);
  return child.exited;
}

async function stacctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [STACCTL, ...args], { allowFailure: true, timeoutMs: 60_000 });
}

async function busHasName(name: string): Promise<boolean> {
  const r = await run(
    'dbus-send',
    [
      '--system',
      '--print-reply',
      '--dest=org.freedesktop.DBus',
      '/org/freedesktop/DBus',
      'org.freedesktop.DBus.NameHasOwner',
      `string:${name}`,
    ],
    { allowFailure: true },
  );
  return r.stdout.includes('boolean true');
}

/** Controllers in sysfs: device → subsystem NQN (I/O controllers only). */
async function ioControllers(): Promise<Map<string, string>> {
  const snapshot = await readSysfsSnapshot('/sys');
  return new Map(
    snapshot.controllers
      .filter((c) => c.cntrltype === 'io')
      .map((c) => [c.device as string, c.subsysnqn ?? '']),
  );
}

async function deviceOf(nqn: string): Promise<string | undefined> {
  for (const [device, subsys] of await ioControllers()) if (subsys === nqn) return device;
  return undefined;
}

/** STAS_E2E_MINI_STAFD=1 uses the stand-in even when the real stafd is built. */
const forceMini = process.env.STAS_E2E_MINI_STAFD === '1';

async function startStafd(): Promise<void> {
  if (!forceMini && existsSync(REAL_STAFD) && stafdKind !== 'mini-stafd (real stafd failed)') {
    const conf = join(dir, 'stafd.conf');
    await writeFile(conf, `[Controllers]\ncontroller = transport=tcp;traddr=${LOCALHOST};trsvcid=8009\n`);
    const real = start('stafd', [STAFD_BIN, '-f', conf, '--log-format', 'json'], { STAS_ETC_DIR: dir });
    try {
      await waitFor(async () => busHasName('org.nvmexpress.staf'), {
        timeoutMs: 30_000,
        what: 'stafd on the bus',
      });
      stafd = real;
      stafdKind = 'stafd';
      return;
    } catch {
      await stop(real, 'SIGKILL');
      stafdKind = 'mini-stafd (real stafd failed)';
    }
  }
  stafd = start('mini-stafd', [MINI_STAFD, '--traddr', LOCALHOST, '--trsvcid', '8009']);
  const child = stafd;
  await waitFor(() => child.output().includes('"event":"log"'), {
    timeoutMs: 60_000,
    what: `mini-stafd read the log page: ${child.output()}`,
  });
}

async function startStacd(): Promise<void> {
  stacd = start('stacd', [STACD, '-f', join(dir, 'stacd.conf'), '--log-format', 'json'], {
    STAS_ETC_DIR: dir,
  });
  const child = stacd;
  await waitFor(async () => busHasName('org.nvmexpress.stac'), {
    timeoutMs: 60_000,
    what: `stacd on the bus: ${child.output()}`,
  });
}

function explainReasons(text: string): Map<string, string> {
  const plan = JSON.parse(text) as { actions: { subsysnqn: string; action: string; reason: string }[] };
  return new Map(plan.actions.map((a) => [a.subsysnqn, `${a.action}:${a.reason}`]));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stacd-e2e-'));
  await writeFile(join(dir, 'stacd.conf'), '[Global]\nkato = 10\n');
  await resetTarget();
  await applyTarget(TARGET);
  await startStafd();
  timings['stafd'] = stafdKind;
  const t0 = performance.now();
  await startStacd();
  await waitFor(async () => (await deviceOf(S1)) !== undefined && (await deviceOf(S2)) !== undefined, {
    timeoutMs: 60_000,
    what: `S1 and S2 connected: ${stacd?.output() ?? ''}`,
  });
  timings['startToTwoConnectedMs'] = Math.round(performance.now() - t0);
});

afterAll(async () => {
  await stop(stacd);
  await stop(stafd);
  await resetTarget();
  await rm(dir, { recursive: true, force: true });
  const file = process.env.STAS_E2E_TIMINGS;
  if (file !== undefined && file !== '') await appendFile(file, `${JSON.stringify({ stacd: timings })}\n`);
});

describe('stacd on the real kernel', () => {
  it('connects both discovered subsystems, with block devices and registry owner stas', async () => {
    for (const nqn of [S1, S2]) {
      const device = await deviceOf(nqn);
      expect(device, nqn).toBeDefined();
      // stacd claims right after the kernel answers; the device shows in sysfs a moment earlier.
      await waitFor(async () => (await readOwner(registry, device ?? '')) === 'stas', {
        timeoutMs: 10_000,
        what: `${nqn} owned by stas`,
      });
      await waitFor(async () => (await namespaceDevices(nqn)).length > 0, {
        timeoutMs: 20_000,
        what: `${nqn} block device`,
      });
    }
    const ls = await stacctl('ls', '--json');
    expect(ls.code).toBe(0);
    const list = JSON.parse(ls.stdout) as Record<string, string>[];
    expect(list.map((c) => [c['subsysnqn'], c['traddr'], c['trsvcid']]).sort()).toEqual([
      [S1, LOCALHOST, '8009'],
      [S2, LOCALHOST, '8009'],
    ]);
    expect(list.every((c) => /^nvme\d+$/.test(c['device'] ?? ''))).toBe(true);
  });

  it('never touches a controller made with nvme connect by hand', async () => {
    const before = await ioControllers();
    await run('nvme', ['connect', '-t', 'tcp', '-a', LOCALHOST, '-s', '4420', '-n', MANUAL]);
    manualDevice = await waitFor(async () => deviceOf(MANUAL), {
      timeoutMs: 20_000,
      what: 'manual controller',
    });
    expect(before.has(manualDevice)).toBe(false);
    const reasons = explainReasons((await stacctl('explain', '--json')).stdout);
    expect(reasons.get(MANUAL)).toBe('keep:not-owned');
    expect(await readOwner(registry, manualDevice)).toBeUndefined();
  });

  it('connects a third subsystem within 3 s of the discovery-log-change AEN', async () => {
    const t0 = Date.now();
    await linkSubsystem(1, S3);
    const linked = Date.now();
    const device = await waitFor(async () => deviceOf(S3), { timeoutMs: 30_000, what: 'S3 connected' });
    const seen = Date.now();
    // When stafd got the AEN, and when stacd decided and connected (their JSON log lines carry `time`).
    const at = (out: string, match: (line: Record<string, unknown>) => boolean): number | undefined =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .map((l) => ({ time: typeof l['time'] === 'number' ? l['time'] : -1, line: l }))
        .find((l) => l.time >= t0 && match(l.line))?.time;
    const aen = at(stafd?.output() ?? '', (l) => l['event'] === 'aen' || String(l['msg']).includes('AEN'));
    const decided = at(
      stacd?.output() ?? '',
      (l) => l['action'] === 'connect' && String(l['tid']).includes(S3),
    );
    const connected = at(
      stacd?.output() ?? '',
      (l) => String(l['msg']).startsWith('connected as') && String(l['tid']).includes(S3),
    );
    Object.assign(timings, {
      linkCommandMs: linked - t0,
      linkToAenMs: aen === undefined ? 'n/a' : aen - t0,
      aenToDecisionMs: aen === undefined || decided === undefined ? 'n/a' : decided - aen,
      decisionToConnectedMs: decided === undefined || connected === undefined ? 'n/a' : connected - decided,
      aenToConnectedMs: aen === undefined || connected === undefined ? 'n/a' : connected - aen,
      linkToSeenMs: seen - t0,
    });
    await waitFor(async () => (await readOwner(registry, device)) === 'stas', {
      timeoutMs: 10_000,
      what: 'S3 owned by stas',
    });
    expect(connected, JSON.stringify(timings)).toBeDefined();
    expect((connected ?? 0) - (aen ?? linked), JSON.stringify(timings)).toBeLessThan(3000);
  });

  it('disconnects a subsystem that is unlinked', async () => {
    const device = await deviceOf(S2);
    const t0 = performance.now();
    await unlinkSubsystem(1, S2);
    await waitFor(async () => (await deviceOf(S2)) === undefined, {
      timeoutMs: 30_000,
      what: 'S2 disconnected',
    });
    timings['unlinkToDisconnectedMs'] = Math.round(performance.now() - t0);
    expect(await readOwner(registry, device ?? '')).toBeUndefined();
    expect(await deviceOf(MANUAL)).toBe(manualDevice);
  });

  it('keeps every connection when stafd stops', async () => {
    const before = await ioControllers();
    await stop(stafd);
    stafd = undefined;
    await waitFor(
      async () =>
        [...explainReasons((await stacctl('explain', '--json')).stdout).values()].includes(
          'keep:stafd-unavailable',
        ),
      { timeoutMs: 30_000, what: 'stacd noticed stafd is gone' },
    );
    expect(await ioControllers()).toEqual(before);
    await startStafd();
  });

  it('adopts its connections after a restart, with the same instance numbers', async () => {
    const before = await ioControllers();
    expect(await stop(stacd)).toBe(0);
    expect(await ioControllers()).toEqual(before);
    await startStacd();
    await waitFor(
      async () => {
        const list = JSON.parse((await stacctl('ls', '--detailed', '--json')).stdout) as Record<
          string,
          string
        >[];
        return list.length === 2 && list.every((c) => c['state'] === 'connected');
      },
      { timeoutMs: 30_000, what: 'stacd lists S1 and S3 as connected' },
    );
    expect(await ioControllers()).toEqual(before);
    expect(stacd?.output()).not.toMatch(/"action":"connect"/);
  });

  it('disconnects only the excluded controller after exclude= and SIGHUP', async () => {
    const s1 = await deviceOf(S1);
    const s3 = await deviceOf(S3);
    await writeFile(join(dir, 'stacd.conf'), `[Global]\nkato = 10\n[Controllers]\nexclude = nqn=${S1}\n`);
    if (stacd?.proc.pid !== undefined) process.kill(stacd.proc.pid, 'SIGHUP');
    await waitFor(async () => (await deviceOf(S1)) === undefined, {
      timeoutMs: 30_000,
      what: 'S1 disconnected',
    });
    expect(s1).toBeDefined();
    expect(await deviceOf(S3)).toBe(s3);
    expect(await deviceOf(MANUAL)).toBe(manualDevice);
    const reasons = explainReasons((await stacctl('explain', '--json')).stdout);
    expect(reasons.get(S1)).toBe('skip:excluded');
  });
});
