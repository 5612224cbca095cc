/**
 * One look at the world for one planning round: the kernel's controllers
 * (one sysfs snapshot), their registry owners, the host exclusion list,
 * stafd's log pages, the network interfaces, and the configured controllers
 * with their host names resolved.
 *
 * I/O edge: reads sysfs, /run/nvme/registry, /etc/nvme/exclusions.conf(.d),
 * calls stafd over D-Bus (stafd-client.ts) and the resolver. Failure
 * contract:
 * - stafd not answering is an Observation `ok: false` (never `[]`);
 * - a host name that does not resolve in time is `resolved: null` (the
 *   planner keeps what it might name); a resolver error likewise;
 * - the exclusion list fails open (exclusions.ts) and reports diagnostics;
 * - an unreadable sysfs or registry REJECTS (StasError): without them no
 *   decision is safe (an unreadable registry would make other orchestrators'
 *   controllers look unowned and adoptable). The daemon retries the round.
 *
 * Used by: daemon.ts. Tests: observe.test.ts
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { ConfiguredController } from '@stas/common/config/controllers-section';
import type { IpFamily } from '@stas/common/config/option-types';
import { StasError, describeError } from '@stas/common/errors';
import type { ExclusionLists } from '@stas/common/kernel/exclusions';
import { readExclusionLists } from '@stas/common/kernel/exclusions';
import type { InterfaceAddresses } from '@stas/common/kernel/net-interfaces';
import { readInterfaces } from '@stas/common/kernel/net-interfaces';
import type { RegistryLocations } from '@stas/common/kernel/registry';
import { listRegistry } from '@stas/common/kernel/registry';
import type { SysfsSnapshot } from '@stas/common/kernel/sysfs';
import { readSysfsSnapshot } from '@stas/common/kernel/sysfs';
import { parseIpAddress } from '@stas/common/net/ip-address';
import { createTid } from '@stas/common/nvme/tid';
import type { Observation } from '@stas/common/util/observation';
import type { ConfiguredIoc, DiscoveredPage, KernelController } from './plan.js';
import type { StafdPages } from './stafd-client.js';

/** Resolves a host name to its addresses (dns.lookup with all: true). */
export type NameResolver = (host: string) => Promise<readonly { address: string; family: number }[]>;

export const DEFAULT_RESOLVE_TIMEOUT_MS = 2000;

export interface ObserveSources {
  /** sysfs mount and /run (registry). */
  readonly registry: RegistryLocations;
  /** /etc/nvme (exclusions.conf). */
  readonly etcNvme: string;
  /** stafd's pages (fetchStafdPages bound to the current bus connection). */
  readonly stafd: () => Promise<StafdPages>;
  readonly resolve?: NameResolver;
  readonly resolveTimeoutMs?: number;
  readonly interfaces?: () => InterfaceAddresses;
  /** Devices listed in the NBFT (boot from SAN); default none known. */
  readonly bootDevices?: () => Promise<ReadonlySet<string>>;
}

export interface Observed {
  readonly snapshot: SysfsSnapshot;
  readonly kernel: readonly KernelController[];
  readonly exclusions: ExclusionLists;
  readonly discovered: Observation<readonly DiscoveredPage[]>;
  /** Parts of stafd's answer that could not be read. */
  readonly stafdProblems: readonly string[];
  readonly ifaces: InterfaceAddresses;
  readonly configured: readonly ConfiguredIoc[];
  /** Configured host names that did not resolve, with why. */
  readonly unresolved: readonly string[];
}

const systemResolver: NameResolver = (host) => dnsLookup(host, { all: true, verbatim: true });

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new StasError('STACD_RESOLVE_TIMEOUT', `${what}: no answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}

/**
 * The configured controllers with host names resolved: the first address of
 * the most preferred enabled family (ip-family order), else the first
 * address (the planner then skips it for its family); null when the name does
 * not resolve.
 */
export async function resolveConfigured(
  controllers: readonly ConfiguredController[],
  ipFamily: readonly IpFamily[],
  resolve: NameResolver,
  timeoutMs: number,
): Promise<{ configured: ConfiguredIoc[]; unresolved: string[] }> {
  const unresolved: string[] = [];
  const configured = await Promise.all(
    controllers.map(async (c): Promise<ConfiguredIoc> => {
      const base = {
        tid: c.tid,
        options: c.options,
        dhchapSecret: c.dhchapSecret,
        dhchapCtrlSecret: c.dhchapCtrlSecret,
        line: c.line,
      };
      const ip = c.tid.transport === 'tcp' || c.tid.transport === 'rdma';
      if (!ip || parseIpAddress(c.tid.traddr) !== null) return { ...base, resolved: c.tid };
      try {
        const found = await withTimeout(resolve(c.tid.traddr), timeoutMs, `resolving ${c.tid.traddr}`);
        const addresses = found
          .map((a) => parseIpAddress(a.address))
          .filter((a): a is NonNullable<typeof a> => a !== null);
        const preferred =
          ipFamily.map((f) => addresses.find((a) => a.family === f)).find((a) => a !== undefined) ??
          addresses[0];
        if (preferred === undefined) {
          unresolved.push(`${c.tid.traddr} (line ${c.line}): no address`);
          return { ...base, resolved: null };
        }
        return { ...base, resolved: createTid({ ...c.tid, traddr: preferred.text }, { role: 'io' }) };
      } catch (err) {
        unresolved.push(`${c.tid.traddr} (line ${c.line}): ${describeError(err)}`);
        return { ...base, resolved: null };
      }
    }),
  );
  return { configured, unresolved };
}

export interface ObserveInput {
  readonly controllers: readonly ConfiguredController[];
  readonly ipFamily: readonly IpFamily[];
}

export async function observe(input: ObserveInput, sources: ObserveSources): Promise<Observed> {
  const [snapshot, registry, exclusions, stafd, boot, names] = await Promise.all([
    readSysfsSnapshot(sources.registry.sys),
    listRegistry(sources.registry).catch((err: unknown) => {
      throw new StasError(
        'STACD_REGISTRY_UNREADABLE',
        `cannot read the controller registry: ${describeError(err)}`,
        { cause: err },
      );
    }),
    readExclusionLists(sources.etcNvme),
    sources.stafd(),
    sources.bootDevices?.() ?? Promise.resolve(new Set<string>()),
    resolveConfigured(
      input.controllers,
      input.ipFamily,
      sources.resolve ?? systemResolver,
      sources.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS,
    ),
  ]);
  const owners = new Map(registry.map((e) => [e.device, e.owner]));
  const kernel = snapshot.controllers.map((controller) => ({
    controller,
    owner: owners.get(controller.device),
    boot: boot.has(controller.device),
  }));
  return {
    snapshot,
    kernel,
    exclusions,
    discovered: stafd.discovered,
    stafdProblems: stafd.problems,
    ifaces: (sources.interfaces ?? readInterfaces)(),
    configured: names.configured,
    unresolved: names.unresolved,
  };
}
