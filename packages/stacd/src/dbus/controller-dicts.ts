/**
 * What stacd tells the bus (and stacctl) about its I/O controllers, built from
 * the last plan, the executor's records and the kernel snapshot:
 * `list_controllers` dictionaries (`aa{ss}`), `controller_info` and
 * `explain` JSON.
 *
 * Pure. Values are clean (style §7.3; behaviour spec §2.3 with its defects
 * fixed): every dictionary value is a string, booleans are `true`/`false`,
 * numbers plain decimals, absent values `''`; no Python reprs. Secrets never
 * appear: the planner's actions carry them only as `Secret` objects, which
 * are never read here.
 *
 * Listed controllers ("managed"): every wanted controller (connect, adopt,
 * keep of a configured or discovered TID) and every kernel controller stas
 * owns that is no longer wanted (kept or being disconnected). Skipped
 * entries and other owners' controllers appear in `explain` only.
 *
 * The key sets are documented in packages/stacd/docs/stacctl.md.
 * Used by: dbus/stac-service.ts via daemon.ts. Tests: controller-dicts.test.ts
 */
import { DEVICE_NOT_CONNECTED } from '@stas/common/dbus/api-shared';
import type { StringDict } from '@stas/common/dbus/api-shared';
import type { NvmeController } from '@stas/common/kernel/sysfs-parse';
import type { Tid } from '@stas/common/nvme/tid';
import type { Observation } from '@stas/common/util/observation';
import type { IocRecord } from '../execute.js';
import type { DiscoveredPage, IocAction, IocOrigin, IocPolicy } from '../plan.js';
import { STAS, countActions } from '../plan.js';

/** Everything the dictionaries are made from. */
export interface StacView {
  readonly actions: readonly IocAction[];
  readonly records: ReadonlyMap<string, IocRecord>;
  /** Kernel controllers of the last snapshot, by device name. */
  readonly controllers: ReadonlyMap<string, NvmeController>;
  readonly now: number;
}

export interface ManagedIoc {
  readonly tid: Tid;
  readonly action: IocAction;
  readonly device: string | undefined;
  readonly record: IocRecord | undefined;
}

function deviceOf(a: IocAction): string | undefined {
  return 'device' in a ? a.device : undefined;
}

function originOf(a: IocAction): IocOrigin | undefined {
  return 'origin' in a ? a.origin : undefined;
}

function ownerOf(a: IocAction): string | undefined {
  return 'owner' in a ? a.owner : undefined;
}

/** The controllers `list_controllers` shows (see the module header), in key order. */
export function managedIocs(view: StacView): ManagedIoc[] {
  const out: ManagedIoc[] = [];
  for (const action of view.actions) {
    if (action.tid === null || action.kind === 'skip') continue;
    const wanted =
      originOf(action) !== undefined && (action.kind !== 'keep' || action.reason !== 'matches-desired');
    if (!wanted && ownerOf(action) !== STAS) continue;
    const record = view.records.get(action.key);
    out.push({ tid: action.tid, action, device: deviceOf(action) ?? record?.device, record });
  }
  return out;
}

/** A short word for what is happening to the controller now. */
export function stateOf(m: ManagedIoc): string {
  if (m.record !== undefined && m.record.phase !== 'connected') return m.record.phase;
  switch (m.action.kind) {
    case 'connect':
      return m.record?.phase ?? 'connecting';
    case 'adopt':
      return 'adopting';
    case 'disconnect':
      return 'disconnecting';
    case 'keep':
    case 'skip':
      return m.device === undefined ? 'not-connected' : 'connected';
  }
}

/** The controller-ID dict: traddr, trsvcid, transport, subsysnqn, host-iface, host-traddr, host-nqn, device. */
export function controllerIdDict(m: ManagedIoc): StringDict {
  return {
    traddr: m.tid.traddr,
    trsvcid: m.tid.trsvcid,
    transport: m.tid.transport,
    subsysnqn: m.tid.subsysnqn,
    'host-iface': m.tid.hostIface,
    'host-traddr': m.tid.hostTraddr,
    'host-nqn': m.tid.hostNqn,
    device: m.device ?? DEVICE_NOT_CONNECTED,
  };
}

function retryIn(record: IocRecord | undefined, now: number): string {
  if (record?.nextRetryAt === undefined) return '';
  return (Math.max(0, record.nextRetryAt - now) / 1000).toFixed(1);
}

/** The details dict: the ID dict plus state, decision and sysfs attributes (docs/stacctl.md). */
export function controllerDetailsDict(m: ManagedIoc, view: StacView): StringDict {
  const c = m.device === undefined ? undefined : view.controllers.get(m.device);
  const a = m.action;
  return {
    ...controllerIdDict(m),
    'host-id': m.tid.hostId,
    state: stateOf(m),
    connected: String(c !== undefined && c.state === 'live'),
    'kernel state': c?.state ?? '',
    origin: originOf(a) ?? '',
    owner: ownerOf(a) ?? '',
    decision: a.kind,
    reason: a.reason,
    detail: a.detail,
    'connect attempts': String(m.record?.attempts ?? 0),
    'last error': m.record?.lastError ?? '',
    'retry in': retryIn(m.record, view.now),
    'discovered by': 'dcs' in a && a.dcs !== undefined ? a.dcs.join(', ') : '',
    'dlpe.eflags.ncc': String(a.kind === 'connect' && a.ncc),
    hostnqn: c?.hostnqn ?? '',
    hostid: c?.hostid ?? '',
    model: c?.model ?? '',
    serial: c?.serial ?? '',
    cntrltype: c?.cntrltype ?? '',
    dctype: c?.dctype ?? '',
  };
}

export function listControllers(view: StacView, detailed: boolean): StringDict[] {
  return managedIocs(view).map((m) => (detailed ? controllerDetailsDict(m, view) : controllerIdDict(m)));
}

/** What names a controller in controller_info: the seven D-Bus arguments. */
export interface TidQuery {
  readonly transport: string;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly subsysnqn: string;
  readonly host_traddr: string;
  readonly host_iface: string;
  readonly host_nqn: string;
}

/**
 * controller_info: the details dict of the managed controller named by the query, as JSON; `{}` when
 * none. Empty trsvcid, host_traddr, host_iface or host_nqn in the query match any value; addresses are
 * compared in canonical form.
 */
export function controllerInfo(view: StacView, q: TidQuery, canonical: (q: TidQuery) => Tid | null): string {
  const want = canonical(q);
  if (want === null) return '{}';
  const hit = managedIocs(view).find(
    (m) =>
      m.tid.transport === want.transport &&
      m.tid.traddr === want.traddr &&
      m.tid.subsysnqn === want.subsysnqn &&
      (q.trsvcid === '' || m.tid.trsvcid === want.trsvcid) &&
      (q.host_traddr === '' || m.tid.hostTraddr === want.hostTraddr) &&
      (q.host_iface === '' || m.tid.hostIface === want.hostIface) &&
      (q.host_nqn === '' || m.tid.hostNqn === want.hostNqn),
  );
  return hit === undefined ? '{}' : JSON.stringify(controllerDetailsDict(hit, view));
}

export interface ExplainMeta {
  /** When the plan was made (epoch ms). */
  readonly time: number;
  /** Planned just now for this question (true), or the daemon's last round (false). */
  readonly fresh: boolean;
  readonly discovered: Observation<readonly DiscoveredPage[]>;
  readonly policy: IocPolicy;
  readonly dryRun: boolean;
}

/** One action of `explain` (docs/stacctl.md). */
export interface ExplainedAction {
  readonly action: IocAction['kind'];
  readonly reason: string;
  readonly detail: string;
  readonly key: string;
  readonly origin: string;
  readonly device: string;
  readonly owner: string;
  readonly transport: string;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly subsysnqn: string;
  readonly 'host-traddr': string;
  readonly 'host-iface': string;
  readonly 'host-nqn': string;
  readonly 'discovered-by': readonly string[];
  readonly line: number | null;
  readonly state: string;
  readonly attempts: number;
  readonly 'last-error': string;
}

export interface ExplainJson {
  readonly version: 1;
  readonly time: string;
  readonly fresh: boolean;
  readonly 'dry-run': boolean;
  readonly stafd: {
    readonly state: 'answered' | 'not-running' | 'timeout' | 'error' | 'not-loaded';
    readonly detail: string;
    readonly pages: readonly { readonly dc: string; readonly state: string; readonly entries: number }[];
  };
  readonly policy: {
    readonly 'disconnect-scope': string;
    readonly 'disconnect-trtypes': readonly string[];
    readonly 'ip-family': string;
    readonly 'ignore-iface': boolean;
    readonly 'connect-attempts-on-ncc': number;
  };
  readonly summary: Record<IocAction['kind'], number>;
  readonly actions: readonly ExplainedAction[];
}

export function explain(view: StacView, meta: ExplainMeta): ExplainJson {
  const d = meta.discovered;
  const actions = view.actions.map((a): ExplainedAction => {
    const record = view.records.get(a.key);
    const device = deviceOf(a) ?? record?.device;
    const m: ManagedIoc | undefined = a.tid === null ? undefined : { tid: a.tid, action: a, device, record };
    return {
      action: a.kind,
      reason: a.reason,
      detail: a.detail,
      key: a.key,
      origin: originOf(a) ?? '',
      device: device ?? '',
      owner: ownerOf(a) ?? '',
      transport: a.tid?.transport ?? '',
      traddr: a.tid?.traddr ?? '',
      trsvcid: a.tid?.trsvcid ?? '',
      subsysnqn: a.tid?.subsysnqn ?? '',
      'host-traddr': a.tid?.hostTraddr ?? '',
      'host-iface': a.tid?.hostIface ?? '',
      'host-nqn': a.tid?.hostNqn ?? '',
      'discovered-by': 'dcs' in a && a.dcs !== undefined ? [...a.dcs] : [],
      line: 'line' in a && a.line !== undefined ? a.line : null,
      state: m === undefined ? '' : a.kind === 'skip' ? 'skipped' : stateOf(m),
      attempts: record?.attempts ?? 0,
      'last-error': record?.lastError ?? '',
    };
  });
  return {
    version: 1,
    time: new Date(meta.time).toISOString(),
    fresh: meta.fresh,
    'dry-run': meta.dryRun,
    stafd: d.ok
      ? {
          state: 'answered',
          detail: '',
          pages: d.value.map((p) => ({ dc: p.dc, state: p.state, entries: p.entries.length })),
        }
      : { state: d.reason, detail: d.detail ?? '', pages: [] },
    policy: {
      'disconnect-scope': meta.policy.disconnectScope,
      'disconnect-trtypes': [...meta.policy.disconnectTrtypes],
      'ip-family': meta.policy.ipFamily.map((f) => `ipv${f}`).join('+'),
      'ignore-iface': meta.policy.ignoreIface,
      'connect-attempts-on-ncc': meta.policy.connectAttemptsOnNcc,
    },
    summary: countActions(view.actions),
    actions,
  };
}
