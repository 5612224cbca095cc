import { describe, expect, it } from 'vitest';
import { parseStafdConf } from '@stas/common/config/stafd-conf';
import { CONTROLLER_ID_KEYS } from '@stas/common/dbus/api-shared';
import { createTid, type Tid } from '@stas/common/nvme/tid';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import type { DaemonInfo, DcView } from '../daemon.js';
import { INITIAL_DC_STATE } from '../dc/machine.js';
import type { RunnerSnapshot } from '../dc/runner.js';
import {
  allLogPages,
  controllerIdDict,
  detailsDict,
  findController,
  infoDict,
  processInfo,
  tidSignalArgs,
  timerString,
} from './controller-dicts.js';

const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001';
const HOSTID = '00000000-0000-4000-8000-000000000001';
const A = nvmeEntry({ traddr: '192.0.2.10', subnqn: 'nqn.2024-01.io.test:a' });
const NOW = { clock: 10_000, wall: Date.UTC(2026, 0, 1) };

const tid = (fields: Partial<Parameters<typeof createTid>[0]> = {}): Tid =>
  createTid(
    { transport: 'tcp', traddr: '192.0.2.1', hostNqn: HOSTNQN, hostId: HOSTID, ...fields },
    { role: 'discovery' },
  );

function view(over: Partial<DcView> = {}, runner: Partial<RunnerSnapshot> = {}): DcView {
  const t = over.tid ?? tid();
  return {
    tid: t,
    origin: 'configured',
    depth: 0,
    referrer: null,
    lostSince: null,
    persistenceSec: 259_200,
    controller: null,
    runner: {
      tid: t,
      state: { ...INITIAL_DC_STATE, phase: 'ready', connected: true },
      page: { entries: [A], genctr: '3', fetchedAt: Date.UTC(2026, 0, 1, 0, 0, 5), stale: false },
      identify: { dctype: 1, cntrltype: 2, mn: 'Linux  ', sn: 'abc ', fr: '6.1', cntlid: 7 },
      counters: {
        sessionsOpened: 1,
        openFailures: 0,
        logReads: 1,
        logReadFailures: 0,
        logChanges: 1,
        aens: 0,
        registrations: 0,
        registrationFailures: 0,
      },
      timers: {},
      settings: {
        symname: null,
        katoMs: 30_000,
        hdgst: false,
        ddgst: false,
        pleo: true,
        maxEntries: 65_536,
        policy: {
          persistent: true,
          register: true,
          openBackoff: { fastMs: 1000, fastAttempts: 3, baseMs: 2000, capMs: 60_000, jitter: 0.1 },
          readRetryMs: 20_000,
          registerRetryMs: 5000,
          pollMs: 60_000,
        },
      },
      ...runner,
    },
    ...over,
  };
}

describe('controller dictionaries', () => {
  it('builds the controller-ID dict in the nvme-stas key order, with device empty', () => {
    const dict = controllerIdDict(view());
    expect(Object.keys(dict)).toEqual(CONTROLLER_ID_KEYS);
    expect(dict).toMatchObject({ traddr: '192.0.2.1', trsvcid: '8009', 'host-nqn': HOSTNQN, device: '' });
  });

  it('puts controller= options before host-nqn and never a secret', () => {
    const [controller] = parseStafdConf(
      '[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.1;kato=12;hdr-digest=true;dhchap-secret=DHHC-1:00:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=:\n',
      'stafd.conf',
    ).config.controllers;
    const dict = controllerIdDict(view({ controller: controller ?? null }));
    expect(Object.keys(dict).slice(6)).toEqual(['kato', 'hdr-digest', 'dhchap-secret', 'host-nqn', 'device']);
    expect(dict).toMatchObject({ kato: '12', 'hdr-digest': 'true', 'dhchap-secret': '[redacted]' });
    expect(JSON.stringify(dict)).not.toContain('DHHC-1');
  });

  it('adds connection and log page state to the info dict, as plain strings', () => {
    const dict = infoDict(view(), NOW);
    expect(dict).toMatchObject({
      'connect attempts': '0',
      'retry connect timer': '1.0s [off]',
      origin: 'configured',
      state: 'ready',
      registered: 'false',
      'log-pages-state': 'fresh',
      'log-pages-entries': '1',
      'log-pages-genctr': '3',
      'log-pages-fetched': '2026-01-01T00:00:05.000Z',
    });
    expect(dict).not.toHaveProperty('unresponsive timer');
    for (const value of Object.values(dict)) expect(value).not.toMatch(/^[{[]|None/);
  });

  it('describes a lost mDNS DC with its persistence timer', () => {
    const lost = view({ origin: 'discovered', lostSince: NOW.wall - 20_000, persistenceSec: 60 });
    expect(infoDict(lost, NOW)).toMatchObject({
      'unresponsive timer': '60.0s [40.0s]',
      'unresponsive timeout': '60 sec',
      'unresponsive time': '2025-12-31T23:59:40.000Z',
    });
    expect(infoDict(view({ origin: 'discovered', persistenceSec: -1 }), NOW)).toMatchObject({
      'unresponsive timeout': 'forever',
      'unresponsive time': '---',
    });
  });

  it('adds the Identify data and connected to the details dict; unknown pages say so', () => {
    expect(detailsDict(view(), NOW)).toMatchObject({
      hostnqn: HOSTNQN,
      hostid: HOSTID,
      model: 'Linux',
      serial: 'abc',
      dctype: 'ddc',
      cntrltype: 'discovery',
      connected: 'True',
    });
    const unknown = detailsDict(view({}, { page: null, identify: null, state: INITIAL_DC_STATE }), NOW);
    expect(unknown).toMatchObject({
      'log-pages-state': 'unknown',
      model: '',
      dctype: '',
      connected: 'False',
    });
  });

  it('renders timers as nvme-stas does', () => {
    expect(timerString(60_000, undefined, 0)).toBe('60.0s [off]');
    expect(timerString(1500, { ms: 1500, dueAt: 1000 }, 0)).toBe('1.5s [1.0s]');
    expect(timerString(3000, { ms: 3000, dueAt: 0 }, 10)).toBe('3.0s [0.0s]');
  });
});

describe('get_all_log_pages and lookups', () => {
  it('lists each DC with its entries', () => {
    const [item] = allLogPages([view()], false, NOW);
    expect(item?.['discovery-controller']).toEqual(controllerIdDict(view()));
    expect(item?.['log-pages'][0]).toMatchObject({ subnqn: 'nqn.2024-01.io.test:a', trtype: 'tcp' });
  });

  it('finds a DC by its seven strings: default port, address spelling, exact host NQN, ignore-iface', () => {
    const v6 = view({ tid: tid({ traddr: '2001:db8::1', hostIface: 'eth0' }) });
    const views = [view(), v6];
    const args = {
      transport: 'tcp',
      traddr: '192.0.2.1',
      trsvcid: '',
      subsysnqn: '',
      host_traddr: '',
      host_iface: '',
      host_nqn: HOSTNQN,
    };
    expect(findController(views, args, false)).toBe(views[0]);
    expect(findController(views, { ...args, host_nqn: '' }, false)).toBeNull();
    expect(findController(views, { ...args, transport: 'xyz' }, false)).toBeNull();
    expect(findController(views, { ...args, traddr: '2001:DB8:0::1', host_iface: 'eth0' }, false)).toBe(v6);
    expect(findController(views, { ...args, traddr: '2001:db8::1', host_iface: 'eth0' }, true)).toBeNull();
  });

  it('names a DC in log_pages_changed with the seven strings and an empty device', () => {
    expect(tidSignalArgs(tid())).toEqual({
      transport: 'tcp',
      traddr: '192.0.2.1',
      trsvcid: '8009',
      subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery',
      host_traddr: '',
      host_iface: '',
      host_nqn: HOSTNQN,
      device: '',
    });
  });
});

describe('process_info', () => {
  it('reports the process without any host key', () => {
    const info: DaemonInfo = {
      tron: true,
      identity: { hostnqn: HOSTNQN, hostid: HOSTID, hostkey: null, symname: 'box' },
      paths: {
        confFile: '/etc/stas/stafd.conf',
        sysConfFile: '/etc/stas/sys.conf',
        etcNvme: '/etc/nvme',
        cacheFile: '/run/stafd/dlp-cache.json',
      },
      persistentConnections: true,
      mdns: { enabled: true, source: 'avahi', state: { kind: 'running' }, services: 2 },
      rounds: 3,
      lastRoundReasons: ['mdns'],
      cacheWrites: 1,
    };
    const json = processInfo(info, [view(), view({ origin: 'referral' }, { page: null })], {
      pid: 42,
      startedAt: 0,
    });
    expect(json).toMatchObject({
      tron: true,
      'log-level': 'DEBUG',
      hostnqn: HOSTNQN,
      symname: 'box',
      'log page cache file': '/run/stafd/dlp-cache.json',
      controllers: { total: 2, connected: 2, configured: 1, referral: 1, 'log pages unknown': 1 },
      mdns: { enabled: true, source: 'avahi', state: 'running', services: 2 },
    });
    expect(Object.keys(json)).not.toContain('hostkey');
  });
});
