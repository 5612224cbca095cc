// Bounded resources with both daemons in-process on a private bus: 1,000 DCs announced at once (a fake
// mDNS browser), a log page of 100,000 entries (above the 65,536-entry limit of the log reader), two DCs
// referring to each other, and a DC flooding discovery AENs. During each, D-Bus calls to both daemons are
// answered quickly (every latency is measured; asserted generously: p95 < 100 ms, max < 1 s; 2 s for the
// 1,000-DC burst), heapUsed
// growth stays under a limit, and where a limit applies a log line names it.
// STAS_LONG=1: 5,000 DCs, 20,000 AENs, and a 65,536-entry page read in full.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectSystemBus, type SystemBus } from '@stas/common/dbus/bus';
import { STAC_API, STAC_INTERFACE } from '@stas/common/dbus/stac-api';
import { STAF_API, STAF_INTERFACE } from '@stas/common/dbus/staf-api';
import { nvmeEntry, referralEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { DcSimulator, type DcSimOptions } from '@stas/common/testing/dc-sim/dc-simulator';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';
import { loopbackService } from './fixtures/stafd-harness.js';
import { createStasStack, heapUsedMb, maxOf, probeWhile, type StasStack } from './fixtures/stas-stack.js';
import { recordTiming } from './fixtures/timings.js';
import { waitFor } from './fixtures/wait.js';

const LONG = process.env['STAS_LONG'] === '1';
const MANY_DCS = Number(process.env['STAS_BOUNDS_DCS'] ?? (LONG ? 5000 : 1000));
const AENS = LONG ? 20_000 : 2000;
const HEAP_GROWTH_LIMIT_MB = LONG ? 400 : 200;

function p95(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] ?? 0;
}

describe('bounds: stafd + stacd under load', () => {
  let bus: DbusDaemon;
  let client: SystemBus;
  let stack: StasStack;
  const sims: DcSimulator[] = [];

  beforeEach(async () => {
    bus = await startDbusDaemon();
    client = await connectSystemBus({ address: bus.address });
    stack = await createStasStack(bus.address);
  });

  afterEach(async () => {
    await stack.dispose();
    await client.close();
    await Promise.all(sims.splice(0).map((s) => s.close()));
    await bus.close();
  });

  async function sim(options: DcSimOptions): Promise<DcSimulator> {
    const s = await DcSimulator.start(options);
    sims.push(s);
    return s;
  }

  /** One list_controllers to each daemon (both must answer). */
  const probe = async (): Promise<void> => {
    await client.callMethod(STAF_API, STAF_INTERFACE, 'list_controllers', { detailed: true });
    if (stack.stacd !== undefined)
      await client.callMethod(STAC_API, STAC_INTERFACE, 'list_controllers', { detailed: true });
  };

  /** First calls pay for connection set-up and JIT; they are not what is measured. */
  async function warmUp(): Promise<void> {
    for (let i = 0; i < 5; i++) await probe();
  }

  function assertLatencies(
    what: string,
    latencies: readonly number[],
    limits: { p95: number; max: number } = { p95: 100, max: 1000 },
  ): void {
    recordTiming(
      'bounds',
      `${what}: ${latencies.length} probes, p95 ${p95(latencies).toFixed(1)} ms, max ${maxOf(latencies).toFixed(1)} ms`,
      p95(latencies),
    );
    expect(latencies.length).toBeGreaterThan(0);
    expect(p95(latencies)).toBeLessThan(limits.p95);
    expect(maxOf(latencies)).toBeLessThan(limits.max);
  }

  it(
    `keeps answering while ${MANY_DCS} mDNS DCs are announced at once (none reachable)`,
    { timeout: LONG ? 300_000 : 30_000 },
    async () => {
      await stack.stafd.writeConf('[Global]\n');
      const app = await stack.stafd.start({
        sessionOptions: { icrespTimeoutMs: 500, adminTimeoutMs: 1000 },
        maxDcs: MANY_DCS,
      });
      await stack.startStacd();
      await warmUp();
      const heap0 = heapUsedMb();
      // Ports from 20000 on 127.0.0.2: nothing listens there, so every connect is refused at once.
      const services = Array.from({ length: MANY_DCS }, (_, i) => ({
        ...loopbackService(20000 + i, `dc-${i}`),
        address: '127.0.0.2',
      }));
      const busy = (async () => {
        stack.stafd.browser.announce(services);
        await waitFor(() => app.daemon.controllers().length === MANY_DCS, {
          timeoutMs: LONG ? 120_000 : 15_000,
          what: `${MANY_DCS} DCs known`,
        });
        // Let every runner fail its first connect.
        await waitFor(() => app.daemon.controllers().every((c) => c.runner.counters.openFailures > 0), {
          timeoutMs: LONG ? 120_000 : 15_000,
          what: 'every DC tried',
        });
      })();
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      const latencies = await probeWhile(probe, busy);
      loop.disable();
      recordTiming(
        'bounds',
        `${MANY_DCS} DCs: event-loop delay max ${(loop.max / 1e6).toFixed(0)} ms`,
        loop.max / 1e6,
      );
      // Known: a burst of 1,000 new DCs still holds the loop for a few hundred ms (1,000 sessions failing
      // at once, logging, GC); RUNNER_STARTS_PER_TURN brought it down from about 2 s (5,000 DCs: about 3 s). Asserted generously.
      assertLatencies(`${MANY_DCS} DCs announced`, latencies, {
        p95: LONG ? 5000 : 2000,
        max: LONG ? 5000 : 2000,
      });
      const growth = heapUsedMb() - heap0;
      recordTiming('bounds', `${MANY_DCS} DCs: heapUsed growth ${growth.toFixed(1)} MB`, growth);
      expect(growth).toBeLessThan(HEAP_GROWTH_LIMIT_MB);
      const listed = await client.callMethod(STAF_API, STAF_INTERFACE, 'list_controllers', {
        detailed: false,
      });
      expect(listed).toHaveLength(MANY_DCS);
      // Stopping with 1,000 sessions in retry is prompt.
      const t0 = performance.now();
      await app.stop();
      stack.stafd.app = undefined;
      recordTiming('bounds', `${MANY_DCS} DCs: stop`, performance.now() - t0);
      expect(performance.now() - t0).toBeLessThan(5000);
    },
  );

  it('holds at most maxDcs mDNS DCs and says which limit was hit', async () => {
    await stack.stafd.writeConf('[Global]\n');
    const app = await stack.stafd.start({ maxDcs: 50 });
    stack.stafd.browser.announce(
      Array.from({ length: 80 }, (_, i) => ({
        ...loopbackService(21000 + i, `dc-${i}`),
        address: '127.0.0.2',
      })),
    );
    await waitFor(() => app.daemon.controllers().length === 50, { timeoutMs: 5000, what: '50 DCs held' });
    await app.daemon.whenIdle();
    expect(app.daemon.controllers()).toHaveLength(50);
    const limit = stack.stafd.logs.filter((l) => l['limit'] === 'maxDcs');
    expect(limit).toHaveLength(1);
    expect(limit[0]?.level).toBe(40);
    expect(limit[0]?.msg).toContain('limit of 50 discovery controllers reached (maxDcs)');
  });

  it('refuses a 100,000-entry log page at the log reader limit, logs the limit and keeps answering', async () => {
    const count = 100_000;
    const entries = Array.from({ length: count }, (_, i) =>
      nvmeEntry({ traddr: '127.0.0.1', subnqn: `nqn.2024-01.io.stas.big:s${i}` }),
    );
    const dc = await sim({ entries });
    await stack.stafd.writeConf(
      `[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=${dc.port}\n`,
    );
    const heap0 = heapUsedMb();
    const app = await stack.stafd.start();
    await stack.startStacd();
    await warmUp();
    const busy = waitFor(
      () => stack.stafd.logs.find((l) => JSON.stringify(l).includes('exceeds the limit of 65536 entries')),
      { timeoutMs: 10_000, what: 'the entry-limit log line' },
    );
    const latencies = await probeWhile(probe, busy);
    assertLatencies('100,000-entry page', latencies);
    const line = await busy;
    expect(line.level).toBeGreaterThanOrEqual(40);
    expect(JSON.stringify(line)).toContain('NUMREC 100000');
    expect(app.daemon.controllers()[0]?.runner.counters.logReads ?? 0).toBe(0);
    expect(stack.fabrics.connects).toEqual([]);
    const growth = heapUsedMb() - heap0;
    recordTiming('bounds', `100,000-entry page: heapUsed growth ${growth.toFixed(1)} MB`, growth);
    expect(growth).toBeLessThan(HEAP_GROWTH_LIMIT_MB);
  });

  it.runIf(LONG)(
    'reads a 65,536-entry page (at the limit) in full and publishes it',
    async () => {
      const count = 65_536;
      const entries = Array.from({ length: count }, (_, i) =>
        nvmeEntry({ traddr: '127.0.0.1', subnqn: `nqn.2024-01.io.stas.big:s${i}` }),
      );
      const dc = await sim({ entries });
      await stack.stafd.writeConf(
        `[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=${dc.port}\n`,
      );
      const heap0 = heapUsedMb();
      const app = await stack.stafd.start();
      await warmUp();
      const busy = waitFor(() => (app.daemon.controllers()[0]?.runner.counters.logReads ?? 0) > 0, {
        timeoutMs: 120_000,
        what: 'the page read',
      });
      const latencies = await probeWhile(probe, busy);
      recordTiming(
        'bounds',
        `65,536-entry page: ${latencies.length} probes, p95 ${p95(latencies).toFixed(0)} ms, max ${maxOf(latencies).toFixed(0)} ms, heap +${(heapUsedMb() - heap0).toFixed(0)} MB`,
        maxOf(latencies),
      );
      const listed = await client.callMethod(STAF_API, STAF_INTERFACE, 'get_log_pages', {
        transport: 'tcp',
        traddr: '127.0.0.1',
        trsvcid: String(dc.port),
        subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery',
        host_traddr: '',
        host_iface: '',
        host_nqn: app.daemon.identity?.hostnqn ?? '',
      });
      expect(listed).toHaveLength(count);
    },
    300_000,
  );

  it('follows a referral loop (A → B → A) to exactly two DCs, stably', async () => {
    const a = await sim({
      entries: [nvmeEntry({ traddr: '127.0.0.1', subnqn: 'nqn.2024-01.io.stas.loop:a' })],
    });
    const b = await sim({
      entries: [nvmeEntry({ traddr: '127.0.0.1', subnqn: 'nqn.2024-01.io.stas.loop:b' })],
    });
    a.addEntry(referralEntry(b));
    b.addEntry(referralEntry(a));
    await stack.stafd.writeConf(
      `[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=${a.port}\n`,
    );
    const app = await stack.stafd.start();
    await stack.startStacd();
    await warmUp();
    const busy = waitFor(() => stack.fabrics.live.length === 2, {
      timeoutMs: 10_000,
      what: 'a and b connected',
    });
    const latencies = await probeWhile(probe, busy);
    assertLatencies('referral loop', latencies);
    // More change notices around the loop: still two DCs, one session each.
    a.bumpGenctr();
    b.bumpGenctr();
    await app.daemon.whenIdle();
    await app.reload();
    await app.daemon.whenIdle();
    expect(app.daemon.controllers()).toHaveLength(2);
    expect(a.connections.filter((c) => c.state === 'connected')).toHaveLength(1);
    expect(b.connections.filter((c) => c.state === 'connected')).toHaveLength(1);
    expect(stack.fabrics.live).toHaveLength(2);
  });

  it(
    `keeps answering while a DC floods ${AENS} discovery AENs, and reads no more than once per AEN`,
    { timeout: LONG ? 600_000 : 30_000 },
    async () => {
      const dc = await sim({
        entries: [nvmeEntry({ traddr: '127.0.0.1', subnqn: 'nqn.2024-01.io.stas.aen:a' })],
      });
      await stack.stafd.writeConf(
        `[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=${dc.port}\n`,
      );
      const app = await stack.stafd.start();
      await stack.startStacd();
      await warmUp();
      await waitFor(() => dc.connections[0]?.aerOutstanding === 1, { timeoutMs: 5000, what: 'AER armed' });
      const reads = (): number => app.daemon.controllers()[0]?.runner.counters.logReads ?? 0;
      let aens = 0;
      dc.on('aen', () => aens++);
      const before = reads();
      const heap0 = heapUsedMb();
      const t0 = performance.now();
      dc.floodAens(AENS);
      // The flood answers the AERs the host sends from now on: one real change starts it.
      dc.addEntry(nvmeEntry({ traddr: '127.0.0.1', subnqn: 'nqn.2024-01.io.stas.aen:b' }));
      const busy = waitFor(() => aens >= AENS + 1 && dc.connections[0]?.aerOutstanding === 1, {
        timeoutMs: LONG ? 300_000 : 15_000,
        what: `${AENS} AENs delivered and the AER re-armed`,
      }).catch((err: unknown) => {
        throw new Error(
          `${String(err)}: aens=${aens} reads=${reads() - before} aer=${String(dc.connections[0]?.aerOutstanding)} conns=${dc.connections.length} logs=${stack.stafd.logs
            .slice(-5)
            .map((l) => l.msg)
            .join(' | ')}`,
        );
      });
      const latencies = await probeWhile(probe, busy);
      const ms = performance.now() - t0;
      assertLatencies(`${AENS} AENs`, latencies);
      await app.daemon.whenIdle();
      const done = reads() - before;
      recordTiming('bounds', `${AENS} AENs in ${ms.toFixed(0)} ms → ${done} log reads`, ms);
      expect(done).toBeGreaterThan(0);
      expect(done).toBeLessThanOrEqual(AENS + 1);
      expect(stack.fabrics.live).toHaveLength(2);
      expect(heapUsedMb() - heap0).toBeLessThan(HEAP_GROWTH_LIMIT_MB);
      expect(stack.fabrics.disconnects).toEqual([]);
    },
  );
});
