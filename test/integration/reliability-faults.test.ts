// Fault injection with both daemons in-process on a private bus (stafd ← DC simulator, stacd → a
// FakeFabricsDevice): a DC that closes mid-log-page, stops answering (KATO expiry), or restarts with new
// entries; the bus daemon restarted; stafd restarted under a running stacd; stacd restarted; 100 reloads
// in a burst; kernel connect failures (refused, time-out, EALREADY). Each: no healthy controller
// disconnected, recovery within a stated bound, and a log line saying what happened.
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectSystemBus, type SystemBus } from '@stas/common/dbus/bus';
import { STAC_API, STAC_INTERFACE } from '@stas/common/dbus/stac-api';
import { STAF_API, STAF_INTERFACE } from '@stas/common/dbus/staf-api';
import type { ConnectOutcome } from '@stas/common/kernel/fabrics-outcome';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { DcSimulator, type DcSimOptions } from '@stas/common/testing/dc-sim/dc-simulator';
import { fakeFailure } from '@stas/common/testing/fake-fabrics';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';
import { allLogPages, recordSignals, type LogRecord } from './fixtures/stafd-harness.js';
import { createStasStack, type StasStack } from './fixtures/stas-stack.js';
import { recordTiming } from './fixtures/timings.js';
import { waitFor } from './fixtures/wait.js';

const S1 = 'nqn.2024-01.io.stas.fault:s1';
const S2 = 'nqn.2024-01.io.stas.fault:s2';
const S3 = 'nqn.2024-01.io.stas.fault:s3';
const ALREADY: ConnectOutcome = { ok: true, kind: 'already-connected' };
const FAST_BACKOFF = { fastMs: 100, fastAttempts: 3, baseMs: 200, capMs: 1000, jitter: 0 };

function entries(...nqns: string[]) {
  return nqns.map((subnqn) => nvmeEntry({ traddr: '127.0.0.1', subnqn }));
}

function logsSince(logs: readonly LogRecord[], from: number, min = 40): LogRecord[] {
  return logs.slice(from).filter((l) => l.level >= min);
}

/** Connections the simulator accepted and closed (with reasons), counted from now on. */
function countConnections(dc: DcSimulator): { accepted: number; closed: string[] } {
  const counts = { accepted: 0, closed: [] as string[] };
  dc.on('connection', () => counts.accepted++);
  dc.on('closed', (e) => counts.closed.push(e.reason));
  return counts;
}

/** A dbus-daemon again on the socket of a killed one (kill() keeps its directory and config). */
async function restartBus(old: DbusDaemon): Promise<ChildProcess> {
  await rm(old.socketPath, { force: true });
  return new Promise((resolve, reject) => {
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
  });
}

describe('fault injection: stafd + stacd', () => {
  let bus: DbusDaemon;
  let client: SystemBus;
  let stack: StasStack;
  const sims: DcSimulator[] = [];
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    bus = await startDbusDaemon();
    client = await connectSystemBus({ address: bus.address });
    stack = await createStasStack(bus.address);
  });

  afterEach(async () => {
    await stack.dispose();
    await client.close();
    await Promise.all(sims.splice(0).map((s) => s.close()));
    for (const c of children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) {
        const gone = new Promise((resolve) => c.once('exit', resolve));
        c.kill('SIGKILL');
        await gone;
      }
    }
    await bus.close();
  });

  async function sim(options: DcSimOptions = {}): Promise<DcSimulator> {
    const s = await DcSimulator.start({ entries: entries(S1, S2), ...options });
    sims.push(s);
    return s;
  }

  /** stafd on `dc` (kato in seconds), stacd after it; resolves once stacd connected `count` subsystems. */
  async function up(dc: DcSimulator, count: number, kato = 30): Promise<void> {
    await stack.stafd.writeConf(
      `[Global]\nkato = ${kato}\n[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=${dc.port}\n`,
    );
    await stack.stafd.start({ sessionOptions: { icrespTimeoutMs: 500, adminTimeoutMs: 1000 } });
    await stack.startStacd();
    await waitFor(() => stack.fabrics.live.length === count, {
      timeoutMs: 10_000,
      what: `${count} connected`,
    });
  }

  it('recovers from a DC closing the connection mid-log-page (≤ 5 s), keeping every I/O controller', async () => {
    const dc = await sim({ faults: { disconnect: { afterBytes: 512, skip: 1, times: 1 } } });
    const counts = countConnections(dc);
    const t0 = performance.now();
    await up(dc, 2);
    const ms = performance.now() - t0;
    recordTiming('faults', 'DC closed mid-log-page → entries on D-Bus and connected', ms);
    expect(ms).toBeLessThan(5000);
    expect(counts.accepted).toBe(2);
    expect(counts.closed).toHaveLength(1);
    const warned = logsSince(stack.stafd.logs, 0);
    expect(warned.map((l) => JSON.stringify(l)).join('\n')).toMatch(/clos|lost|fail/i);
    expect(stack.fabrics.disconnects).toEqual([]);
  });

  it('reconnects a DC that stops answering (KATO expiry) once it answers again, keeping the last page', async () => {
    const dc = await sim();
    await up(dc, 2, 1);
    const counts = countConnections(dc);
    const mark = stack.stafd.logs.length;
    dc.stall();
    // The session is declared dead by KATO (1 s), with a log line.
    const dead = await waitFor(
      () => logsSince(stack.stafd.logs, mark).find((l) => /kato|keep.?alive|time/i.test(JSON.stringify(l))),
      {
        timeoutMs: 5000,
        what: 'a log line about the lost DC',
      },
    );
    expect(dead.level).toBeGreaterThanOrEqual(40);
    // The last page is still served meanwhile.
    expect((await allLogPages(client))[0]?.['log-pages']).toHaveLength(2);
    const t0 = performance.now();
    dc.resume();
    await waitFor(
      async () =>
        counts.accepted > 0 &&
        (await allLogPages(client))[0]?.['discovery-controller']['connected'] === 'True',
      {
        timeoutMs: 10_000,
        what: `reconnected (${JSON.stringify(counts)}; ${stack.stafd.logs
          .slice(mark)
          .map((l) => l.msg)
          .join(' | ')})`,
      },
    );
    recordTiming('faults', 'KATO expiry: DC answers again → session up', performance.now() - t0);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(stack.fabrics.disconnects).toEqual([]);
  });

  it('reads the new page of a DC restarted with other entries and a new GENCTR (≤ 10 s)', async () => {
    const dc = await sim();
    await up(dc, 2);
    const port = dc.port;
    const signals = await recordSignals(client);
    await dc.close();
    sims.splice(sims.indexOf(dc), 1);
    const t0 = performance.now();
    const again = await sim({ port, entries: entries(S1, S2, S3) });
    again.bumpGenctr();
    await waitFor(() => stack.fabrics.live.length === 3, { timeoutMs: 10_000, what: 'S3 connected' });
    recordTiming('faults', 'DC restarted with a new entry → connected', performance.now() - t0);
    expect(signals.changed.length).toBeGreaterThanOrEqual(1);
    expect(stack.fabrics.disconnects).toEqual([]);
    await signals.dispose();
  });

  it('both daemons own their names again after the bus daemon restarts (≤ 10 s), nothing disconnected', async () => {
    const dc = await sim();
    await stack.stafd.writeConf(
      `[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=${dc.port}\n`,
    );
    // The bus backoff is shortened through the app option; stacd's retry is 200 ms (stas-stack.ts).
    stack.stafd.app = undefined;
    const { startStafd } = await import('../../packages/stafd/src/stafd-app.js');
    const app = await startStafd({
      env: stack.stafd.env,
      log: stack.stafd.log,
      busAddress: bus.address,
      createBrowser: () => stack.stafd.browser,
      daemon: { saveDelayMs: 20 },
      busBackoff: FAST_BACKOFF,
    });
    stack.stafd.app = app;
    await stack.startStacd();
    await waitFor(() => stack.fabrics.live.length === 2, { timeoutMs: 10_000, what: 'connected' });
    const sessions = dc.connections.length;
    await client.close();

    await bus.kill();
    const t0 = performance.now();
    children.push(await restartBus(bus));
    client = await connectSystemBus({ address: bus.address });
    const c = client;
    await waitFor(
      async () =>
        (await c.getNameOwner(STAF_API.busName)) !== null &&
        (await c.getNameOwner(STAC_API.busName)) !== null,
      { timeoutMs: 10_000, what: 'both names owned again' },
    );
    const ms = performance.now() - t0;
    recordTiming('faults', 'bus restart → both names owned again', ms);
    expect(ms).toBeLessThan(10_000);
    expect(
      await client.callMethod(STAC_API, STAC_INTERFACE, 'list_controllers', { detailed: false }),
    ).toHaveLength(2);
    expect(
      await client.callMethod(STAF_API, STAF_INTERFACE, 'list_controllers', { detailed: false }),
    ).toHaveLength(1);
    expect(dc.connections.length).toBe(sessions); // the DC session survived the bus
    // Both said what happened.
    expect(stack.stafd.logs.some((l) => l.level >= 40 && /bus|D-Bus/i.test(l.msg))).toBe(true);
    expect(stack.stacdLogs.some((l) => l.level >= 40 && /bus|D-Bus/i.test(l.msg))).toBe(true);
    expect(stack.fabrics.disconnects).toEqual([]);
  });

  it('stafd restarted under a running stacd: no controller disconnected', async () => {
    const dc = await sim();
    await up(dc, 2);
    const daemon = stack.stacd;
    const rounds = daemon?.rounds ?? 0;
    await stack.stafd.app?.stop();
    await stack.stafd.start();
    await waitFor(() => (daemon?.rounds ?? 0) > rounds && daemon?.lastRound?.discovered.ok === true, {
      timeoutMs: 10_000,
      what: 'a stacd round with stafd back',
    });
    await daemon?.settled();
    expect(stack.fabrics.disconnects).toEqual([]);
    expect(stack.fabrics.live).toHaveLength(2);
    expect(
      stack.stacdLogs.some((l) => /stafd/.test(l.msg) && /bus|left|gone|unavailable|appeared/.test(l.msg)),
    ).toBe(true);
  });

  it('stacd restarted: adopts every controller, reconnects none', async () => {
    const dc = await sim();
    await up(dc, 2);
    const connects = stack.fabrics.connects.length;
    await stack.stacd?.stop();
    const mark = stack.stacdLogs.length;
    await stack.startStacd({ keepFabrics: true });
    expect(stack.fabrics.connects.length).toBe(connects);
    expect(stack.fabrics.disconnects).toEqual([]);
    // Every controller kept (the registry says stas made them), none connected again.
    const explain = JSON.parse(await client.callMethod(STAC_API, STAC_INTERFACE, 'explain', {})) as {
      actions: { action: string }[];
    };
    expect(explain.actions.map((a) => a.action)).toEqual(['keep', 'keep']);
    expect(stack.stacdLogs.slice(mark).filter((l) => l['action'] === 'connect')).toEqual([]);
    expect(stack.fabrics.live).toHaveLength(2);
  });

  it('100 reloads of each daemon in a burst leave one session per DC and every controller in place', async () => {
    const dc = await sim();
    await up(dc, 2);
    const app = stack.stafd.app;
    const stacd = stack.stacd;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        await Promise.all([app?.reload(), stacd?.reload()]);
      }),
    );
    await stacd?.settled();
    await app?.daemon.whenIdle();
    recordTiming('faults', '100 reloads of each daemon', performance.now() - t0);
    expect(app?.daemon.controllers()).toHaveLength(1);
    expect(dc.connections.filter((c) => c.state === 'connected')).toHaveLength(1);
    expect(stack.fabrics.live).toHaveLength(2);
    expect(stack.fabrics.disconnects).toEqual([]);
    expect(stack.fabrics.connects.filter((c) => c.outcome.ok && c.outcome.kind === 'connected')).toHaveLength(
      2,
    );
    expect(stack.stafd.logs.filter((l) => l.msg === 'configuration reloaded').length).toBeGreaterThan(0);
  });

  it('kernel connect failures: refused and time-out retried with a typed reason, EALREADY taken as success', async () => {
    const dc = await sim({ entries: entries(S1, S2, S3) });
    const script = new Map<string, string[]>([
      [S1, ['ECONNREFUSED', 'ECONNREFUSED']],
      [S2, ['ETIMEDOUT']],
      [S3, ['EALREADY']],
    ]);
    const respond = (text: string): ConnectOutcome | undefined => {
      const nqn = /(?:^|,)nqn=([^,]+)/.exec(text)?.[1] ?? '';
      const next = script.get(nqn)?.shift();
      return next === undefined ? undefined : next === 'EALREADY' ? ALREADY : fakeFailure(next);
    };
    await stack.stafd.writeConf(
      `[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=${dc.port}\n`,
    );
    await stack.stafd.start();
    const t0 = performance.now();
    await stack.startStacd({ fabrics: { respond }, backoff: FAST_BACKOFF });
    const liveNqn = (nqn: string): boolean =>
      stack.fabrics.connects.some(
        (c) => c.tokens.get('nqn') === nqn && c.outcome.ok && c.outcome.kind === 'connected',
      );
    await waitFor(() => liveNqn(S1) && liveNqn(S2), {
      timeoutMs: 15_000,
      what: 'S1 and S2 connected after retries',
    });
    await stack.stacd?.settled();
    recordTiming('faults', 'refused ×2 / time-out ×1 → connected', performance.now() - t0);
    const outcomes = stack.fabrics.connects.map((c) => [
      c.tokens.get('nqn'),
      c.outcome.ok ? c.outcome.kind : c.outcome.kind,
    ]);
    expect(outcomes.filter(([n]) => n === S1)).toHaveLength(3);
    expect(outcomes.filter(([n]) => n === S2)).toHaveLength(2);
    // EALREADY is a success outcome (not a failure kind); with no matching controller in sysfs stacd
    // says so and tries again, which then connects.
    expect(outcomes.filter(([n]) => n === S3)).toEqual([
      [S3, 'already-connected'],
      [S3, 'connected'],
    ]);
    expect(stack.stacdLogs.some((l) => /already exists, but no matching controller/.test(l.msg))).toBe(true);
    const failed = stack.stacdLogs.filter((l) => /connect failed/.test(l.msg));
    expect(failed.length).toBeGreaterThanOrEqual(3);
    expect(failed.map((l) => JSON.stringify(l)).join('\n')).toMatch(/refused/i);
    expect(failed.map((l) => JSON.stringify(l)).join('\n')).toMatch(/tim/i);
    expect(stack.fabrics.disconnects).toEqual([]);
  });
});
