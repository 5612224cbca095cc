// The built stafd (packages/stafd/bin/stafd.js → dist) as a child process on a private bus: time to
// the bus name, SIGHUP with a broken config (still running, file:line logged), a second stafd refused
// (exit 1, one clear line), the bus going away and coming back (name owned again, DC session kept),
// and SIGTERM (exit 0, DC session closed, cache written). Needs `npx tsc -b` first (skipped otherwise).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectSystemBus, type SystemBus } from '@stas/common/dbus/bus';
import { STAF_API } from '@stas/common/dbus/staf-api';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { DcSimulator } from '@stas/common/testing/dc-sim/dc-simulator';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';
import { createStafdHarness, type StafdHarness } from './fixtures/stafd-harness.js';
import { recordTiming } from './fixtures/timings.js';
import { waitFor } from './fixtures/wait.js';

const BIN = fileURLToPath(new URL('../../packages/stafd/bin/stafd.js', import.meta.url));
const BUILT = existsSync(fileURLToPath(new URL('../../packages/stafd/dist/main.js', import.meta.url)));

interface Child {
  readonly process: ChildProcess;
  readonly lines: () => Record<string, unknown>[];
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

function startChild(env: Record<string, string>, busAddress: string): Child {
  const child = spawn(process.execPath, [BIN, '--bus-address', busAddress, '--log-format', 'json'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
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
  const lines = (): Record<string, unknown>[] =>
    stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { process: child, lines, stderr: () => stderr, exited };
}

/** A dbus-daemon again on the socket of a killed one (its directory and config are kept by kill()). */
function restartBus(old: DbusDaemon): Promise<ChildProcess> {
  return rm(old.socketPath, { force: true }).then(
    () =>
      new Promise((resolve, reject) => {
        const child = spawn(
          'dbus-daemon',
          [
            `--config-file=${join(old.dir, 'bus.conf')}`,
            '--nofork',
            '--nopidfile',
            '--nosyslog',
            '--print-address=1',
          ],
          { stdio: ['ignore', 'pipe', 'ignore'] },
        );
        child.stdout.once('data', () => {
          child.stdout.resume();
          resolve(child);
        });
        child.once('error', reject);
        child.once('exit', (code) => {
          reject(new Error(`dbus-daemon exited ${String(code)}`));
        });
      }),
  );
}

describe.runIf(BUILT)('stafd as a process', () => {
  let bus: DbusDaemon;
  let h: StafdHarness;
  let dc: DcSimulator;
  let client: SystemBus | undefined;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    bus = await startDbusDaemon();
    h = await createStafdHarness(bus.address);
    dc = await DcSimulator.start({
      entries: [nvmeEntry({ traddr: '127.0.0.1', subnqn: 'nqn.2024-01.io.t:p' })],
    });
    await h.writeConf(`[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=${dc.port}\n`);
  });

  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) {
        const gone = new Promise((resolve) => c.once('exit', resolve));
        c.kill('SIGKILL');
        await gone;
      }
    }
    await client?.close();
    client = undefined;
    await h.dispose();
    await dc.close();
    await bus.close();
  });

  it('owns the name, reloads, refuses a second instance, survives a bus restart and stops with 0', async () => {
    const t0 = performance.now();
    const stafd = startChild(h.env, bus.address);
    children.push(stafd.process);
    client = await connectSystemBus({ address: bus.address });
    const c = client;
    await waitFor(async () => (await c.getNameOwner(STAF_API.busName)) !== null, {
      timeoutMs: 15_000,
      what: 'stafd owns its name',
    });
    recordTiming('stafd', 'process start → bus name owned', performance.now() - t0);
    await waitFor(() => dc.connections[0]?.aerOutstanding === 1, {
      timeoutMs: 10_000,
      what: 'DC session up',
    });
    const session = dc.connections[0]?.id;

    // SIGHUP with a broken file: logged with file:line, still running.
    await h.writeConf(
      `[Global]\nkato = never\n[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=${dc.port}\n`,
    );
    stafd.process.kill('SIGHUP');
    await waitFor(() => stafd.lines().find((l) => String(l['msg']).startsWith(`${h.confFile}:2:`)), {
      timeoutMs: 10_000,
      what: 'the diagnostic',
    });
    expect(await c.getNameOwner(STAF_API.busName)).not.toBeNull();

    // A second stafd: one line, exit 1.
    const second = startChild(h.env, bus.address);
    children.push(second.process);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain('stafd: another stafd is running');

    // The bus goes away and comes back: the name is owned again, the DC session was kept.
    await c.close();
    client = undefined;
    await bus.kill('SIGKILL');
    const again = await restartBus(bus);
    children.push(again);
    const c2 = await connectSystemBus({ address: bus.address });
    client = c2;
    await waitFor(async () => (await c2.getNameOwner(STAF_API.busName)) !== null, {
      timeoutMs: 15_000,
      what: 'stafd owns its name again',
    });
    expect(dc.connections.map((x) => x.id)).toEqual([session]);

    // SIGTERM: exit 0, session closed, cache written.
    stafd.process.kill('SIGTERM');
    expect(await stafd.exited).toBe(0);
    await waitFor(() => dc.connections.length === 0, { timeoutMs: 5000, what: 'session closed' });
    const cache = JSON.parse(await readFile(h.cacheFile, 'utf8')) as { dcs: unknown[] };
    expect(cache.dcs).toHaveLength(1);
  });
});
