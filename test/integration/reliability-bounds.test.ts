// Bounded resources with both daemons in-process on a private bus: 1,000 DCs announced at once (a fake
// mDNS browser), a log page of 100,000 entries (above the default [Limits] max-log-page-entries, 65,536),
// two DCs referring to each other, and a DC flooding discovery AENs. During each, D-Bus calls to both
// daemons are answered quickly (every latency is measured; asserted generously: p95 < 100 ms, max < 1 s;
// 2 s for the 1,000-DC burst), heapUsed growth stays under a limit, and where a limit applies a log line
// names its stafd.conf key; limits set in stafd.conf ([Limits]) are hit, named, and changed by a reload.
// STAS_LONG=1: 5,000 DCs, 20,000 AENs, and a 65,536-entry page read in full.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectSystemBus, type SystemBus } from '@stas/common/dbus/bus';
import { STAC_API, STAC_DEBUG_INTERFACE, STAC_INTERFACE } from '@stas/common/dbus/stac-api';
import { STAF_API, STAF_DEBUG_INTERFACE, STAF_INTERFACE } from '@stas/common/dbus/staf-api';
import { nvmeEntry, referralEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { DcSimulator, type DcSimOptions } from '@stas/common/testing/dc-sim/dc-simulator';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';
import { loopbackService, waitForLog } from './fixtures/stafd-harness.js';
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

  /**
   * One constant-size call to each daemon (a property Get): how long a caller waits for the daemon's
   * event loop, without the cost of a large reply (list_controllers of 1,000 DCs is 1.3 MB).
   */
  const smallProbe = async (): Promise<void> => {
    await client.getProperty(STAF_API, STAF_DEBUG_INTERFACE, 'log_level');
    if (stack.stacd !== undefined) await client.getProperty(STAC_API, STAC_DEBUG_INTERFACE, 'log_level');
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
      await stack.stafd.writeConf(`[Limits]\nmax-discovery-controllers = ${MANY_DCS}\n`);
      const app = await stack.stafd.start({
        sessionOptions: { icrespTimeoutMs: 500, adminTimeoutMs: 1000 },
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
        // Polled every 50 ms: each poll builds 1,000 views in this same process.
        await waitFor(() => app.daemon.controllers().length === MANY_DCS, {
          timeoutMs: LONG ? 120_000 : 15_000,
          intervalMs: 50,
          what: `${MANY_DCS} DCs known`,
        });
        // Let every runner fail its first connect.
        await waitFor(() => app.daemon.controllers().every((c) => c.runner.counters.openFailures > 0), {
          timeoutMs: LONG ? 120_000 : 15_000,
          intervalMs: 50,
          what: 'every DC tried',
        });
      })();
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      // Each round: the full detailed listing, then a small call (the wait for the event loop alone).
      const small: number[] = [];
      const latencies = await probeWhile(async () => {
        await probe();
        const t0 = performance.now();
        await smallProbe();
        small.push(performance.now() - t0);
      }, busy);
      loop.disable();
      recordTiming(
        'bounds',
        `${MANY_DCS} DCs: event-loop delay max ${(loop.max / 1e6).toFixed(0)} ms`,
        loop.max / 1e6,
      );
      // stafd slices the burst (round actions, runner starts and session opens per event-loop turn), so
      // small calls are answered within tens of ms. A detailed listing of 1,000 DCs is slow by itself
      // (1.3 MB marshalled by dbus-next and decoded again in this same process: 100-300 ms on a loaded
      // 2-CPU machine, as much after the burst as during it). Both asserted generously: other test
      // files and processes share the CPUs.
      const burstLimits = { p95: LONG ? 5000 : 2000, max: LONG ? 5000 : 2000 };
      assertLatencies(`${MANY_DCS} DCs announced, small calls`, small, burstLimits);
      assertLatencies(`${MANY_DCS} DCs announced`, latencies, burstLimits);
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

  it('holds at most max-discovery-controllers mDNS DCs (stafd.conf) and says which limit was hit', async () => {
    await stack.stafd.writeConf('[Limits]\nmax-discovery-controllers = 50\n');
    const app = await stack.stafd.start();
    stack.stafd.browser.announce(
      Array.from({ length: 80 }, (_, i) => ({
        ...loopbackService(21000 + i, `dc-${i}`),
        address: '127.0.0.2',
      })),
    );
    await waitFor(() => app.daemon.controllers().length === 50, { timeoutMs: 5000, what: '50 DCs held' });
    await app.daemon.whenIdle();
    expect(app.daemon.controllers()).toHaveLength(50);
    const limit = stack.stafd.logs.filter((l) => l['limit'] === 'max-discovery-controllers');
    expect(limit).toHaveLength(1);
    expect(limit[0]?.level).toBe(40);
    expect(limit[0]?.msg).toContain(
      'limit of 50 discovery controllers reached ([Limits] max-discovery-controllers)',
    );
    // A reload lowering the limit drops the DCs added last, naming the key.
    await stack.stafd.writeConf('[Limits]\nmax-discovery-controllers = 20\n');
    await app.reload();
    expect(app.daemon.controllers()).toHaveLength(20);
    expect(app.daemon.controllers().map((c) => c.tid.trsvcid)).toEqual(
      Array.from({ length: 20 }, (_, i) => String(21000 + i)),
    );
    const dropped = stack.stafd.logs.filter((l) => l['reason'] === 'limit');
    expect(dropped).toHaveLength(30);
    expect(dropped[0]?.msg).toContain('([Limits] max-discovery-controllers)');
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
    expect(JSON.stringify(line)).toContain('(set by [Limits] max-log-page-entries)');
    expect(app.daemon.controllers()[0]?.runner.counters.logReads ?? 0).toBe(0);
    expect(stack.fabrics.connects).toEqual([]);
    const growth = heapUsedMb() - heap0;
    recordTiming('bounds', `100,000-entry page: heapUsed growth ${growth.toFixed(1)} MB`, growth);
    expect(growth).toBeLessThan(HEAP_GROWTH_LIMIT_MB);
  });

  it('refuses a page above max-log-page-entries set in stafd.conf, names the key, and reads it after a reload raises it', async () => {
    const entries = Array.from({ length: 300 }, (_, i) =>
      nvmeEntry({ traddr: '127.0.0.1', subnqn: `nqn.2024-01.io.stas.limit:s${i}` }),
    );
    const dc = await sim({ entries });
    const controller = `[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=${dc.port}\n`;
    await stack.stafd.writeConf(`[Limits]\nmax-log-page-entries = 200\n${controller}`);
    const app = await stack.stafd.start();
    const refused = await waitForLog(
      stack.stafd.logs,
      (l) => l.msg.includes('exceeds the limit of 200 entries'),
      'the entry-limit log line',
    );
    expect(refused.level).toBe(40);
    expect(refused.msg).toContain(
      'NUMREC 300 exceeds the limit of 200 entries (set by [Limits] max-log-page-entries)',
    );
    const dcView = () => app.daemon.controllers()[0];
    expect(dcView()?.runner.page).toBeNull();
    expect(dcView()?.runner.counters.logReads).toBe(0);

    await stack.stafd.writeConf(`[Limits]\nmax-log-page-entries = 300\n${controller}`);
    await app.reload();
    expect(stack.stafd.logs.some((l) => l['limit'] === 'max-log-page-entries' && l['to'] === 300)).toBe(true);
    await waitFor(() => dcView()?.runner.page?.entries.length === 300, {
      timeoutMs: 5000,
      what: 'the page read under the raised limit',
    });
    expect(dc.connections.filter((c) => c.state === 'connected')).toHaveLength(1);
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
