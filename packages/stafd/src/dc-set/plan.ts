/**
 * Which Discovery Controllers stafd should hold, and why: a pure function from
 * what is configured, announced over mDNS and referred to by other DCs, to one
 * action per DC (add, keep, remove, skip), each with a reason code and a
 * sentence an admin can read.
 *
 * Pure: no I/O, no clock (`now` is an input). Callers (the daemon's runner)
 * observe, call planDcSet, log the decisions and carry them out.
 *
 * Rules, in order of precedence:
 * - A candidate matching an exclusion is skipped; a current DC matching one is
 *   removed (exclusion wins over every source).
 * - Candidates on an address family `ip-family` disables, with a non-IP
 *   address, or on a transport the userspace host cannot serve (only TCP) are
 *   skipped.
 * - Origin precedence when several sources name the same DC: configured, then
 *   referral, then discovered (mDNS) — as nvme-stas.
 * - Unknown is not empty: a configured host name that does not resolve right
 *   now, an mDNS browser that is not running, or a referring DC whose log page
 *   is unknown never removes a DC learnt before (nvme-stas removed a DC on a
 *   transient DNS failure, §9 F13).
 * - A DC learnt through mDNS is kept while it is announced or connected. Once
 *   it is neither, it is "lost": kept for `persistenceSec` (negative: forever),
 *   then removed. The plan reports when a DC becomes lost or recovers, so the
 *   caller can record `lostSince`.
 * - Referrals are followed to `maxReferralDepth` levels, deduplicated by TID, and only from DCs that
 *   stay for a reason of their own (transitively): DCs referring to each other do not keep each
 *   other once the configured or announced DC they were reached from is gone.
 *
 * Output is sorted by TID key so plans diff cleanly. Every TID in
 * candidates ∪ current gets exactly one action.
 *
 * Tests: plan.test.ts
 */
import type { Exclusion } from '@stas/common/config/controllers-section';
import type { IpFamily } from '@stas/common/config/option-types';
import { parseIpAddress } from '@stas/common/net/ip-address';
import type { Tid, TidKey } from '@stas/common/nvme/tid';
import { formatTid, tidMatchesFilter } from '@stas/common/nvme/tid';
import type { Observation } from '@stas/common/util/observation';

/** How stafd learnt about a DC (the D-Bus `origin` value). */
export type DcOrigin = 'configured' | 'referral' | 'discovered';

/** A `controller=` line, with its host name resolved when it had one. */
export interface ConfiguredDc {
  /** The TID to use; null when the configured host name could not be resolved this time. */
  readonly tid: Tid | null;
  /** The address as configured (a host name or an IP literal), to recognise the DC across resolutions. */
  readonly configuredAddress: string;
  readonly line: number;
}

/** The referrals in one current DC's log page (entries of subtype referral, as TIDs inheriting its host fields). */
export interface ReferralsOf {
  readonly referrer: TidKey;
  /** null while the referrer's log page is unknown (never fetched, cache not loaded). */
  readonly tids: readonly Tid[] | null;
}

export interface CurrentDc {
  readonly tid: Tid;
  readonly origin: DcOrigin;
  /** 0 for configured and mDNS DCs, n for a DC found through n referrals. */
  readonly depth: number;
  readonly connected: boolean;
  /** When it was last seen neither announced nor connected (mDNS DCs only); null when not lost. */
  readonly lostSince: number | null;
  /** For configured DCs: the address as written in the `controller=` line. */
  readonly configuredAddress?: string;
  /** For referral DCs: the DC whose log page referred to it. */
  readonly referrer?: TidKey;
}

export interface DcPolicy {
  readonly ipFamily: readonly IpFamily[];
  /** `zeroconf-connections-persistence` in seconds; negative = keep lost mDNS DCs forever. */
  readonly persistenceSec: number;
  readonly maxReferralDepth: number;
}

export interface DcSetInput {
  readonly configured: readonly ConfiguredDc[];
  /** DCs currently announced over mDNS (with host-iface set where they were seen). */
  readonly announced: Observation<readonly Tid[]>;
  readonly referrals: readonly ReferralsOf[];
  readonly current: readonly CurrentDc[];
  readonly exclusions: readonly Exclusion[];
  readonly policy: DcPolicy;
  readonly now: number;
}

export type DcAddReason = 'configured' | 'announced' | 'referred';
export type DcKeepReason =
  | 'configured'
  | 'announced'
  | 'referred'
  | 'connected'
  | 'lost-waiting'
  | 'lost-forever'
  | 'name-unresolved'
  | 'mdns-unknown'
  | 'referrer-log-unknown';
export type DcRemoveReason =
  'excluded' | 'unconfigured' | 'lost-expired' | 'referral-withdrawn' | 'not-usable';
export type DcSkipReason =
  'excluded' | 'ip-family' | 'not-an-ip' | 'unsupported-transport' | 'referral-too-deep';

interface ActionBase {
  readonly tid: Tid;
  readonly key: TidKey;
  /** One sentence for logs and `stafctl explain`-style output. */
  readonly detail: string;
}

export type DcAction =
  | (ActionBase & {
      readonly kind: 'add';
      readonly origin: DcOrigin;
      readonly depth: number;
      readonly reason: DcAddReason;
      readonly referrer?: TidKey;
      readonly configuredAddress?: string;
    })
  | (ActionBase & {
      readonly kind: 'keep';
      readonly origin: DcOrigin;
      readonly depth: number;
      readonly reason: DcKeepReason;
      /** State change for mDNS loss tracking: set `lostSince` to a time, clear it (null), or leave it (undefined). */
      readonly lostSince?: number | null;
      readonly referrer?: TidKey;
      readonly configuredAddress?: string;
    })
  | (ActionBase & { readonly kind: 'remove'; readonly reason: DcRemoveReason })
  | (ActionBase & { readonly kind: 'skip'; readonly origin: DcOrigin; readonly reason: DcSkipReason });

interface Candidate {
  readonly tid: Tid;
  readonly origin: DcOrigin;
  readonly depth: number;
  readonly referrer?: TidKey;
  readonly configuredAddress?: string;
}

const ORIGIN_RANK: Readonly<Record<DcOrigin, number>> = { configured: 0, referral: 1, discovered: 2 };
const ADD_REASON: Readonly<Record<DcOrigin, DcAddReason>> = {
  configured: 'configured',
  referral: 'referred',
  discovered: 'announced',
};

export function planDcSet(input: DcSetInput): DcAction[] {
  const actions = new Map<TidKey, DcAction>();
  const current = new Map(input.current.map((dc) => [dc.tid.key, dc]));

  // 1. Gather candidates, best origin first, and drop the unusable ones.
  const candidates = new Map<TidKey, Candidate>();
  const offer = (c: Candidate): void => {
    const key = c.tid.key;
    const skip = unusable(c, input);
    if (skip !== null) {
      if (!actions.has(key) && !candidates.has(key)) actions.set(key, skip);
      return;
    }
    const known = candidates.get(key);
    const better =
      known === undefined ||
      ORIGIN_RANK[c.origin] < ORIGIN_RANK[known.origin] ||
      (c.origin === known.origin && c.depth < known.depth);
    if (better) {
      candidates.set(key, c);
      if (actions.get(key)?.kind === 'skip') actions.delete(key);
    }
  };
  for (const c of input.configured) {
    if (c.tid !== null)
      offer({ tid: c.tid, origin: 'configured', depth: 0, configuredAddress: c.configuredAddress });
  }
  if (input.announced.ok) {
    for (const tid of input.announced.value) offer({ tid, origin: 'discovered', depth: 0 });
  }
  // Referrals are followed from the DCs that stay for a reason of their own (configured, announced,
  // or kept by the orphan rules), then transitively, breadth first (so the shortest path wins). DCs
  // that refer to each other (a CDC and its DDCs, a DC listing itself) must not keep one another alive
  // once the DC they were reached from is gone.
  const referralsOf = new Map(input.referrals.map((r) => [r.referrer, r.tids]));
  const queue: TidKey[] = [...candidates.keys()];
  for (const [key, dc] of current) {
    if (!candidates.has(key) && planOrphan(dc, input).kind === 'keep') queue.push(key);
  }
  const visited = new Set<TidKey>();
  for (let i = 0; i < queue.length; i++) {
    const referrer = queue[i];
    if (referrer === undefined || visited.has(referrer)) continue;
    visited.add(referrer);
    const tids = referralsOf.get(referrer);
    const depth = candidates.get(referrer)?.depth ?? current.get(referrer)?.depth;
    if (tids === undefined || tids === null || depth === undefined || !current.has(referrer)) continue;
    for (const tid of tids) {
      offer({ tid, origin: 'referral', depth: depth + 1, referrer });
      const accepted = candidates.get(tid.key);
      if (accepted?.origin === 'referral' && accepted.referrer === referrer) queue.push(tid.key);
    }
  }

  // 2. Every candidate: add it, or keep the current DC (with its best origin now).
  for (const [key, c] of candidates) {
    const dc = current.get(key);
    if (dc === undefined) {
      actions.set(key, {
        kind: 'add',
        tid: c.tid,
        key,
        origin: c.origin,
        depth: c.depth,
        reason: ADD_REASON[c.origin],
        detail: `${describeOrigin(c)}; connecting`,
        ...(c.referrer === undefined ? {} : { referrer: c.referrer }),
        ...(c.configuredAddress === undefined ? {} : { configuredAddress: c.configuredAddress }),
      });
      continue;
    }
    actions.set(key, {
      kind: 'keep',
      tid: dc.tid,
      key,
      origin: c.origin,
      depth: c.depth,
      reason: ADD_REASON[c.origin],
      detail: describeOrigin(c),
      ...(dc.lostSince === null ? {} : { lostSince: null }),
      ...(c.referrer === undefined ? {} : { referrer: c.referrer }),
      ...(c.configuredAddress === undefined ? {} : { configuredAddress: c.configuredAddress }),
    });
  }

  // 3. Current DCs no source names any more (or that became unusable).
  for (const [key, dc] of current) {
    if (candidates.has(key)) continue;
    actions.set(key, planOrphan(dc, input));
  }

  return [...actions.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A current DC that no source offers as a usable candidate right now. */
function planOrphan(dc: CurrentDc, input: DcSetInput): DcAction {
  const base = { tid: dc.tid, key: dc.tid.key };
  const keep = (
    reason: DcKeepReason,
    detail: string,
    extra: { lostSince?: number | null } = {},
  ): DcAction => ({
    kind: 'keep',
    ...base,
    origin: dc.origin,
    depth: dc.depth,
    reason,
    detail,
    ...extra,
    ...(dc.referrer === undefined ? {} : { referrer: dc.referrer }),
    ...(dc.configuredAddress === undefined ? {} : { configuredAddress: dc.configuredAddress }),
  });
  const remove = (reason: DcRemoveReason, detail: string): DcAction => ({
    kind: 'remove',
    ...base,
    reason,
    detail,
  });

  const exclusion = input.exclusions.find((e) => tidMatchesFilter(dc.tid, e.filter));
  if (exclusion !== undefined) return remove('excluded', `matches the exclude= on line ${exclusion.line}`);
  const skip = unusable({ tid: dc.tid, origin: dc.origin, depth: dc.depth }, input);
  if (skip !== null && skip.kind === 'skip') return remove('not-usable', skip.detail);

  switch (dc.origin) {
    case 'configured': {
      const unresolved = input.configured.find(
        (c) => c.tid === null && c.configuredAddress === dc.configuredAddress,
      );
      if (unresolved !== undefined) {
        return keep(
          'name-unresolved',
          `"${unresolved.configuredAddress}" (line ${unresolved.line}) does not resolve right now; keeping the DC`,
        );
      }
      return remove('unconfigured', 'no controller= line names it any more');
    }
    case 'referral': {
      const source = input.referrals.find((r) => r.referrer === dc.referrer);
      const referrerAlive = input.current.some((c) => c.tid.key === dc.referrer);
      if (referrerAlive && source !== undefined && source.tids === null) {
        return keep('referrer-log-unknown', "the referring DC's log page is not known yet; keeping the DC");
      }
      return remove('referral-withdrawn', 'no current DC refers to it any more');
    }
    case 'discovered':
      return planLostMdns(dc, input, keep, remove);
  }
}

function planLostMdns(
  dc: CurrentDc,
  input: DcSetInput,
  keep: (reason: DcKeepReason, detail: string, extra?: { lostSince?: number | null }) => DcAction,
  remove: (reason: DcRemoveReason, detail: string) => DcAction,
): DcAction {
  if (!input.announced.ok) {
    return keep('mdns-unknown', `mDNS browsing is not available (${input.announced.reason}); keeping the DC`);
  }
  if (dc.connected) {
    return keep(
      'connected',
      'no longer announced over mDNS, but still connected',
      dc.lostSince === null ? {} : { lostSince: null },
    );
  }
  const persistence = input.policy.persistenceSec;
  if (persistence < 0) {
    return keep(
      'lost-forever',
      'neither announced nor connected; kept forever (zeroconf-connections-persistence < 0)',
    );
  }
  const since = dc.lostSince ?? input.now;
  const deadline = since + persistence * 1000;
  if (input.now >= deadline) {
    return remove(
      'lost-expired',
      `neither announced nor connected for ${persistence} s (zeroconf-connections-persistence)`,
    );
  }
  const remaining = Math.ceil((deadline - input.now) / 1000);
  return keep(
    'lost-waiting',
    `neither announced nor connected; removed in ${remaining} s unless it comes back`,
    dc.lostSince === null ? { lostSince: input.now } : {},
  );
}

/** A skip action when the candidate must not be used, else null. */
function unusable(c: Candidate, input: DcSetInput): DcAction | null {
  const skip = (reason: DcSkipReason, detail: string): DcAction => ({
    kind: 'skip',
    tid: c.tid,
    key: c.tid.key,
    origin: c.origin,
    reason,
    detail,
  });
  const exclusion = input.exclusions.find((e) => tidMatchesFilter(c.tid, e.filter));
  if (exclusion !== undefined) return skip('excluded', `matches the exclude= on line ${exclusion.line}`);
  if (c.tid.transport !== 'tcp') {
    return skip(
      'unsupported-transport',
      `stafd talks to discovery controllers over tcp only, not ${c.tid.transport}`,
    );
  }
  const ip = parseIpAddress(c.tid.traddr);
  if (ip === null) return skip('not-an-ip', `"${c.tid.traddr}" is not an IP address`);
  if (!input.policy.ipFamily.includes(ip.family)) {
    return skip('ip-family', `IPv${ip.family} is disabled by ip-family`);
  }
  if (c.origin === 'referral' && c.depth > input.policy.maxReferralDepth) {
    return skip(
      'referral-too-deep',
      `more than ${input.policy.maxReferralDepth} referrals away from a known DC`,
    );
  }
  return null;
}

function describeOrigin(c: Candidate): string {
  switch (c.origin) {
    case 'configured':
      return 'named by a controller= line';
    case 'referral':
      return `referred to by ${c.referrer ?? 'another DC'} (depth ${c.depth})`;
    case 'discovered':
      return c.tid.hostIface === '' ? 'announced over mDNS' : `announced over mDNS on ${c.tid.hostIface}`;
  }
}

/** "(tcp, 10.0.0.1, 8009, …) add: named by a controller= line" — one log line per decision. */
export function formatDcAction(action: DcAction): string {
  return `${formatTid(action.tid)} ${action.kind} (${action.reason}): ${action.detail}`;
}
