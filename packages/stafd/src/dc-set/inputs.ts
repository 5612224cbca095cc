/**
 * The pure pieces between stafd's configuration, its observations and the
 * two planners: TIDs of configured DCs (host identity filled in, host-iface
 * erased under ignore-iface), TIDs of mDNS announcements and of referrals,
 * the planner policy, and each DC's connection settings (log entry limit
 * included).
 *
 * Pure: no I/O, no clock, no logging. Functions are total; what cannot be
 * used is returned as a rejection with a sentence, for the daemon to log.
 *
 * Identity decisions: a DC's TID carries the host NQN and host ID it is
 * connected with. A `controller=` line without host-nqn/host-id gets the
 * system's (sys.conf); mDNS DCs get the system's; a referral inherits the
 * referring DC's host fields (and host-traddr/host-iface), as nvme-stas.
 * Unlike nvme-stas (§9 F2) that identity is what the Connect uses.
 *
 * Used by: daemon.ts
 * Tests:   inputs.test.ts
 */
import type { HostIdentity } from '@stas/common/config/host-identity';
import type { ConfiguredController } from '@stas/common/config/controllers-section';
import type { StafdConfig } from '@stas/common/config/stafd-conf';
import type { BrowsedService } from '@stas/common/mdns/dc-browser';
import { dcCandidate } from '@stas/common/mdns/dc-candidate';
import { createTid, isTransport, type Tid } from '@stas/common/nvme/tid';
import { Subtype, trtypeName, type DiscoveryLogEntry } from '@stas/common/nvme/wire/discovery-log';
import { DEFAULT_BACKOFF } from '@stas/common/util/backoff';
import type { DcSettings } from '../dc/runner.js';
import type { DcPolicy as MachinePolicy } from '../dc/machine.js';
import type { DcPolicy } from './plan.js';

/** The host NQN and host ID a TID is completed with. */
export interface HostIds {
  readonly hostnqn: string;
  readonly hostid: string;
}

const DC_MANAGEMENT = 'Discovery controller connection management';

/** stafd's KATO when stafd.conf sets none, seconds (nvme-stas: 30). */
export const DEFAULT_KATO_SEC = 30;
/** Retry of a failed log page read (nvme-stas: 20 s). */
export const READ_RETRY_MS = 20_000;
/** Retry of a failed registration (nvme-stas: 5 s). */
export const REGISTER_RETRY_MS = 5_000;

export interface TuningOptions {
  /** Poll interval with `persistent-connections = false`. */
  readonly pollMs: number;
  readonly maxReferralDepth: number;
}

/** A `controller=` TID completed with the system identity; host-iface erased under ignore-iface. */
export function configuredTid(controller: ConfiguredController, host: HostIds, ignoreIface: boolean): Tid {
  const tid = controller.tid;
  return createTid(
    {
      ...tid,
      hostNqn: tid.hostNqn === '' ? host.hostnqn : tid.hostNqn,
      hostId: tid.hostId === '' ? host.hostid : tid.hostId,
      hostIface: ignoreIface ? '' : tid.hostIface,
    },
    { role: 'discovery' },
  );
}

/** The same TID with another traddr (a resolved host name). */
export function withTraddr(tid: Tid, traddr: string): Tid {
  return createTid({ ...tid, traddr }, { role: 'discovery' });
}

/** Referral entries (SUBTYPE 1) of a log page as TIDs inheriting the referring DC's host fields. */
export function referralTids(entries: readonly DiscoveryLogEntry[], referrer: Tid): Tid[] {
  const tids = new Map<string, Tid>();
  for (const entry of entries) {
    if (entry.subtype !== Subtype.Referral) continue;
    const transport = trtypeName(entry.trtype);
    if (!isTransport(transport) || entry.traddr.trim() === '') continue;
    const tid = createTid(
      {
        transport,
        traddr: entry.traddr.trim(),
        trsvcid: entry.trsvcid.trim(),
        subsysnqn: entry.subnqn.trim(),
        hostTraddr: referrer.hostTraddr,
        hostIface: referrer.hostIface,
        hostNqn: referrer.hostNqn,
        hostId: referrer.hostId,
      },
      { role: 'discovery' },
    );
    if (!tids.has(tid.key)) tids.set(tid.key, tid);
  }
  return [...tids.values()];
}

/** What the referrals of a page are, as one comparable string ('' none; null page: unknown). */
export function referralSignature(entries: readonly DiscoveryLogEntry[] | null): string | null {
  if (entries === null) return null;
  return entries
    .filter((e) => e.subtype === Subtype.Referral)
    .map((e) => [e.trtype, e.traddr.trim(), e.trsvcid.trim(), e.subnqn.trim()].join('\u0000'))
    .join('\u0001');
}

export interface AnnouncedDcs {
  readonly tids: readonly Tid[];
  /** Services that cannot be used, keyed by a stable service identity. */
  readonly rejected: readonly { readonly service: string; readonly detail: string }[];
  readonly warnings: readonly string[];
}

/** Resolved mDNS services → DC TIDs (system identity; host-iface unless ignore-iface). */
export function announcedDcs(
  services: readonly BrowsedService[],
  host: HostIds,
  ignoreIface: boolean,
): AnnouncedDcs {
  const tids = new Map<string, Tid>();
  const rejected: { service: string; detail: string }[] = [];
  const warnings: string[] = [];
  for (const service of services) {
    const result = dcCandidate(service, { ignoreIface, hostNqn: host.hostnqn, hostId: host.hostid });
    if (!result.ok) {
      rejected.push({
        service: `${service.iface}/${service.protocol}/${service.name}`,
        detail: result.detail,
      });
      continue;
    }
    warnings.push(...result.warnings);
    if (!tids.has(result.tid.key)) tids.set(result.tid.key, result.tid);
  }
  return { tids: [...tids.values()], rejected, warnings };
}

/** The DC-set planner's policy from stafd.conf. */
export function planPolicy(conf: StafdConfig, tuning: TuningOptions): DcPolicy {
  return {
    ipFamily: conf.Global['ip-family'],
    persistenceSec: conf[DC_MANAGEMENT]['zeroconf-connections-persistence'],
    maxReferralDepth: tuning.maxReferralDepth,
  };
}

/** The per-DC machine policy from stafd.conf. */
export function machinePolicy(conf: StafdConfig, tuning: TuningOptions): MachinePolicy {
  return {
    persistent: conf[DC_MANAGEMENT]['persistent-connections'],
    register: true,
    openBackoff: DEFAULT_BACKOFF,
    readRetryMs: READ_RETRY_MS,
    registerRetryMs: REGISTER_RETRY_MS,
    pollMs: tuning.pollMs,
  };
}

/** Connection settings of one DC: `[Global]`, overridden by its `controller=` line if it has one. */
export function dcSettings(
  conf: StafdConfig,
  identity: HostIdentity,
  controller: ConfiguredController | null,
  tuning: TuningOptions,
): DcSettings {
  const o = controller?.options ?? {};
  const g = conf.Global;
  const kato = o.kato ?? g.kato ?? DEFAULT_KATO_SEC;
  return {
    symname: identity.symname,
    katoMs: kato * 1000,
    hdgst: o['hdr-digest'] ?? g['hdr-digest'],
    ddgst: o['data-digest'] ?? g['data-digest'],
    pleo: g.pleo,
    maxEntries: conf.Limits['max-log-page-entries'],
    policy: machinePolicy(conf, tuning),
  };
}

/** Same settings (so a reload can tell whether anything changed for a DC). */
export function sameSettings(a: DcSettings, b: DcSettings): boolean {
  return (
    a.symname === b.symname &&
    a.katoMs === b.katoMs &&
    a.hdgst === b.hdgst &&
    a.ddgst === b.ddgst &&
    a.pleo === b.pleo &&
    a.maxEntries === b.maxEntries &&
    a.policy.persistent === b.policy.persistent &&
    a.policy.pollMs === b.policy.pollMs
  );
}
