// stafd in-process on a private dbus-daemon, with DC simulators on loopback and a fake mDNS browser:
// configured DCs and their entries on D-Bus, exactly one log_pages_changed per real change, the cache
// served stale after a restart then refreshed, reloads (broken config, exclude=, symname), referrals,
// lost mDNS DCs purged after their persistence, and a clean, idempotent stop.
import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectSystemBus, type SystemBus } from '@stas/common/dbus/bus';
import { STAF_API, STAF_DEBUG_INTERFACE, STAF_INTERFACE } from '@stas/common/dbus/staf-api';
import { WELL_KNOWN_DISCOVERY_NQN } from '@stas/common/nvme/tid';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { DcSimulator } from '@stas/common/testing/dc-sim/dc-simulator';
import type { Notifier } from '@stas/common/systemd/sd-notify';
import { StartupError } from '../../packages/stafd/src/stafd-app.js';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';
import {
  HOST_NQN,
  allLogPages,
  createStafdHarness,
  loopbackService,
  recordSignals,
  waitForLog,
  type StafdHarness,
} from './fixtures/stafd-harness.js';
import { recordTiming } from './fixtures/timings.js';
import { waitFor } from './fixtures/wait.js';

const SUBSYS_A = 'nqn.2024-01.io.stas.test:subsys-a';
const SUBSYS_B = 'nqn.2024-01.io.stas.test:subsys-b';
const SUBSYS_C = 'nqn.2024-01.io.stas.test:subsys-c';

function controllerLine(sim: DcSimulator, extra = ''): string {
  return `controller = transport=tcp;traddr=${sim.host};trsvcid=${sim.port}${extra}`;
}

function tidArgs(sim: DcSimulator, hostIface = '') {
  return {
    transport: 'tcp',
    traddr: sim.host,
    trsvcid: String(sim.port),
    subsysnqn: WELL_KNOWN_DISCOVERY_NQN,
    host_traddr: '',
    host_iface: hostIface,
    host_nqn: HOST_NQN,
  };
}

describe('stafd daemon on a private bus', () => {
  let bus: DbusDaemon;
  let client: SystemBus;
  let h: StafdHarness;
  const sims: DcSimulator[] = [];

  async function sim(entries = [nvmeEntry({ traddr: '127.0.0.1', subnqn: SUBSYS_A })]): Promise<DcSimulator> {
    const s = await DcSimulator.start({ entries });
    sims.push(s);
    return s;
  }

  beforeEach(async () => {
    bus = await startDbusDaemon();
    client = await connectSystemBus({ address: bus.address });
    h = await createStafdHarness(bus.address);
  });

  afterEach(async () => {
    await h.dispose();
    await client.close();
    await Promise.all(sims.splice(0).map((s) => s.close()));
    await bus.close();
  });

  it('serves a configured DC and its entries through get_all_log_pages and list_controllers', async () => {
    const dc = await sim();
    await h.writeConf(`[Controllers]\n${controllerLine(dc)}\n`);
    const app = await h.start();
    recordTiming('stafd', 'start → bus name owned (in-process)', app.startupMs);

    const pages = await waitFor(
      async () => {
        const all = await allLogPages(client);
        return all[0]?.['log-pages'].length === 1 ? all : undefined;
      },
      { timeoutMs: 5000, what: 'the DC entries on D-Bus' },
    );
    expect(pages).toHaveLength(1);
    const controller = pages[0]?.['discovery-controller'];
    expect(controller).toMatchObject({
      transport: 'tcp',
      traddr: '127.0.0.1',
      trsvcid: String(dc.port),
      subsysnqn: WELL_KNOWN_DISCOVERY_NQN,
      'host-nqn': HOST_NQN,
      device: '',
      origin: 'configured',
      connected: 'True',
      'log-pages-state': 'fresh',
    });
    expect(pages[0]?.['log-pages'][0]).toMatchObject({ subnqn: SUBSYS_A, subtype: 'nvme', trsvcid: '4420' });

    const list = await client.callMethod(STAF_API, STAF_INTERFACE, 'list_controllers', { detailed: false });
    expect(list).toEqual([
      {
        traddr: '127.0.0.1',
        trsvcid: String(dc.port),
        transport: 'tcp',
        subsysnqn: WELL_KNOWN_DISCOVERY_NQN,
        'host-iface': '',
        'host-traddr': '',
        'host-nqn': HOST_NQN,
        device: '',
      },
    ]);
    const entries = await client.callMethod(STAF_API, STAF_INTERFACE, 'get_log_pages', tidArgs(dc));
    expect(entries.map((e) => e['subnqn'])).toEqual([SUBSYS_A]);
    // The empty port means 8009 (§2.2): no DC there.
    const none = await client.callMethod(STAF_API, STAF_INTERFACE, 'get_log_pages', {
      ...tidArgs(dc),
      trsvcid: '',
    });
    expect(none).toEqual([]);
    expect(dc.connections).toHaveLength(1);
    expect(dc.connections[0]).toMatchObject({ hostnqn: HOST_NQN, katoMs: 30_000 });
  });

  it('emits exactly one log_pages_changed per real change, and none for a GENCTR bump alone', async () => {
    const dc = await sim();
    await h.writeConf(`[Controllers]\n${controllerLine(dc)}\n`);
    const signals = await recordSignals(client);
    const app = await h.start();
    await waitFor(() => signals.changed.length === 1, { timeoutMs: 5000, what: 'first log_pages_changed' });
    const reads = (): number => app.daemon.controllers()[0]?.runner.counters.logReads ?? 0;
    await waitFor(() => dc.connections[0]?.aerOutstanding === 1, { timeoutMs: 5000, what: 'AER armed' });

    const before = reads();
    const t0 = performance.now();
    dc.addEntry(nvmeEntry({ traddr: '127.0.0.1', subnqn: SUBSYS_B }));
    await waitFor(() => signals.changed.length === 2, { timeoutMs: 5000, what: 'second log_pages_changed' });
    recordTiming('stafd', 'AEN → log_pages_changed', performance.now() - t0);
    await waitFor(() => reads() === before + 1, { timeoutMs: 5000, what: 'the re-read' });
    await waitFor(() => dc.connections[0]?.aerOutstanding === 1, { timeoutMs: 5000, what: 'AER re-armed' });

    // Same entries, new GENCTR: the DC is read again, but nothing changed for D-Bus clients (F15).
    dc.bumpGenctr();
    await waitFor(() => reads() === before + 2, { timeoutMs: 5000, what: 'the re-read after a bump' });
    // A method call is answered after any signal stafd sent before it (same connection, in order).
    await allLogPages(client);
    expect(signals.changed).toHaveLength(2);
    expect(signals.changed[1]).toEqual({ ...tidArgs(dc), device: '' });
    const all = await allLogPages(client);
    expect(all[0]?.['log-pages'].map((e) => e['subnqn'])).toEqual([SUBSYS_A, SUBSYS_B]);
    await signals.dispose();
  });

  it('serves the cached pages, stale, right after a restart, then refreshes them', async () => {
    const dc = await sim();
    await h.writeConf(`[Controllers]\n${controllerLine(dc)}\n`);
    const first = await h.start();
    await waitFor(async () => (await allLogPages(client))[0]?.['log-pages'].length === 1, {
      timeoutMs: 5000,
      what: 'entries',
    });
    await first.stop();
    const cache = JSON.parse(await readFile(h.cacheFile, 'utf8')) as { format: string; dcs: unknown[] };
    expect(cache.format).toBe('stas-dlp-cache');
    expect(cache.dcs).toHaveLength(1);

    dc.stall(); // the DC does not answer: the restarted stafd cannot refresh yet
    const signals = await recordSignals(client);
    await h.start();
    const stale = await allLogPages(client);
    expect(stale[0]?.['discovery-controller']['log-pages-state']).toBe('stale');
    expect(stale[0]?.['log-pages'].map((e) => e['subnqn'])).toEqual([SUBSYS_A]);

    dc.resume();
    await waitFor(
      async () => (await allLogPages(client))[0]?.['discovery-controller']['log-pages-state'] === 'fresh',
      { timeoutMs: 10_000, what: 'the page refreshed' },
    );
    // Refreshed with the same entries: no change to announce.
    expect(signals.changed).toEqual([]);
    await signals.dispose();
  });

  it('keeps running on a reload with a broken config, naming file:line, and applies the valid parts', async () => {
    const dc = await sim();
    await h.writeConf(`[Controllers]\n${controllerLine(dc)}\n`);
    const app = await h.start();
    await waitFor(() => dc.connections.length === 1, { timeoutMs: 5000, what: 'connected' });
    const connection = dc.connections[0]?.id;

    await h.writeConf(`[Global]\nkato = banana\ntron = true\n[Controllers]\n${controllerLine(dc)}\n`);
    await app.reload();
    const error = await waitForLog(
      h.logs,
      (r) => r.level >= 40 && r.msg.includes(`${h.confFile}:2`),
      'a diagnostic naming stafd.conf:2',
    );
    expect(error.msg).toContain('kato');
    // The valid part (tron) applied; the DC kept its connection.
    const tron = await client.getProperty(STAF_API, STAF_DEBUG_INTERFACE, 'tron');
    expect(tron).toBe(true);
    expect(dc.connections.map((c) => c.id)).toEqual([connection]);
    const info = JSON.parse(await client.callMethod(STAF_API, STAF_DEBUG_INTERFACE, 'process_info', {})) as {
      tron: boolean;
    };
    expect(info.tron).toBe(true);
  });

  it('drops a DC excluded by a reload, without touching the other DC connections', async () => {
    const a = await sim();
    const b = await sim([nvmeEntry({ traddr: '127.0.0.1', subnqn: SUBSYS_B })]);
    await h.writeConf(`[Controllers]\n${controllerLine(a)}\n${controllerLine(b)}\n`);
    const signals = await recordSignals(client);
    const app = await h.start();
    await waitFor(() => a.connections.length === 1 && b.connections.length === 1, {
      timeoutMs: 5000,
      what: 'both connected',
    });
    const runnerB = app.daemon.controllers().find((v) => v.tid.trsvcid === String(b.port));
    const bIds = b.connections.map((c) => c.id);

    await h.writeConf(
      `[Controllers]\n${controllerLine(a)}\n${controllerLine(b)}\nexclude = traddr=127.0.0.1;trsvcid=${a.port}\n`,
    );
    await app.reload();
    await waitFor(() => a.connections.length === 0, { timeoutMs: 5000, what: 'A disconnected' });
    await waitFor(() => signals.removed === 1, { timeoutMs: 5000, what: 'dc_removed' });
    const list = await client.callMethod(STAF_API, STAF_INTERFACE, 'list_controllers', { detailed: false });
    expect(list.map((d) => d['trsvcid'])).toEqual([String(b.port)]);
    expect(b.connections.map((c) => c.id)).toEqual(bIds);
    const sameB = app.daemon.controllers().find((v) => v.tid.trsvcid === String(b.port));
    expect(sameB?.runner.counters.sessionsOpened).toBe(1);
    expect(sameB?.tid).toBe(runnerB?.tid);
    await signals.dispose();
  });

  it('follows a referral to a second DC, which inherits the host fields', async () => {
    const target = await sim([nvmeEntry({ traddr: '127.0.0.1', subnqn: SUBSYS_C })]);
    const referrer = await sim([
      nvmeEntry({ traddr: '127.0.0.1', subnqn: SUBSYS_A }),
      target.referralEntry(),
    ]);
    await h.writeConf(`[Controllers]\n${controllerLine(referrer)}\n`);
    await h.start();
    const all = await waitFor(
      async () => {
        const pages = await allLogPages(client);
        return pages.length === 2 && pages.every((p) => p['log-pages'].length > 0) ? pages : undefined;
      },
      { timeoutMs: 10_000, what: 'the referred DC with its entries' },
    );
    const referred = all.find((p) => p['discovery-controller']['trsvcid'] === String(target.port));
    expect(referred?.['discovery-controller']).toMatchObject({ origin: 'referral', 'host-nqn': HOST_NQN });
    expect(referred?.['log-pages'].map((e) => e['subnqn'])).toEqual([SUBSYS_C]);

    // The referral disappears: the referred DC goes.
    referrer.removeEntry((e) => e.subtype === 1);
    await waitFor(async () => (await allLogPages(client)).length === 1, {
      timeoutMs: 10_000,
      what: 'the referred DC removed',
    });
    await waitFor(() => target.connections.length === 0, { timeoutMs: 5000, what: 'referred DC closed' });
  });

  it('purges an mDNS DC that is neither announced nor connected once its persistence ran out', async () => {
    const dc = await sim();
    await h.writeConf(
      '[Global]\ntron = true\n[Discovery controller connection management]\nzeroconf-connections-persistence = 1s\n',
    );
    const signals = await recordSignals(client);
    await h.start();
    h.browser.announce([loopbackService(dc.port)]);
    await waitFor(async () => (await allLogPages(client))[0]?.['log-pages'].length === 1, {
      timeoutMs: 5000,
      what: 'the mDNS DC with its entries',
    });
    const found = await client.callMethod(STAF_API, STAF_INTERFACE, 'get_log_pages', tidArgs(dc, 'lo'));
    expect(found).toHaveLength(1);
    const [listed] = await client.callMethod(STAF_API, STAF_INTERFACE, 'list_controllers', {
      detailed: true,
    });
    expect(listed).toMatchObject({
      origin: 'discovered',
      'host-iface': 'lo',
      'unresponsive timeout': '1 sec',
    });

    // Announced no more, but connected: kept.
    h.browser.announce([]);
    await waitForLog(h.logs, (r) => r['reason'] === 'connected', 'kept while connected');
    expect(await allLogPages(client)).toHaveLength(1);

    // The DC goes away too: lost, then removed after 1 s.
    await dc.close();
    await waitForLog(h.logs, (r) => r['reason'] === 'lost-waiting', 'lost');
    await waitFor(() => signals.removed === 1, { timeoutMs: 5000, what: 'dc_removed' });
    expect(await allLogPages(client)).toEqual([]);
    await signals.dispose();
  });

  it('tells systemd READY=1 once the name is owned, RELOADING=1 around a reload, STOPPING=1 at stop', async () => {
    await h.writeConf('');
    const events: string[] = [];
    const notifier: Notifier = {
      enabled: true,
      watchdogIntervalMs: null,
      ready: () => {
        void client
          .getNameOwner(STAF_API.busName)
          .then((owner) => events.push(`ready owner=${String(owner !== null)}`));
      },
      reloading: () => events.push('reloading'),
      stopping: () => events.push('stopping'),
      status: (text) => events.push(`status ${text}`),
      watchdog: () => events.push('watchdog'),
    };
    const app = await h.start({}, notifier);
    await waitFor(() => events.includes('ready owner=true'), { timeoutMs: 5000, what: 'READY=1' });
    await app.daemon.whenIdle();
    await app.reload();
    await app.stop();
    h.app = undefined;
    expect(events.filter((e) => !e.startsWith('ready'))).toEqual([
      'status 0 discovery controllers',
      'reloading',
      'status 0 discovery controllers',
      'stopping',
    ]);
  });

  it('refuses to start a second stafd on the same bus', async () => {
    await h.writeConf('');
    await h.start();
    const other = await createStafdHarness(bus.address);
    try {
      await expect(other.start()).rejects.toSatisfy(
        (err) => err instanceof StartupError && err.code === 'STAFD_ALREADY_RUNNING',
      );
    } finally {
      await other.dispose();
    }
  });

  it('stops idempotently: deregisters, closes sessions, releases the name', async () => {
    const dc = await DcSimulator.start({ dctype: 'ddc' });
    sims.push(dc);
    await h.writeConf(`[Controllers]\n${controllerLine(dc)}\n`);
    await h.writeSysConf(
      `[Host]\nnqn = ${HOST_NQN}\nid = 5b5ae6a9-1c1e-4ea2-9d7e-0d7a2f1f9a10\nsymname = one\n`,
    );
    const app = await h.start();
    await waitFor(() => dc.registrations.length === 1, { timeoutMs: 5000, what: 'registered' });
    expect(dc.registrations[0]?.symname).toBe('one');

    // A new symbolic name is sent on reload, on the same connection (C13).
    const id = dc.connections[0]?.id;
    await h.writeSysConf(
      `[Host]\nnqn = ${HOST_NQN}\nid = 5b5ae6a9-1c1e-4ea2-9d7e-0d7a2f1f9a10\nsymname = two\n`,
    );
    await app.reload();
    await waitFor(() => dc.registrations[0]?.symname === 'two', { timeoutMs: 5000, what: 're-registered' });
    expect(dc.connections.map((c) => c.id)).toEqual([id]);

    await Promise.all([app.stop(), app.stop()]);
    expect(dc.registrations).toEqual([]);
    await waitFor(() => dc.connections.length === 0, { timeoutMs: 5000, what: 'closed' });
    expect(await client.getNameOwner(STAF_API.busName)).toBeNull();
    h.app = undefined;
  });
});
