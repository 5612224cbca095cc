/**
 * A reference planner for tests: the rules of plan.ts written the straightforward way (every kernel
 * controller scanned per desired TID, TIDs rebuilt where needed, objects spread, a final sort), as
 * planIocs was before its allocation and indexing work. plan.reference.prop.test.ts checks that
 * planIocs gives deep-equal plans on random inputs; a behaviour change must be made in both.
 *
 * Pure; test support only (not used by the daemon). Tests: plan.reference.prop.test.ts
 */
import type { ConnectOptions } from '@stas/common/config/connect-options';
import { controllerMatchesTid, tidOfController } from '@stas/common/kernel/controller-match';
import type { InterfaceAddresses } from '@stas/common/kernel/net-interfaces';
import type { NvmeController } from '@stas/common/kernel/sysfs-parse';
import { isDiscoveryController, isFabricsController, isIoController } from '@stas/common/kernel/sysfs-parse';
import type { IpFamily } from '@stas/common/net/ip-address';
import { isUnspecified, parseIpAddress } from '@stas/common/net/ip-address';
import type { Tid, TidKey } from '@stas/common/nvme/tid';
import { createTid, formatTid, isTransport, tidMatchesFilter } from '@stas/common/nvme/tid';
import type { Secret } from '@stas/common/util/secret';
import type {
  DisconnectReason,
  DiscoveredEntry,
  DiscoveredPage,
  IocAction,
  IocOrigin,
  IocPolicy,
  KeepReason,
  KernelController,
  PlanInput,
  SkipReason,
} from './plan.js';
import { NBFT, STAS } from './plan.js';

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

function assign(
  candidates: readonly Candidate[],
  kernel: readonly KernelController[],
  ifaces: InterfaceAddresses,
): Map<Candidate, KernelController> {
  const assigned = new Map<Candidate, KernelController>();
  const used = new Set<KernelController>();
  const io = kernel.filter((k) => isFabricsController(k.controller) && isIoController(k.controller));
  for (const c of candidates) {
    const exact = io.find((k) => !used.has(k) && tidOfController(k.controller)?.key === c.tid.key);
    if (exact !== undefined) {
      assigned.set(c, exact);
      used.add(exact);
    }
  }
  for (const c of candidates) {
    if (assigned.has(c)) continue;
    const matches = io
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
  readonly skipped: readonly SkippedCandidate[];
  readonly candidates: readonly Candidate[];
  readonly unresolved: readonly Tid[];
  readonly unknownPage: DiscoveredPage | undefined;
}

function undesiredAction(k: KernelController, key: string, u: Undesired, input: PlanInput): IocAction {
  const c = k.controller;
  const tid = tidOfController(c);
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
  const twin = u.candidates.find(matches);
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
  const excludedTwin = u.skipped.filter((s) => s.reason === 'excluded').find(matches);
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
  const filtered = u.skipped.filter((s) => s.reason === 'ip-family').find(matches);
  if (filtered !== undefined)
    return disconnect(
      'ip-family',
      `${device} uses an address family ip-family (${ipFamilyText(input.policy)}) disables: disconnecting`,
    );
  return disconnect('not-discovered', `${device} is in no log page and no controller= line: disconnecting`);
}

/** The plan: see plan.ts. */
export function referencePlan(input: PlanInput): IocAction[] {
  const candidates = new Map<TidKey, Candidate>();
  const skipped = new Map<string, SkippedCandidate>();
  const unresolved: Tid[] = [];
  gatherConfigured(input, candidates, skipped, unresolved);
  if (input.discovered.ok) gatherDiscovered(input, input.discovered.value, candidates, skipped);
  for (const key of candidates.keys()) skipped.delete(key);

  const ordered = [...candidates.values()].sort((a, b) =>
    a.tid.key < b.tid.key ? -1 : a.tid.key > b.tid.key ? 1 : 0,
  );
  const assigned = assign(ordered, input.kernel, input.ifaces);

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
  const undesired: Undesired = {
    skipped: [...skipped.values()],
    candidates: ordered,
    unresolved,
    unknownPage: input.discovered.ok ? input.discovered.value.find((p) => p.state === 'unknown') : undefined,
  };
  for (const k of input.kernel) {
    if (used.has(k)) continue;
    const own = tidOfController(k.controller);
    let key = own === undefined ? kernelKey(k.controller) : (own.key as string);
    const clash = actions.get(key);
    if (clash !== undefined && clash.kind !== 'skip') key = `${key}@${k.controller.device}`;
    actions.set(key, undesiredAction(k, key, undesired, input));
  }
  return [...actions.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
