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
 * Cost (bench/plan-10k.ts: 10,000 desired TIDs × 10,000 kernel controllers): linear. Candidates are
 * found by subsystem NQN and then compared field by field (CandidateSet), so a kernel controller that
 * a candidate takes by key never has its TID built; fuzzy matches are narrowed by transport, traddr
 * and subsystem NQN, and twins of leftover controllers by binary search in the sorted candidates.
 * Allocation is what remains, so actions are whole object literals (spreading a shared object cost
 * V8 about 1.5 KB per action), and each pass's per-item work is a function of its own, driven by
 * array builtins (forEach, map, reduce): V8 optimises such a function during the first round, while a
 * loop inside a function called once per round is compiled late, on the stack, and again after deopts.
 *
 * Used by: daemon.ts, dbus/stac-service.ts (explain). Tests: plan.test.ts, plan.matrix.test.ts,
 * plan.prop.test.ts, plan.repeat.prop.test.ts, plan.reference.prop.test.ts (against plan-reference.ts)
 */
import type { ConnectOptions } from '@stas/common/config/connect-options';
import type { Exclusion } from '@stas/common/config/controllers-section';
import type { FabricTransport, IpFamily } from '@stas/common/config/option-types';
import type { DisconnectScope } from '@stas/common/config/stacd-conf';
import {
  controllerHasTid,
  controllerMatchesTid,
  tidKeyOfController,
  tidOfController,
} from '@stas/common/kernel/controller-match';
import type { ExclusionEntry } from '@stas/common/kernel/exclusions';
import type { DeviceName } from '@stas/common/kernel/fabrics-outcome';
import type { InterfaceAddresses } from '@stas/common/kernel/net-interfaces';
import type { NvmeController } from '@stas/common/kernel/sysfs-parse';
import { isDiscoveryController, isFabricsController, isIoController } from '@stas/common/kernel/sysfs-parse';
import { canonicalIp, isUnspecified, parseIpAddress } from '@stas/common/net/ip-address';
import type { Tid, TidKey } from '@stas/common/nvme/tid';
import { createTid, formatTid, isTransport, tidMatchesFilter, tidTargetPrefix } from '@stas/common/nvme/tid';
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
  /** The DCs that list it: shared by the candidates of one page until another DC lists one (addDc). */
  dcs: readonly string[];
  readonly line?: number;
  /**
   * The connect options before TREQ: [Global] (discovered; the policy's own object, so it is copied
   * when a connect action is made) or [Global] overlaid with the line's (configured; built for it).
   */
  readonly options: Partial<ConnectOptions>;
  readonly dhchapSecret: Secret | null;
  readonly dhchapCtrlSecret: Secret | null;
  /** Every discovered listing has NCC set (configured ones never do). */
  ncc: boolean;
  /** A listing's TREQ asks for disable-sqflow (ignored when the configured line sets it). */
  sqflow: boolean;
  /** Set by configured `disable-sqflow=`, so a TREQ bit does not override it. */
  readonly sqflowConfigured: boolean;
  /** The next candidate with the same subsystem NQN (see CandidateSet). */
  sameNqn: Candidate | undefined;
  /** The first candidate of an NQN: how many it has (see CandidateSet). */
  nqnCount: number;
  /** The kernel controller assign() gave it. */
  match: KernelController | undefined;
  /** Its action, once made. */
  action: IocAction | undefined;
}

interface SkippedCandidate {
  readonly tid: Tid | null;
  readonly reason: SkipReason;
  readonly origin: IocOrigin;
  /** As Candidate.dcs. */
  dcs: readonly string[];
  readonly line?: number;
  readonly detail: string;
}

/**
 * A kernel controller that no desired TID has by exact key, with its own TID (tidOfController),
 * built once: the fuzzy pass and the undesired pass both need it.
 */
interface KernelEntry {
  readonly k: KernelController;
  readonly tid: Tid | undefined;
  /** A fabrics I/O controller with a TID: the only kind a desired TID is matched to. */
  readonly io: boolean;
  /** Matched to a desired TID by the fuzzy pass. */
  taken: boolean;
}

const NCC_FLAG = 0x4;
const TREQ_DISABLE_SQFLOW = 0x4;
const IO_ROLE = { role: 'io' } as const;

function exclusionOf(tid: Tid, input: PlanInput): string | undefined {
  for (const e of input.exclusions)
    if (tidMatchesFilter(tid, e.filter)) return `exclude= on stacd.conf line ${e.line}`;
  for (const e of input.hostExclusions)
    if (e.filter !== null && tidMatchesFilter(tid, e.filter))
      return `exclusion "${e.text}" of ${e.file}:${e.line}`;
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

/**
 * Characters that would break or extend a kernel connect string (see connect-args.ts). (A regex test
 * here is faster than a loop over the characters: V8 compiles it to a native scan.)
 */
// eslint-disable-next-line no-control-regex
const CONNECT_STRING_SYNTAX = /[\s,=\u0000-\u001f\u007f]/;

/** A port number: 1 to 5 decimal digits, value 1–65535. */
function isPortNumber(text: string): boolean {
  if (text.length === 0 || text.length > 5) return false;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
    value = value * 10 + (c - 0x30);
  }
  return value >= 1 && value <= 65535;
}

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
    const ip = canonicalIp(traddr);
    if (ip === null) return `'${traddr}' is not an IP address`;
    if (isUnspecified(ip)) return `'${traddr}' is the unspecified address`;
    if (trsvcid !== '' && !isPortNumber(trsvcid)) return `'${trsvcid}' is not a port number`;
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

/** `action` with `line` added when there is one (configured controllers only, so rarely: a copy is fine). */
function withLine(action: Exclude<IocAction, { kind: 'disconnect' }>, line: number | undefined): IocAction {
  return line === undefined ? action : { ...action, line };
}

/** Past this many candidates on one subsystem NQN, its candidates are found by TID key in a map. */
const CROWDED_NQN = 16;

/**
 * The candidates, found by TID key through their subsystem NQN: each NQN's first candidate is in a
 * map, the others chained to it (`sameNqn`). A kernel controller's TID has its subsysnqn, so only
 * that NQN's candidates can have its key, and controllerHasTid compares their fields without building
 * a key for the controller; and an NQN is shorter to hash than a key. The candidates of an NQN with
 * many (one subsystem on many paths) are found by key in a map instead, so that lookups stay cheap.
 */
class CandidateSet {
  readonly #byNqn = new Map<string, Candidate>();
  /** The candidates of crowded NQNs. */
  readonly #crowded = new Map<TidKey, Candidate>();
  /** All candidates by key, built for byKey(). */
  #all: Map<string, Candidate> | undefined;

  add(c: Candidate): void {
    this.#all?.set(c.tid.key, c);
    const first = this.#byNqn.get(c.tid.subsysnqn);
    if (first === undefined) {
      c.nqnCount = 1;
      this.#byNqn.set(c.tid.subsysnqn, c);
      return;
    }
    first.nqnCount++;
    if (first.nqnCount > CROWDED_NQN) {
      if (first.nqnCount === CROWDED_NQN + 1)
        for (let same: Candidate | undefined = first; same !== undefined; same = same.sameNqn)
          this.#crowded.set(same.tid.key, same);
      this.#crowded.set(c.tid.key, c);
      return;
    }
    c.sameNqn = first.sameNqn;
    first.sameNqn = c;
  }

  /** The candidate with this TID's key. */
  get(tid: Tid): Candidate | undefined {
    const first = this.#byNqn.get(tid.subsysnqn);
    if (first === undefined) return undefined;
    if (first.nqnCount > CROWDED_NQN) return this.#crowded.get(tid.key);
    for (let same: Candidate | undefined = first; same !== undefined; same = same.sameNqn)
      if (same.tid.key === tid.key) return same;
    return undefined;
  }

  /** The candidate with the TID key of I/O controller `c` (whose TID's subsysnqn is its own). */
  forIoController(c: NvmeController): Candidate | undefined {
    const first = this.#byNqn.get(c.subsysnqn ?? '');
    if (first === undefined) return undefined;
    if (first.nqnCount > CROWDED_NQN) {
      const key = tidKeyOfController(c);
      return key === undefined ? undefined : this.#crowded.get(key);
    }
    for (let same: Candidate | undefined = first; same !== undefined; same = same.sameNqn)
      if (controllerHasTid(c, same.tid)) return same;
    return undefined;
  }

  /** The candidate with this key, whatever it is (rarely needed: the map is built on first use). */
  byKey(key: string): Candidate | undefined {
    if (this.#all === undefined) this.#all = new Map(this.all().map((c) => [c.tid.key, c]));
    return this.#all.get(key);
  }

  /**
   * Every candidate, in no particular order. (Collected here, once, rather than pushed onto a list by
   * add(): V8 optimises add() early, and pushing onto each round's new, still empty array deoptimised it.)
   */
  all(): Candidate[] {
    const all: Candidate[] = [];
    for (const first of this.#byNqn.values()) {
      if (first.nqnCount > CROWDED_NQN) continue; // in #crowded
      for (let same: Candidate | undefined = first; same !== undefined; same = same.sameNqn) all.push(same);
    }
    for (const c of this.#crowded.values()) all.push(c);
    return all;
  }
}

function gatherConfigured(
  input: PlanInput,
  candidates: CandidateSet,
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
    if (candidates.get(tid) !== undefined) continue; // a duplicate line: the first one counts
    candidates.add({
      tid,
      origin: 'configured',
      dcs: [],
      line,
      options: { ...input.policy.options, ...c.options },
      dhchapSecret: c.dhchapSecret,
      dhchapCtrlSecret: c.dhchapCtrlSecret,
      ncc: false,
      sqflow: false,
      sqflowConfigured: c.options['disable-sqflow'] !== undefined,
      sameNqn: undefined,
      nqnCount: 0,
      match: undefined,
      action: undefined,
    });
  }
}

/** `dc` added to the DCs of a candidate (or skipped one): a new list, since lists are shared. */
function addDc(known: { dcs: readonly string[] }, dc: string): void {
  if (!known.dcs.includes(dc)) known.dcs = [...known.dcs, dc];
}

/** What every entry of one log page shares. */
interface PageContext {
  readonly page: DiscoveredPage;
  /** The host side filled in from the host identity (hostSide). */
  readonly hostNqn: string;
  readonly hostId: string;
  /** `[page.dc]`, frozen: the DC list of every candidate this page is the first to list. */
  readonly listedBy: readonly string[];
}

/** Records a skipped discovered entry, or adds this DC to the one already recorded under its key. */
function skipDiscovered(
  skipped: Map<string, SkippedCandidate>,
  key: string,
  tid: Tid | null,
  reason: SkipReason,
  at: PageContext,
  detail: () => string,
): void {
  const known = skipped.get(key);
  if (known === undefined)
    skipped.set(key, { origin: 'discovered', dcs: at.listedBy, tid, reason, detail: detail() });
  else addDc(known, at.page.dc);
}

function gatherDiscovered(
  input: PlanInput,
  pages: readonly DiscoveredPage[],
  candidates: CandidateSet,
  skipped: Map<string, SkippedCandidate>,
): void {
  for (const page of pages) {
    // The host side is filled in before each TID is built (rather than normalise() after), so each
    // entry builds one TID; createTid keeps empty host fields empty, so the result is the same.
    const at: PageContext = {
      page,
      hostNqn: page.hostNqn === '' ? input.identity.hostnqn : page.hostNqn,
      hostId: page.hostId === '' ? input.identity.hostid : page.hostId,
      listedBy: Object.freeze([page.dc]),
    };
    page.entries.forEach((entry) => {
      gatherEntry(input, at, entry, candidates, skipped);
    });
  }
}

/** One log page entry: a new candidate, one more DC for a known one, or a skipped entry. */
function gatherEntry(
  input: PlanInput,
  at: PageContext,
  entry: DiscoveredEntry,
  candidates: CandidateSet,
  skipped: Map<string, SkippedCandidate>,
): void {
  const page = at.page;
  const dc = page.dc;
  if (entry.subtype !== 'nvme') return; // referrals and the DC itself are stafd's business
  const transport = entry.trtype;
  if (!isTransport(transport)) {
    const key = pseudoKey(entry, page);
    if (!skipped.has(key)) {
      skipped.set(key, {
        origin: 'discovered',
        dcs: at.listedBy,
        tid: null,
        reason: 'unsupported-transport',
        detail: `${entry.subnqn} at ${entry.traddr} is listed by DC ${dc} with transport '${transport}', which the kernel host does not support`,
      });
    }
    return;
  }
  const problem = addressProblem(transport, entry.traddr, entry.trsvcid, entry.subnqn);
  const sameTransport = transport === page.transport;
  const tid = createTid(
    {
      transport,
      traddr: entry.traddr,
      trsvcid: entry.trsvcid,
      subsysnqn: entry.subnqn,
      hostTraddr: sameTransport ? page.hostTraddr : '',
      hostIface: !input.policy.ignoreIface && sameTransport && transport === 'tcp' ? page.hostIface : '',
      hostNqn: at.hostNqn,
      hostId: at.hostId,
    },
    IO_ROLE,
  );
  if (problem !== null) {
    skipDiscovered(skipped, tid.key, tid, 'invalid-address', at, () => {
      return `${formatTid(tid)} is listed by DC ${dc}, but ${problem}`;
    });
    return;
  }
  const excluded = exclusionOf(tid, input);
  if (excluded !== undefined) {
    skipDiscovered(skipped, tid.key, tid, 'excluded', at, () => {
      return `listed by DC ${dc} but excluded by ${excluded}`;
    });
    return;
  }
  if (familyDisabled(tid, input.policy)) {
    skipDiscovered(skipped, tid.key, tid, 'ip-family', at, () => {
      return `listed by DC ${dc}, but ip-family is ${ipFamilyText(input.policy)}`;
    });
    return;
  }
  const ncc = (entry.eflags & NCC_FLAG) !== 0;
  const sqflow = (entry.treq & TREQ_DISABLE_SQFLOW) !== 0;
  const known = candidates.get(tid);
  if (known === undefined) {
    candidates.add({
      tid,
      origin: 'discovered',
      dcs: at.listedBy,
      options: input.policy.options,
      dhchapSecret: null,
      dhchapCtrlSecret: null,
      ncc,
      sqflow,
      sqflowConfigured: false,
      sameNqn: undefined,
      nqnCount: 0,
      match: undefined,
      action: undefined,
    });
    return;
  }
  addDc(known, dc);
  if (known.origin === 'discovered') known.ncc = known.ncc && ncc;
  if (sqflow && !known.sqflowConfigured) known.sqflow = true;
}

/** The options of a connect: the candidate's, with disable-sqflow when a TREQ asked for it; always a new object. */
function connectOptions(c: Candidate): Partial<ConnectOptions> {
  return c.sqflow ? { ...c.options, 'disable-sqflow': true } : { ...c.options };
}

/** Preference among fuzzy matches: owned by stas, unowned, another owner; then the lowest instance. */
function rank(k: KernelController): number {
  return k.owner === STAS ? 0 : k.owner === undefined ? 1 : 2;
}

/** Whether `a` is preferred to `b` as a fuzzy match (strictly: the first of equals stays). */
function preferred(a: KernelController, b: KernelController): boolean {
  const byRank = rank(a) - rank(b);
  return byRank < 0 || (byRank === 0 && a.controller.instance < b.controller.instance);
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

/** The exact pass for one kernel controller: to the candidate with its key, or left (returned). */
function takeExact(k: KernelController, candidates: CandidateSet): KernelEntry | undefined {
  const io = isFabricsController(k.controller) && isIoController(k.controller);
  const c = io ? candidates.forIoController(k.controller) : undefined;
  if (c === undefined || c.match !== undefined)
    return { k, tid: tidOfController(k.controller), io, taken: false };
  c.match = k;
  return undefined;
}

/**
 * Gives each candidate (in key order) at most one kernel controller (candidate.match), each kernel
 * controller going to at most one candidate: first exact matches (the same TID key), then fuzzy ones
 * (controllerMatchesTid), preferring owner stas, then unowned, then the lowest instance. Returns the
 * controllers the exact pass left, in kernel order, `taken` if the fuzzy pass matched them.
 */
function assign(
  ordered: readonly Candidate[],
  candidates: CandidateSet,
  kernel: readonly KernelController[],
  ifaces: InterfaceAddresses,
): KernelEntry[] {
  // Exact: a candidate takes the first I/O controller, in kernel order, with its TID key. Candidate keys
  // are unique, so no candidate can take a controller another one would have had: walking the kernel
  // once, in order, gives each candidate that first controller. Only the key is built here (most
  // controllers are matched by it and need no TID).
  const left = kernel.map((k) => takeExact(k, candidates)).filter((e) => e !== undefined);
  if (kernel.length - left.length === ordered.length) return left; // every candidate has its controller
  // Fuzzy: only controllers no exact match took can be fuzzy matches, so only those are indexed (kernel
  // order kept); a match needs at least the same transport, traddr and subsystem NQN.
  const fuzzyIndex = new Map<string, KernelEntry[]>();
  for (const e of left)
    if (e.io && e.tid !== undefined)
      pushTo(fuzzyIndex, fuzzyKey(e.k.controller.transport, e.tid.traddr, e.tid.subsysnqn), e);
  if (fuzzyIndex.size > 0)
    ordered.forEach((c) => {
      takeFuzzy(c, fuzzyIndex, ifaces);
    });
  return left;
}

/** The fuzzy pass for one candidate the exact pass left without a controller. */
function takeFuzzy(
  c: Candidate,
  fuzzyIndex: ReadonlyMap<string, readonly KernelEntry[]>,
  ifaces: InterfaceAddresses,
): void {
  if (c.match !== undefined) return;
  const list = fuzzyIndex.get(fuzzyKey(c.tid.transport, c.tid.traddr, c.tid.subsysnqn));
  if (list === undefined) return;
  let best: KernelEntry | undefined;
  for (const e of list) {
    if (e.taken || (best !== undefined && !preferred(e.k, best.k))) continue;
    if (controllerMatchesTid(e.k.controller, c.tid, ifaces, { role: 'io', controllerTid: e.tid })) best = e;
  }
  if (best !== undefined) {
    c.match = best.k;
    best.taken = true;
  }
}

// The actions below are written as whole object literals (no spreads): V8 builds a literal with one
// allocation, while spreading a shared object into a new one cost about 1.5 KB per action.

function desiredAction(c: Candidate, input: PlanInput): IocAction {
  const key = c.tid.key;
  const tid = c.tid;
  const origin = c.origin;
  const dcs = c.dcs; // (not copied: it is never changed, only replaced: see addDc)
  const why = describeOrigin(c);
  const k = c.match;
  if (k === undefined) {
    const budget = input.policy.connectAttemptsOnNcc;
    const attempts = budget > 0 && c.ncc ? (input.attempts.get(key) ?? 0) : 0;
    if (c.ncc && budget > 0 && attempts >= budget) {
      const detail = `${why} with NCC (not connected to the CDC); gave up after ${attempts} failed connects (connect-attempts-on-ncc = ${budget})`;
      return withLine({ key, tid, origin, dcs, kind: 'skip', reason: 'ncc-gave-up', detail }, c.line);
    }
    const params: ConnectParams = {
      options: connectOptions(c),
      dhchapSecret: c.dhchapSecret,
      dhchapCtrlSecret: c.dhchapCtrlSecret,
    };
    const detail = `${why}; not connected: connecting`;
    return withLine(
      { key, tid, origin, dcs, kind: 'connect', reason: origin, ncc: c.ncc, params, detail },
      c.line,
    );
  }
  const device = k.controller.device;
  const owner = k.owner;
  if (isBoot(k)) {
    const detail = `${why}; connected as ${device}, a boot (NBFT) controller: left alone`;
    const reason = 'boot-controller';
    return withLine(
      owner === undefined
        ? { key, tid, origin, dcs, kind: 'keep', reason, device, detail }
        : { key, tid, origin, dcs, kind: 'keep', reason, device, owner, detail },
      c.line,
    );
  }
  if (owner === STAS) {
    const detail = `${why}; connected as ${device}`;
    return withLine(
      { key, tid, origin, dcs, kind: 'keep', reason: 'connected', device, owner, detail },
      c.line,
    );
  }
  if (owner === undefined) {
    const detail = `${why}; ${device} already connects it and has no owner: adopting it without reconnecting`;
    return withLine({ key, tid, origin, dcs, kind: 'adopt', reason: origin, device, detail }, c.line);
  }
  const detail = `${why}; ${device} already connects it and belongs to ${owner}: not touched`;
  return withLine(
    { key, tid, origin, dcs, kind: 'keep', reason: 'owned-by-other', device, owner, detail },
    c.line,
  );
}

function skipAction(key: string, s: SkippedCandidate): IocAction {
  const { tid, reason, origin, dcs, detail } = s;
  return withLine({ key, kind: 'skip', reason, tid, origin, dcs, detail }, s.line);
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

/** What undesiredAction looks things up in; the indexes are built on first use (most rounds need none). */
class Undesired {
  readonly unresolved: readonly Tid[];
  readonly unknownPage: DiscoveredPage | undefined;
  readonly #ordered: readonly Candidate[];
  readonly #skipped: ReadonlyMap<string, SkippedCandidate>;
  #skippedIndex: Map<string, SkippedCandidate[]> | undefined;

  constructor(
    ordered: readonly Candidate[],
    skipped: ReadonlyMap<string, SkippedCandidate>,
    unresolved: readonly Tid[],
    unknownPage: DiscoveredPage | undefined,
  ) {
    this.#ordered = ordered;
    this.#skipped = skipped;
    this.unresolved = unresolved;
    this.unknownPage = unknownPage;
  }

  /**
   * The first candidate, in key order, that the I/O controller matches. Only candidates with the
   * controller's transport, traddr, trsvcid and subsysnqn can (controllerMatchesTid, I/O role), and
   * their keys all start with the same tidTargetPrefix(): one run of the sorted candidates, found by
   * binary search, with no index to build.
   */
  firstCandidateMatching(c: NvmeController, own: Tid, ifaces: InterfaceAddresses): Candidate | undefined {
    const ordered = this.#ordered;
    const prefix = tidTargetPrefix(own);
    let lo = 0;
    let hi = ordered.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((ordered[mid] as Candidate).tid.key < prefix) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < ordered.length; i++) {
      const candidate = ordered[i] as Candidate;
      if (!candidate.tid.key.startsWith(prefix)) return undefined;
      if (controllerMatchesTid(c, candidate.tid, ifaces, { role: 'io', controllerTid: own }))
        return candidate;
    }
    return undefined;
  }

  /** Skipped candidates for `reason` that may match a controller with this fuzzyKey(), in order. */
  skippedLike(reason: SkipReason, like: string): readonly SkippedCandidate[] {
    if (this.#skippedIndex === undefined) {
      this.#skippedIndex = new Map();
      for (const s of this.#skipped.values())
        if (s.tid !== null)
          pushTo(
            this.#skippedIndex,
            `${s.reason} ${fuzzyKey(s.tid.transport, s.tid.traddr, s.tid.subsysnqn)}`,
            s,
          );
    }
    return this.#skippedIndex.get(`${reason} ${like}`) ?? [];
  }
}

/** The first of `list` whose TID the controller matches (I/O role). */
function firstMatching<T extends { readonly tid: Tid | null }>(
  list: readonly T[],
  e: KernelEntry,
  ifaces: InterfaceAddresses,
): T | undefined {
  for (const item of list)
    if (
      item.tid !== null &&
      controllerMatchesTid(e.k.controller, item.tid, ifaces, { role: 'io', controllerTid: e.tid })
    )
      return item;
  return undefined;
}

function undesiredAction(e: KernelEntry, key: string, u: Undesired, input: PlanInput): IocAction {
  const k = e.k;
  const tid = e.tid;
  const c = k.controller;
  const device = c.device;
  const owner = k.owner;
  if (tid === undefined || !isFabricsController(c)) {
    const detail = `${device} is not an NVMe-oF controller (transport ${c.transport ?? 'unknown'}): never touched`;
    return owner === undefined
      ? { key, kind: 'keep', reason: 'not-fabrics', tid: null, device, detail }
      : { key, kind: 'keep', reason: 'not-fabrics', tid: null, device, owner, detail };
  }
  const keep = (reason: KeepReason, detail: string): IocAction =>
    owner === undefined
      ? { key, tid, device, kind: 'keep', reason, detail }
      : { key, tid, device, owner, kind: 'keep', reason, detail };
  if (isDiscoveryController(c) || !isIoController(c))
    return keep('discovery-controller', `${device} is a discovery controller (stafd's business)`);
  if (isBoot(k)) return keep('boot-controller', `${device} is a boot (NBFT) controller: never disconnected`);
  const twin = u.firstCandidateMatching(c, tid, input.ifaces);
  if (twin !== undefined)
    return keep('matches-desired', `${device} is another connection to wanted ${formatTid(twin.tid)}: kept`);
  const scope = input.policy.disconnectScope;
  if (owner !== undefined && owner !== STAS)
    return keep('owned-by-other', `${device} belongs to ${owner}: never disconnected by stas`);
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
  if (owner !== STAS && scope !== 'all-connections-matching-disconnect-trtypes')
    return keep(
      'not-owned',
      `${device} has ${ownerText(owner)}; disconnect-scope only-stas-connections leaves it alone`,
    );

  const disconnect = (reason: DisconnectReason, detail: string): IocAction => ({
    key,
    tid,
    device,
    owner,
    kind: 'disconnect',
    reason,
    detail,
  });
  const excludedBy = exclusionOf(tid, input);
  if (excludedBy !== undefined)
    return disconnect('excluded', `${device} is excluded by ${excludedBy}: disconnecting`);
  const like = fuzzyKey(c.transport, tid.traddr, tid.subsysnqn);
  const excludedTwin = firstMatching(u.skippedLike('excluded', like), e, input.ifaces);
  if (excludedTwin !== undefined && excludedTwin.tid !== null)
    return disconnect(
      'excluded',
      `${device} connects ${formatTid(excludedTwin.tid)}, which is excluded: disconnecting`,
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
  const filtered = firstMatching(u.skippedLike('ip-family', like), e, input.ifaces);
  if (filtered !== undefined)
    return disconnect(
      'ip-family',
      `${device} uses an address family ip-family (${ipFamilyText(input.policy)}) disables: disconnecting`,
    );
  return disconnect('not-discovered', `${device} is in no log page and no controller= line: disconnecting`);
}

function byKey(a: IocAction, b: IocAction): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

function byTidKey(a: Candidate, b: Candidate): number {
  return a.tid.key < b.tid.key ? -1 : a.tid.key > b.tid.key ? 1 : 0;
}

export function planIocs(input: PlanInput): IocAction[] {
  const candidates = new CandidateSet();
  const skipped = new Map<string, SkippedCandidate>();
  const unresolved: Tid[] = [];
  gatherConfigured(input, candidates, skipped, unresolved);
  if (input.discovered.ok) gatherDiscovered(input, input.discovered.value, candidates, skipped);
  for (const [key, s] of skipped)
    if (s.tid !== null && candidates.get(s.tid) !== undefined) skipped.delete(key);

  const ordered = candidates.all().sort(byTidKey);
  const left = assign(ordered, candidates, input.kernel, input.ifaces);

  const desired = ordered.map((c) => {
    c.action = desiredAction(c, input);
    return c.action;
  });

  // The other actions (skipped candidates, controllers no desired TID took), by key. A controller whose
  // key is taken by an action that is not a skip gets `key@device`; one that meets a skip replaces it.
  const others = new Map<string, IocAction>();
  for (const [key, s] of skipped) others.set(key, skipAction(key, s));
  const undesired = new Undesired(
    ordered,
    skipped,
    unresolved,
    input.discovered.ok ? input.discovered.value.find((p) => p.state === 'unknown') : undefined,
  );
  const replacesDesired = left.reduce((replaced, e) => {
    if (e.taken) return replaced;
    return leftoverAction(e, candidates, others, undesired, input) || replaced;
  }, false);
  const kept = replacesDesired ? desired.filter((a) => !others.has(a.key)) : desired;
  // `kept` is sorted already: the sort finds that run and merges the others into it.
  return kept.concat([...others.values()]).sort(byKey);
}

/**
 * The action of a kernel controller no desired TID took, put into `others` under its key; true when
 * that key is a desired TID's, whose action it then replaces.
 */
function leftoverAction(
  e: KernelEntry,
  candidates: CandidateSet,
  others: Map<string, IocAction>,
  undesired: Undesired,
  input: PlanInput,
): boolean {
  // (A `~device|` key is never a candidate's: TID keys start with a transport.)
  let key = e.tid === undefined ? kernelKey(e.k.controller) : (e.tid.key as string);
  let desired = e.tid === undefined ? undefined : candidates.get(e.tid);
  const clash = others.get(key) ?? desired?.action;
  if (clash !== undefined && clash.kind !== 'skip') {
    key = `${key}@${e.k.controller.device}`;
    desired = candidates.byKey(key);
  }
  others.set(key, undesiredAction(e, key, undesired, input));
  return desired !== undefined;
}

/** Counts per kind, for status lines. */
export function countActions(actions: readonly IocAction[]): Record<IocActionKind, number> {
  const counts: Record<IocActionKind, number> = { connect: 0, adopt: 0, keep: 0, disconnect: 0, skip: 0 };
  for (const a of actions) counts[a.kind]++;
  return counts;
}
