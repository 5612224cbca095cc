/**
 * Which I/O controllers stacd should have, and what to do about each: a pure
 * function from what is configured, what stafd discovered and what the kernel
 * has, to one action per controller (connect, adopt, keep, disconnect, skip),
 * each with a kebab-case reason code and a sentence an admin can read.
 *
 * Pure: no I/O, no clock, no logging. observe.ts gathers the input,
 * execute.ts carries the actions out and logs them, `stacctl explain` shows them.
 *
 * Desired = configured ∪ discovered (log page entries of subtype nvme, each
 * inheriting its DC's host-traddr/host-iface (same transport only) and
 * host-nqn/host-id), minus: exclusions (stacd.conf `exclude=` and the host's
 * exclusions.conf), disabled address families, unusable addresses, transports
 * the kernel host does not have, and discovered entries flagged NCC ("not
 * connected to CDC") once `connect-attempts-on-ncc` (> 0) connects failed.
 * Empty host NQN/ID fields are filled from the host identity; `ignore-iface`
 * drops host-iface. Configured wins over discovered (its options apply).
 *
 * Matching desired TIDs to kernel controllers (controllerMatchesTid, I/O role):
 * first the controllers whose own TID is exactly the desired one, then fuzzy
 * matches (preferring owner stas, then unowned, then lowest instance); each
 * kernel controller serves at most one desired TID.
 *
 * Safety rules (landscape §1.A; behaviour spec §9 F5, F16):
 * - Never disconnect on missing knowledge. A controller that is not desired is
 *   disconnected only with POSITIVE knowledge: stafd answered (`discovered.ok`),
 *   no DC page is `unknown` (never read; a stale page is knowledge), and no
 *   configured host name that might name it is unresolved. The exception is
 *   `excluded`: an exclusion is positive knowledge from the configuration.
 * - Never touch a controller owned by another orchestrator (registry), a
 *   discovery controller, a non-fabrics (PCIe) one or a boot (NBFT) one.
 * - disconnect-scope: `only-stas-connections` manages what the registry says
 *   stas owns; `all-connections-matching-disconnect-trtypes` also unowned ones,
 *   and only on those transports; `no-disconnect` never disconnects.
 * - A desired TID whose controller already exists is never reconnected: an
 *   unowned one is adopted (claimed for stas), another owner's is left alone.
 *
 * Output: every desired TID (and every skipped candidate) gets exactly one
 * action under its TID key; every kernel controller appears in exactly one
 * action (as the `device` of a desired TID's action, or under its own key).
 * Actions are sorted by key.
 *
 * Used by: daemon.ts, dbus/stac-service.ts (explain). Tests: plan.test.ts,
 * plan.matrix.test.ts, plan.prop.test.ts
 */
import type { ConnectOptions } from '@stas/common/config/connect-options';
import type { Exclusion } from '@stas/common/config/controllers-section';
import type { FabricTransport, IpFamily } from '@stas/common/config/option-types';
import type { DisconnectScope } from '@stas/common/config/stacd-conf';
import { controllerMatchesTid, tidOfController } from '@stas/common/kernel/controller-match';
import type { ExclusionEntry } from '@stas/common/kernel/exclusions';
import type { DeviceName } from '@stas/common/kernel/fabrics-outcome';
import type { InterfaceAddresses } from '@stas/common/kernel/net-interfaces';
import type { NvmeController } from '@stas/common/kernel/sysfs-parse';
import { isDiscoveryController, isFabricsController, isIoController } from '@stas/common/kernel/sysfs-parse';
import { isUnspecified, parseIpAddress } from '@stas/common/net/ip-address';
import type { Tid, TidKey } from '@stas/common/nvme/tid';
import { createTid, formatTid, isTransport, tidMatchesFilter } from '@stas/common/nvme/tid';
import type { Observation } from '@stas/common/util/observation';
import type { Secret } from '@stas/common/util/secret';

/** The registry owner stas writes (kernel/registry.ts STAS_OWNER; repeated to keep this module free of I/O imports). */
export const STAS = 'stas';
/** The registry owner of controllers created from the NBFT at boot. */
export const NBFT = 'nbft';

export type IocOrigin = 'configured' | 'discovered';

/** What a connect needs besides the TID. */
export interface ConnectParams {
  /** [Global] options overlaid with the controller's own overrides (null = let the kernel choose). */
  readonly options: Partial<ConnectOptions>;
  readonly dhchapSecret: Secret | null;
  readonly dhchapCtrlSecret: Secret | null;
}

/** One `controller=` line of stacd.conf. */
export interface ConfiguredIoc {
  /** The TID as configured (traddr may be a host name). */
  readonly tid: Tid;
  /** With the host name resolved (an IP-literal TID is its own resolution); null: not resolvable right now. */
  readonly resolved: Tid | null;
  readonly options: Partial<ConnectOptions>;
  readonly dhchapSecret: Secret | null;
  readonly dhchapCtrlSecret: Secret | null;
  readonly line: number;
}

/** `fresh`: read since stafd started; `stale`: cached, not re-read yet; `unknown`: never read. */
export type PageState = 'fresh' | 'stale' | 'unknown';

/** One discovery log page entry, as stafd publishes it (values validated by stafd-pages.ts). */
export interface DiscoveredEntry {
  /** `nvme`, `referral`, `discovery` or a number. */
  readonly subtype: string;
  /** `tcp`, `rdma`, `fc`, `loop`, `unspecified` or a number. */
  readonly trtype: string;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly subnqn: string;
  readonly eflags: number;
  readonly treq: number;
}

/** The log page of one discovery controller. */
export interface DiscoveredPage {
  /** The DC, for messages: `(tcp, 10.0.0.1, 8009, nqn…)`. */
  readonly dc: string;
  /** The DC's transport: host-traddr/host-iface are inherited by entries of this transport only. */
  readonly transport: string;
  readonly hostTraddr: string;
  readonly hostIface: string;
  readonly hostNqn: string;
  readonly hostId: string;
  readonly state: PageState;
  readonly entries: readonly DiscoveredEntry[];
}

/** A controller of the kernel's sysfs snapshot, with its registry owner. */
export interface KernelController {
  readonly controller: NvmeController;
  /** Registry owner (`stas`, `nbft`, `discoverd`…); undefined: unowned. */
  readonly owner: string | undefined;
  /** Listed in the NBFT (boot from SAN) even if the registry does not say so. */
  readonly boot: boolean;
}

export interface IocPolicy {
  readonly disconnectScope: DisconnectScope;
  readonly disconnectTrtypes: readonly FabricTransport[];
  readonly ipFamily: readonly IpFamily[];
  readonly ignoreIface: boolean;
  /** `connect-attempts-on-ncc`: 0 = never give up. */
  readonly connectAttemptsOnNcc: number;
  /** [Global] connection options. */
  readonly options: Partial<ConnectOptions>;
}

export interface HostIds {
  readonly hostnqn: string;
  readonly hostid: string;
}

export interface PlanInput {
  readonly configured: readonly ConfiguredIoc[];
  /** stafd's log pages; `ok: false` = stafd did not answer (NOT "nothing discovered"). */
  readonly discovered: Observation<readonly DiscoveredPage[]>;
  readonly kernel: readonly KernelController[];
  /** stacd.conf `exclude=`. */
  readonly exclusions: readonly Exclusion[];
  /** /etc/nvme/exclusions.conf (+ .d). */
  readonly hostExclusions: readonly ExclusionEntry[];
  readonly policy: IocPolicy;
  /** Failed connects in a row, per desired TID key. */
  readonly attempts: ReadonlyMap<string, number>;
  /** Fills empty host NQN / host ID fields. */
  readonly identity: HostIds;
  readonly ifaces: InterfaceAddresses;
}

export type ConnectReason = IocOrigin;
export type AdoptReason = IocOrigin;
export type KeepReason =
  | 'connected'
  | 'owned-by-other'
  | 'boot-controller'
  | 'matches-desired'
  | 'stafd-unavailable'
  | 'discovery-incomplete'
  | 'name-unresolved'
  | 'scope-no-disconnect'
  | 'trtype-out-of-scope'
  | 'not-owned'
  | 'discovery-controller'
  | 'not-fabrics';
export type DisconnectReason = 'not-discovered' | 'excluded' | 'ip-family';
export type SkipReason =
  'excluded' | 'ip-family' | 'invalid-address' | 'ncc-gave-up' | 'unsupported-transport' | 'name-unresolved';

interface ActionBase {
  /** The TID key (desired TIDs, kernel controllers), or a pseudo key for what has no TID. Sort key. */
  readonly key: string;
  /** One sentence for logs and `stacctl explain`. */
  readonly detail: string;
}

interface DesiredFields {
  readonly tid: Tid;
  readonly origin: IocOrigin;
  /** The DCs whose log pages list it (display form). */
  readonly dcs: readonly string[];
  /** stacd.conf line, for configured controllers. */
  readonly line?: number;
}

export type IocAction =
  | (ActionBase &
      DesiredFields & {
        readonly kind: 'connect';
        readonly reason: ConnectReason;
        readonly params: ConnectParams;
        /** A discovered entry flagged NCC (the connect-attempts-on-ncc budget applies). */
        readonly ncc: boolean;
      })
  | (ActionBase &
      DesiredFields & { readonly kind: 'adopt'; readonly reason: AdoptReason; readonly device: DeviceName })
  | (ActionBase & {
      readonly kind: 'disconnect';
      readonly reason: DisconnectReason;
      readonly tid: Tid;
      readonly device: DeviceName;
      readonly owner: string | undefined;
    })
  | (ActionBase & {
      readonly kind: 'keep';
      readonly reason: KeepReason;
      readonly tid: Tid | null;
      readonly device?: DeviceName;
      readonly owner?: string;
      readonly origin?: IocOrigin;
      readonly dcs?: readonly string[];
      readonly line?: number;
    })
  | (ActionBase & {
      readonly kind: 'skip';
      readonly reason: SkipReason;
      /** null for an entry that cannot form a TID (unsupported transport). */
      readonly tid: Tid | null;
      readonly origin: IocOrigin;
      readonly dcs: readonly string[];
      readonly line?: number;
    });

export type IocActionKind = IocAction['kind'];

interface Candidate {
  readonly tid: Tid;
  readonly origin: IocOrigin;
  readonly dcs: string[];
  readonly line?: number;
  options: Partial<ConnectOptions>;
  readonly dhchapSecret: Secret | null;
  readonly dhchapCtrlSecret: Secret | null;
  /** Every discovered listing has NCC set (configured ones never do). */
  ncc: boolean;
  /** Set by configured `disable-sqflow=`, so a TREQ bit does not override it. */
  readonly sqflowConfigured: boolean;
}

interface SkippedCandidate {
  readonly tid: Tid | null;
  readonly reason: SkipReason;
  readonly origin: IocOrigin;
  readonly dcs: string[];
  readonly line?: number;
  readonly detail: string;
}

const NCC_FLAG = 0x4;
const TREQ_DISABLE_SQFLOW = 0x4;

function exclusionOf(tid: Tid, input: PlanInput): string | undefined {
  const conf = input.exclusions.find((e) => tidMatchesFilter(tid, e.filter));
  if (conf !== undefined) return `exclude= on stacd.conf line ${conf.line}`;
  const host = input.hostExclusions.find((e) => e.filter !== null && tidMatchesFilter(tid, e.filter));
  if (host !== undefined) return `exclusion "${host.text}" of ${host.file}:${host.line}`;
  return undefined;
}

/** The host side of a TID: host NQN/ID filled from the identity, host-iface dropped under ignore-iface. */
function hostSide(
  fields: { readonly hostIface: string; readonly hostNqn: string; readonly hostId: string },
  input: PlanInput,
): { hostIface: string; hostNqn: string; hostId: string } {
  return {
    hostIface: input.policy.ignoreIface ? '' : fields.hostIface,
    hostNqn: fields.hostNqn === '' ? input.identity.hostnqn : fields.hostNqn,
    hostId: fields.hostId === '' ? input.identity.hostid : fields.hostId,
  };
}

/** The TID with its host side filled in (hostSide); the same TID object when nothing changes. */
function normalise(tid: Tid, input: PlanInput): Tid {
  const host = hostSide(tid, input);
  if (host.hostIface === tid.hostIface && host.hostNqn === tid.hostNqn && host.hostId === tid.hostId)
    return tid;
  return createTid({ ...tid, ...host }, { role: 'io' });
}

/** Characters that would break or extend a kernel connect string (see connect-args.ts). */
// eslint-disable-next-line no-control-regex
const CONNECT_STRING_SYNTAX = /[\s,=\u0000-\u001f\u007f]/;

/** Why an address is not usable for this transport, or null. */
function addressProblem(transport: string, traddr: string, trsvcid: string, subnqn: string): string | null {
  if (subnqn.trim() === '') return 'it has no subsystem NQN';
  // The kernel's connect string is comma-separated `key=value` options: such an NQN could never be
  // connected (connect-args.ts refuses it), so it is skipped here, with a reason, not retried forever.
  if (CONNECT_STRING_SYNTAX.test(subnqn))
    return `the subsystem NQN ${JSON.stringify(subnqn)} contains ',', '=', white space or a control character`;
  if (transport === 'fc' && CONNECT_STRING_SYNTAX.test(traddr))
    return `${JSON.stringify(traddr)} is not an FC address`;
  if (transport === 'tcp' || transport === 'rdma') {
    const ip = parseIpAddress(traddr);
    if (ip === null) return `'${traddr}' is not an IP address`;
    if (isUnspecified(ip)) return `'${traddr}' is the unspecified address`;
    if (trsvcid !== '' && !(/^\d{1,5}$/.test(trsvcid) && Number(trsvcid) >= 1 && Number(trsvcid) <= 65535))
      return `'${trsvcid}' is not a port number`;
    return null;
  }
  if (transport === 'fc' && traddr.trim() === '') return 'it has no address';
  return null;
}

/** The address family of a tcp/rdma TID, or null (fc, loop, host name). */
function familyOf(tid: Tid): IpFamily | null {
  if (tid.transport !== 'tcp' && tid.transport !== 'rdma') return null;
  return parseIpAddress(tid.traddr)?.family ?? null;
}

function familyDisabled(tid: Tid, policy: IocPolicy): boolean {
  if (policy.ipFamily.includes(4) && policy.ipFamily.includes(6)) return false; // (no need to parse the address)
  const family = familyOf(tid);
  return family !== null && !policy.ipFamily.includes(family);
}

function ipFamilyText(policy: IocPolicy): string {
  return policy.ipFamily.map((f) => `ipv${f}`).join('+');
}

/** A pseudo key for an entry that cannot form a TID; never equal to a TID key (those start with a transport). */
function pseudoKey(entry: DiscoveredEntry, page: DiscoveredPage): string {
  return ['~entry', entry.trtype, entry.traddr, entry.trsvcid, entry.subnqn, page.dc]
    .map((p) => p.replace(/[%|]/g, (c) => (c === '%' ? '%25' : '%7C')))
    .join('|');
}

function kernelKey(c: NvmeController): string {
  return `~device|${c.device}`;
}

function isBoot(k: KernelController): boolean {
  return k.boot || k.owner === NBFT;
}

function ownerText(owner: string | undefined): string {
  return owner === undefined ? 'no owner' : `owner ${owner}`;
}

function describeOrigin(c: { origin: IocOrigin; dcs: readonly string[]; line?: number }): string {
  if (c.origin === 'configured') return `configured on stacd.conf line ${c.line ?? 0}`;
  const more = c.dcs.length - 1;
  return `listed by DC ${c.dcs[0] ?? '?'}${more > 0 ? ` and ${more} more` : ''}`;
}

function gatherConfigured(
  input: PlanInput,
  candidates: Map<TidKey, Candidate>,
  skipped: Map<string, SkippedCandidate>,
  unresolved: Tid[],
): void {
  for (const c of input.configured) {
    const asWritten = normalise(c.tid, input);
    const line = c.line;
    const base = { origin: 'configured' as const, dcs: [], line };
    const excludedBefore = exclusionOf(asWritten, input);
    if (excludedBefore !== undefined) {
      skipped.set(asWritten.key, {
        ...base,
        tid: asWritten,
        reason: 'excluded',
        detail: `configured on stacd.conf line ${line} but excluded by ${excludedBefore}`,
      });
      continue;
    }
    if (c.resolved === null) {
      unresolved.push(asWritten);
      skipped.set(asWritten.key, {
        ...base,
        tid: asWritten,
        reason: 'name-unresolved',
        detail: `configured on stacd.conf line ${line}, but '${c.tid.traddr}' does not resolve right now; will retry`,
      });
      continue;
    }
    const tid = normalise(c.resolved, input);
    const excluded = exclusionOf(tid, input);
    if (excluded !== undefined) {
      skipped.set(tid.key, {
        ...base,
        tid,
        reason: 'excluded',
        detail: `configured on stacd.conf line ${line} but excluded by ${excluded}`,
      });
      continue;
    }
    if (familyDisabled(tid, input.policy)) {
      skipped.set(tid.key, {
        ...base,
        tid,
        reason: 'ip-family',
        detail: `configured on stacd.conf line ${line}, but ip-family is ${ipFamilyText(input.policy)}`,
      });
      continue;
    }
    if (candidates.has(tid.key)) continue; // a duplicate line: the first one counts
    candidates.set(tid.key, {
      tid,
      origin: 'configured',
      dcs: [],
      line,
      options: { ...input.policy.options, ...c.options },
      dhchapSecret: c.dhchapSecret,
      dhchapCtrlSecret: c.dhchapCtrlSecret,
      ncc: false,
      sqflowConfigured: c.options['disable-sqflow'] !== undefined,
    });
  }
}

function gatherDiscovered(
  input: PlanInput,
  pages: readonly DiscoveredPage[],
  candidates: Map<TidKey, Candidate>,
  skipped: Map<string, SkippedCandidate>,
): void {
  for (const page of pages) {
    for (const entry of page.entries) {
      if (entry.subtype !== 'nvme') continue; // referrals and the DC itself are stafd's business
      const listing = `listed by DC ${page.dc}`;
      const base = { origin: 'discovered' as const, dcs: [page.dc] };
      if (!isTransport(entry.trtype)) {
        const key = pseudoKey(entry, page);
        if (!skipped.has(key)) {
          skipped.set(key, {
            ...base,
            tid: null,
            reason: 'unsupported-transport',
            detail: `${entry.subnqn} at ${entry.traddr} is ${listing} with transport '${entry.trtype}', which the kernel host does not support`,
          });
        }
        continue;
      }
      const problem = addressProblem(entry.trtype, entry.traddr, entry.trsvcid, entry.subnqn);
      const sameTransport = entry.trtype === page.transport;
      // The host side is filled in before the TID is built (rather than normalise() after), so each
      // entry builds one TID; createTid keeps empty host fields empty, so the result is the same.
      const tid = createTid(
        {
          transport: entry.trtype,
          traddr: entry.traddr,
          trsvcid: entry.trsvcid,
          subsysnqn: entry.subnqn,
          hostTraddr: sameTransport ? page.hostTraddr : '',
          ...hostSide(
            {
              hostIface: sameTransport && entry.trtype === 'tcp' ? page.hostIface : '',
              hostNqn: page.hostNqn,
              hostId: page.hostId,
            },
            input,
          ),
        },
        { role: 'io' },
      );
      const skip = (reason: SkipReason, detail: string): void => {
        const known = skipped.get(tid.key);
        if (known === undefined) skipped.set(tid.key, { ...base, tid, reason, detail });
        else if (!known.dcs.includes(page.dc)) known.dcs.push(page.dc);
      };
      if (problem !== null) {
        skip('invalid-address', `${formatTid(tid)} is ${listing}, but ${problem}`);
        continue;
      }
      const excluded = exclusionOf(tid, input);
      if (excluded !== undefined) {
        skip('excluded', `${listing} but excluded by ${excluded}`);
        continue;
      }
      if (familyDisabled(tid, input.policy)) {
        skip('ip-family', `${listing}, but ip-family is ${ipFamilyText(input.policy)}`);
        continue;
      }
      const ncc = (entry.eflags & NCC_FLAG) !== 0;
      const sqflow = (entry.treq & TREQ_DISABLE_SQFLOW) !== 0;
      const known = candidates.get(tid.key);
      if (known === undefined) {
        const options: Partial<ConnectOptions> = sqflow
          ? { ...input.policy.options, 'disable-sqflow': true }
          : { ...input.policy.options };
        candidates.set(tid.key, {
          tid,
          origin: 'discovered',
          dcs: [page.dc],
          options,
          dhchapSecret: null,
          dhchapCtrlSecret: null,
          ncc,
          sqflowConfigured: false,
        });
        continue;
      }
      if (!known.dcs.includes(page.dc)) known.dcs.push(page.dc);
      if (known.origin === 'discovered') known.ncc = known.ncc && ncc;
      if (sqflow && !known.sqflowConfigured) known.options = { ...known.options, 'disable-sqflow': true };
    }
  }
}

/** Preference among fuzzy matches: owned by stas, unowned, another owner; then the lowest instance. */
function rank(k: KernelController): number {
  return k.owner === STAS ? 0 : k.owner === undefined ? 1 : 2;
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/**
 * The key of the narrowing indexes below: equal for controllers and TIDs that may match. Every hit is
 * then checked with controllerMatchesTid, so two different triples sharing a key (the parts are
 * joined, not escaped) would cost a comparison, never change a decision.
 */
function fuzzyKey(transport: string | undefined, traddr: string, subsysnqn: string): string {
  return `${transport ?? ''} ${traddr} ${subsysnqn}`;
}

/** Each kernel controller's own TID (tidOfController), built once per planning run: see planIocs. */
type KernelTids = ReadonlyMap<KernelController, Tid | undefined>;

function assign(
  candidates: readonly Candidate[],
  kernel: readonly KernelController[],
  kernelTids: KernelTids,
  ifaces: InterfaceAddresses,
): Map<Candidate, KernelController> {
  const assigned = new Map<Candidate, KernelController>();
  const used = new Set<KernelController>();
  const io = kernel.filter((k) => isFabricsController(k.controller) && isIoController(k.controller));
  // Indexes (kernel order kept in each list) so that 10,000 × 10,000 stays linear: an exact match has
  // the same TID key; an I/O fuzzy match needs at least the same transport, traddr and subsystem NQN.
  const exactIndex = new Map<TidKey, KernelController[]>();
  for (const k of io) {
    const own = kernelTids.get(k);
    if (own !== undefined) pushTo(exactIndex, own.key, k);
  }
  const inexact: Candidate[] = [];
  for (const c of candidates) {
    const exact = exactIndex.get(c.tid.key)?.find((k) => !used.has(k));
    if (exact === undefined) {
      inexact.push(c);
      continue;
    }
    assigned.set(c, exact);
    used.add(exact);
  }
  // Only controllers no exact match took can be fuzzy matches, so only those are indexed.
  const fuzzyIndex = new Map<string, KernelController[]>();
  for (const k of io) {
    const own = kernelTids.get(k);
    if (own !== undefined && !used.has(k))
      pushTo(fuzzyIndex, fuzzyKey(k.controller.transport, own.traddr, own.subsysnqn), k);
  }
  for (const c of inexact) {
    const matches = (fuzzyIndex.get(fuzzyKey(c.tid.transport, c.tid.traddr, c.tid.subsysnqn)) ?? [])
      .filter((k) => !used.has(k) && controllerMatchesTid(k.controller, c.tid, ifaces, { role: 'io' }))
      .sort((a, b) => rank(a) - rank(b) || a.controller.instance - b.controller.instance);
    const best = matches[0];
    if (best !== undefined) {
      assigned.set(c, best);
      used.add(best);
    }
  }
  return assigned;
}

function desiredAction(c: Candidate, k: KernelController | undefined, input: PlanInput): IocAction {
  const common = {
    key: c.tid.key,
    tid: c.tid,
    origin: c.origin,
    dcs: [...c.dcs],
    ...(c.line === undefined ? {} : { line: c.line }),
  };
  const why = describeOrigin(c);
  if (k === undefined) {
    const budget = input.policy.connectAttemptsOnNcc;
    const attempts = input.attempts.get(c.tid.key) ?? 0;
    if (c.ncc && budget > 0 && attempts >= budget) {
      return {
        ...common,
        kind: 'skip',
        reason: 'ncc-gave-up',
        detail: `${why} with NCC (not connected to the CDC); gave up after ${attempts} failed connects (connect-attempts-on-ncc = ${budget})`,
      };
    }
    return {
      ...common,
      kind: 'connect',
      reason: c.origin,
      ncc: c.ncc,
      params: { options: c.options, dhchapSecret: c.dhchapSecret, dhchapCtrlSecret: c.dhchapCtrlSecret },
      detail: `${why}; not connected: connecting`,
    };
  }
  const device = k.controller.device;
  if (isBoot(k)) {
    return {
      ...common,
      kind: 'keep',
      reason: 'boot-controller',
      device,
      ...(k.owner === undefined ? {} : { owner: k.owner }),
      detail: `${why}; connected as ${device}, a boot (NBFT) controller: left alone`,
    };
  }
  if (k.owner === STAS) {
    return {
      ...common,
      kind: 'keep',
      reason: 'connected',
      device,
      owner: STAS,
      detail: `${why}; connected as ${device}`,
    };
  }
  if (k.owner === undefined) {
    return {
      ...common,
      kind: 'adopt',
      reason: c.origin,
      device,
      detail: `${why}; ${device} already connects it and has no owner: adopting it without reconnecting`,
    };
  }
  return {
    ...common,
    kind: 'keep',
    reason: 'owned-by-other',
    device,
    owner: k.owner,
    detail: `${why}; ${device} already connects it and belongs to ${k.owner}: not touched`,
  };
}

/** Same transport, port, subsystem and host NQN as an unresolved configured controller (any address). */
function mayBeUnresolved(tid: Tid, unresolved: readonly Tid[]): Tid | undefined {
  return unresolved.find(
    (u) =>
      u.transport === tid.transport &&
      u.trsvcid === tid.trsvcid &&
      u.subsysnqn === tid.subsysnqn &&
      u.hostNqn === tid.hostNqn,
  );
}

interface Undesired {
  /** Skipped candidates for `reason` that may match a controller with this fuzzyKey(), in order. */
  readonly skippedLike: (reason: SkipReason, like: string) => readonly SkippedCandidate[];
  /** Candidates (sorted by key) that may match a controller with this fuzzyKey(). */
  readonly candidatesLike: (like: string) => readonly Candidate[];
  readonly unresolved: readonly Tid[];
  readonly unknownPage: DiscoveredPage | undefined;
}

function undesiredAction(
  k: KernelController,
  tid: Tid | undefined,
  key: string,
  u: Undesired,
  input: PlanInput,
): IocAction {
  const c = k.controller;
  const device = c.device;
  const owned = k.owner === undefined ? {} : { owner: k.owner };
  if (tid === undefined || !isFabricsController(c)) {
    return {
      key,
      kind: 'keep',
      reason: 'not-fabrics',
      tid: null,
      device,
      ...owned,
      detail: `${device} is not an NVMe-oF controller (transport ${c.transport ?? 'unknown'}): never touched`,
    };
  }
  const base = { key, tid, device, ...owned };
  const keep = (reason: KeepReason, detail: string): IocAction => ({ ...base, kind: 'keep', reason, detail });
  if (isDiscoveryController(c) || !isIoController(c))
    return keep('discovery-controller', `${device} is a discovery controller (stafd's business)`);
  if (isBoot(k)) return keep('boot-controller', `${device} is a boot (NBFT) controller: never disconnected`);
  const matches = (cand: { tid: Tid | null }): boolean =>
    cand.tid !== null && controllerMatchesTid(c, cand.tid, input.ifaces, { role: 'io' });
  const like = fuzzyKey(c.transport, tid.traddr, tid.subsysnqn);
  const twin = u.candidatesLike(like).find(matches);
  if (twin !== undefined)
    return keep('matches-desired', `${device} is another connection to wanted ${formatTid(twin.tid)}: kept`);
  const scope = input.policy.disconnectScope;
  if (k.owner !== undefined && k.owner !== STAS)
    return keep('owned-by-other', `${device} belongs to ${k.owner}: never disconnected by stas`);
  if (scope === 'no-disconnect')
    return keep(
      'scope-no-disconnect',
      `${device} is no longer wanted, but disconnect-scope is no-disconnect`,
    );
  if (
    scope === 'all-connections-matching-disconnect-trtypes' &&
    !(input.policy.disconnectTrtypes as readonly string[]).includes(tid.transport)
  ) {
    return keep(
      'trtype-out-of-scope',
      `${device} is not wanted, but ${tid.transport} is not in disconnect-trtypes (${input.policy.disconnectTrtypes.join('+')})`,
    );
  }
  if (k.owner !== STAS && scope !== 'all-connections-matching-disconnect-trtypes')
    return keep(
      'not-owned',
      `${device} has ${ownerText(k.owner)}; disconnect-scope only-stas-connections leaves it alone`,
    );

  const disconnect = (reason: DisconnectReason, detail: string): IocAction => ({
    key,
    tid,
    device,
    owner: k.owner,
    kind: 'disconnect',
    reason,
    detail,
  });
  const excludedBy = exclusionOf(tid, input);
  if (excludedBy !== undefined)
    return disconnect('excluded', `${device} is excluded by ${excludedBy}: disconnecting`);
  const excludedTwin = u.skippedLike('excluded', like).find(matches);
  if (excludedTwin !== undefined)
    return disconnect(
      'excluded',
      `${device} connects ${formatTid(excludedTwin.tid as Tid)}, which is excluded: disconnecting`,
    );
  const namesake = mayBeUnresolved(tid, u.unresolved);
  if (namesake !== undefined)
    return keep(
      'name-unresolved',
      `${device} may be configured ${formatTid(namesake)}, whose host name does not resolve now: kept`,
    );
  if (!input.discovered.ok) {
    return keep(
      'stafd-unavailable',
      `${device} is not configured, and stafd cannot tell whether it is discovered (${input.discovered.reason}): kept`,
    );
  }
  if (u.unknownPage !== undefined) {
    return keep(
      'discovery-incomplete',
      `${device} is not in any known log page, but DC ${u.unknownPage.dc} has not been read yet: kept`,
    );
  }
  const filtered = u.skippedLike('ip-family', like).find(matches);
  if (filtered !== undefined)
    return disconnect(
      'ip-family',
      `${device} uses an address family ip-family (${ipFamilyText(input.policy)}) disables: disconnecting`,
    );
  return disconnect('not-discovered', `${device} is in no log page and no controller= line: disconnecting`);
}

export function planIocs(input: PlanInput): IocAction[] {
  const candidates = new Map<TidKey, Candidate>();
  const skipped = new Map<string, SkippedCandidate>();
  const unresolved: Tid[] = [];
  gatherConfigured(input, candidates, skipped, unresolved);
  if (input.discovered.ok) gatherDiscovered(input, input.discovered.value, candidates, skipped);
  for (const key of candidates.keys()) skipped.delete(key);

  const ordered = [...candidates.values()].sort((a, b) =>
    a.tid.key < b.tid.key ? -1 : a.tid.key > b.tid.key ? 1 : 0,
  );
  // tidOfController builds a new TID on every call; assign and the undesired pass both need each
  // controller's TID, so it is built once here.
  const kernelTids: KernelTids = new Map(input.kernel.map((k) => [k, tidOfController(k.controller)]));
  const assigned = assign(ordered, input.kernel, kernelTids, input.ifaces);

  const actions = new Map<string, IocAction>();
  for (const c of ordered) actions.set(c.tid.key, desiredAction(c, assigned.get(c), input));
  for (const [key, s] of skipped) {
    actions.set(key, {
      key,
      kind: 'skip',
      reason: s.reason,
      tid: s.tid,
      origin: s.origin,
      dcs: [...s.dcs],
      ...(s.line === undefined ? {} : { line: s.line }),
      detail: s.detail,
    });
  }

  const used = new Set(assigned.values());
  // Indexed by fuzzyKey() so that many undesired controllers × many candidates stays linear.
  const candidatesIndex = new Map<string, Candidate[]>();
  for (const c of ordered)
    pushTo(candidatesIndex, fuzzyKey(c.tid.transport, c.tid.traddr, c.tid.subsysnqn), c);
  const skippedIndex = new Map<string, SkippedCandidate[]>();
  for (const s of skipped.values())
    if (s.tid !== null)
      pushTo(skippedIndex, `${s.reason} ${fuzzyKey(s.tid.transport, s.tid.traddr, s.tid.subsysnqn)}`, s);
  const undesired: Undesired = {
    skippedLike: (reason, like) => skippedIndex.get(`${reason} ${like}`) ?? [],
    candidatesLike: (like) => candidatesIndex.get(like) ?? [],
    unresolved,
    unknownPage: input.discovered.ok ? input.discovered.value.find((p) => p.state === 'unknown') : undefined,
  };
  for (const k of input.kernel) {
    if (used.has(k)) continue;
    const own = kernelTids.get(k);
    let key = own === undefined ? kernelKey(k.controller) : (own.key as string);
    const clash = actions.get(key);
    if (clash !== undefined && clash.kind !== 'skip') key = `${key}@${k.controller.device}`;
    actions.set(key, undesiredAction(k, own, key, undesired, input));
  }
  return [...actions.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Counts per kind, for status lines. */
export function countActions(actions: readonly IocAction[]): Record<IocActionKind, number> {
  const counts: Record<IocActionKind, number> = { connect: 0, adopt: 0, keep: 0, disconnect: 0, skip: 0 };
  for (const a of actions) counts[a.kind]++;
  return counts;
}
