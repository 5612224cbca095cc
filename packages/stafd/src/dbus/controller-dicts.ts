/**
 * What stafd's D-Bus methods return, built from the daemon's views: the
 * controller-ID, info and details dictionaries (behaviour spec §2.3, key
 * order kept), the log-page dictionaries, get_all_log_pages' JSON and
 * process_info's JSON, plus the controller lookup of §2.2.
 *
 * Pure: views and a clock reading in, plain data out. No bus, no logging.
 *
 * Decisions (documented in packages/stafd/docs/stafd.md):
 * - `device` is always '' : stafd speaks NVMe/TCP from userspace and holds no
 *   kernel device (nvme-stas's `nvmeN`/`nvme?` would name something that does
 *   not exist). `connected` (details) says whether a session is up.
 * - Secrets never leave the process, for any caller (root included): a
 *   configured DH-HMAC-CHAP secret shows as `[redacted]`, the host key is not
 *   mentioned at all (fixes F12). So replies do not depend on the caller.
 * - Values are clean strings: decimal numbers, `true`/`false` for options,
 *   `True`/`False` for `connected` (nvme-stas's value word), ISO 8601 times,
 *   no Python reprs (F21: `origin` is always one of the three words).
 * - Extra keys: `log-pages-state` (`fresh` | `stale` | `unknown`, so stacd can
 *   tell "never read" from "empty"), `log-pages-entries`, `log-pages-genctr`,
 *   `log-pages-fetched`, `state`, `registered`, `last error`.
 *
 * Used by: dbus/staf-service.ts
 * Tests:   controller-dicts.test.ts
 */
import type { ControllerIdDict, DcLogPages, StringDict, TidArgs } from '@stas/common/dbus/api-shared';
import { createTid, isTransport, type Tid } from '@stas/common/nvme/tid';
import { REDACTED } from '@stas/common/util/secret';
import { STAS_VERSION } from '@stas/common/version';
import type { DaemonInfo, DcView } from '../daemon.js';
import { logPageState } from '../dc/log-page.js';
import type { ArmedTimer } from '../dc/runner.js';
import { dlpeDict, type DlpeDict } from './dlpe-dict.js';

/** The `device` value: stafd holds no kernel device. */
export const NO_DEVICE = '';

function seconds(ms: number): string {
  const s = ms / 1000;
  return Number.isInteger(s) ? `${s}.0` : String(Math.round(s * 1000) / 1000);
}

/** nvme-stas's timer string: `<interval>s [off]` or `<interval>s [<remaining>s]`. */
export function timerString(intervalMs: number, armed: ArmedTimer | undefined, clockNow: number): string {
  if (armed === undefined) return `${seconds(intervalMs)}s [off]`;
  return `${seconds(armed.ms)}s [${seconds(Math.max(0, armed.dueAt - clockNow))}s]`;
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** The controller-ID dict: identity, per-DC options of its controller= line, host-nqn, device. */
export function controllerIdDict(view: DcView): ControllerIdDict {
  const tid = view.tid;
  const dict: StringDict = {
    traddr: tid.traddr,
    trsvcid: tid.trsvcid,
    transport: tid.transport,
    subsysnqn: tid.subsysnqn,
    'host-iface': tid.hostIface,
    'host-traddr': tid.hostTraddr,
  };
  const controller = view.controller;
  if (controller !== null) {
    for (const [key, value] of Object.entries(controller.options)) {
      if (value !== null) dict[key] = String(value);
    }
    if (controller.dhchapSecret !== null) dict['dhchap-secret'] = REDACTED;
    if (controller.dhchapCtrlSecret !== null) dict['dhchap-ctrl-secret'] = REDACTED;
  }
  dict['host-nqn'] = tid.hostNqn;
  dict['device'] = NO_DEVICE;
  return dict;
}

/** A reading of both clocks: `clock` for runner timers, `wall` (ms since the epoch) for lost DCs. */
export interface Now {
  readonly clock: number;
  readonly wall: number;
}

/** The info dict (controller_info): the ID dict plus connection and log page state. */
export function infoDict(view: DcView, now: Now): StringDict {
  const r = view.runner;
  const dict = controllerIdDict(view);
  dict['connect attempts'] = String(r.state.openFailures);
  dict['retry connect timer'] = timerString(
    r.timers['retry-open']?.ms ?? r.settings.policy.openBackoff.fastMs,
    r.timers['retry-open'],
    now.clock,
  );
  dict['origin'] = view.origin;
  if (view.origin === 'discovered') {
    const persistence = view.persistenceSec;
    const intervalMs = Math.max(0, persistence) * 1000;
    dict['unresponsive timer'] = timerString(
      intervalMs,
      view.lostSince === null || persistence < 0
        ? undefined
        : { ms: intervalMs, dueAt: view.lostSince + intervalMs },
      now.wall,
    );
    dict['unresponsive timeout'] = persistence < 0 ? 'forever' : `${persistence} sec`;
    dict['unresponsive time'] = view.lostSince === null ? '---' : isoTime(view.lostSince);
  }
  dict['state'] = r.state.phase;
  dict['registered'] = String(r.state.registered);
  dict['last error'] = r.state.lastError?.message ?? '';
  dict['log-pages-state'] = logPageState(r.page);
  dict['log-pages-entries'] = r.page === null ? '' : String(r.page.entries.length);
  dict['log-pages-genctr'] = r.page?.genctr ?? '';
  dict['log-pages-fetched'] = r.page === null ? '' : isoTime(r.page.fetchedAt);
  return dict;
}

const DCTYPE_NAMES: Readonly<Record<number, string>> = { 0: 'none', 1: 'ddc', 2: 'cdc' };
const CNTRLTYPE_NAMES: Readonly<Record<number, string>> = { 1: 'io', 2: 'discovery', 3: 'admin' };

/** The details dict (detailed listings): the info dict plus the Identify data and `connected`. */
export function detailsDict(view: DcView, now: Now): StringDict {
  const dict = infoDict(view, now);
  const id = view.runner.identify;
  dict['hostid'] = view.tid.hostId;
  dict['hostnqn'] = view.tid.hostNqn;
  dict['model'] = id?.mn.trim() ?? '';
  dict['serial'] = id?.sn.trim() ?? '';
  dict['firmware'] = id?.fr.trim() ?? '';
  dict['dctype'] = id === null ? '' : (DCTYPE_NAMES[id.dctype] ?? String(id.dctype));
  dict['cntrltype'] = id === null ? '' : (CNTRLTYPE_NAMES[id.cntrltype] ?? String(id.cntrltype));
  dict['connected'] = view.runner.state.connected ? 'True' : 'False';
  return dict;
}

export function logPageDicts(view: DcView): DlpeDict[] {
  return (view.runner.page?.entries ?? []).map(dlpeDict);
}

/** get_all_log_pages: one element per DC. */
export function allLogPages(views: readonly DcView[], detailed: boolean, now: Now): DcLogPages[] {
  return views.map((view) => ({
    'discovery-controller': detailed ? detailsDict(view, now) : controllerIdDict(view),
    'log-pages': logPageDicts(view),
  }));
}

/**
 * The DC named by the seven D-Bus strings (§2.2): exact match after the TID normalisation (tcp's
 * default port, canonical address spelling, the well-known NQN for an empty subsysnqn, host-iface erased
 * under ignore-iface); the host NQN is taken as given (an empty one matches nothing). The host ID is
 * not part of the D-Bus identity. Null when none matches or the transport is unknown.
 */
export function findController(views: readonly DcView[], args: TidArgs, ignoreIface: boolean): DcView | null {
  if (!isTransport(args.transport)) return null;
  const probe: Tid = createTid(
    {
      transport: args.transport,
      traddr: args.traddr,
      trsvcid: args.trsvcid,
      subsysnqn: args.subsysnqn,
      hostTraddr: args.host_traddr,
      hostIface: ignoreIface ? '' : args.host_iface,
      hostNqn: args.host_nqn,
    },
    { role: 'discovery' },
  );
  return (
    views.find(
      ({ tid }) =>
        tid.transport === probe.transport &&
        tid.traddr === probe.traddr &&
        tid.trsvcid === probe.trsvcid &&
        tid.subsysnqn === probe.subsysnqn &&
        tid.hostTraddr === probe.hostTraddr &&
        tid.hostIface === probe.hostIface &&
        tid.hostNqn === probe.hostNqn,
    ) ?? null
  );
}

/** The seven strings of log_pages_changed (plus device) for a TID. */
export function tidSignalArgs(tid: Tid): TidArgs & { device: string } {
  return {
    transport: tid.transport,
    traddr: tid.traddr,
    trsvcid: tid.trsvcid,
    subsysnqn: tid.subsysnqn,
    host_traddr: tid.hostTraddr,
    host_iface: tid.hostIface,
    host_nqn: tid.hostNqn,
    device: NO_DEVICE,
  };
}

export interface ProcessContext {
  readonly pid: number;
  readonly startedAt: number;
}

/** process_info's object (no host key, F12). */
export function processInfo(
  info: DaemonInfo,
  views: readonly DcView[],
  ctx: ProcessContext,
): Record<string, unknown> {
  const count = (pred: (v: DcView) => boolean): number => views.filter(pred).length;
  const state = info.mdns.state;
  return {
    tron: info.tron,
    'log-level': info.tron ? 'DEBUG' : 'INFO',
    hostnqn: info.identity?.hostnqn ?? '',
    hostid: info.identity?.hostid ?? '',
    symname: info.identity?.symname ?? null,
    version: STAS_VERSION,
    pid: ctx.pid,
    'started at': isoTime(ctx.startedAt),
    'config file': info.paths.confFile,
    'sys.conf file': info.paths.sysConfFile,
    'log page cache file': info.paths.cacheFile,
    'log page cache writes': info.cacheWrites,
    'kernel support': 'not applicable: stafd is a userspace NVMe/TCP host',
    'persistent connections': info.persistentConnections,
    controllers: {
      total: views.length,
      connected: count((v) => v.runner.state.connected),
      configured: count((v) => v.origin === 'configured'),
      discovered: count((v) => v.origin === 'discovered'),
      referral: count((v) => v.origin === 'referral'),
      'log pages fresh': count((v) => logPageState(v.runner.page) === 'fresh'),
      'log pages stale': count((v) => logPageState(v.runner.page) === 'stale'),
      'log pages unknown': count((v) => logPageState(v.runner.page) === 'unknown'),
    },
    mdns: {
      enabled: info.mdns.enabled,
      source: info.mdns.source,
      state: state?.kind ?? 'none',
      ...(state?.kind === 'unavailable' ? { reason: state.reason, detail: state.detail } : {}),
      services: info.mdns.services,
    },
    'reconcile rounds': info.rounds,
    'last reconcile reasons': info.lastRoundReasons,
  };
}
