/**
 * Builders of planner inputs for tests: kernel controllers as sysfs-parse.ts
 * would read them, stafd log pages, configured controllers and a default
 * policy. Also `applyPlan`, which plays a plan against those inputs the way
 * the executor and the kernel would (for the "re-planning yields only keeps"
 * property).
 *
 * Pure; test support only (not used by the daemon).
 * Used by: plan.test.ts, plan.matrix.test.ts, plan.prop.test.ts, daemon tests.
 */
import type { ControllerAttribute } from '@stas/common/kernel/sysfs-parse';
import { parseController } from '@stas/common/kernel/sysfs-parse';
import type { InterfaceAddresses } from '@stas/common/kernel/net-interfaces';
import { interfacesFromNode } from '@stas/common/kernel/net-interfaces';
import type { Tid } from '@stas/common/nvme/tid';
import { createTid } from '@stas/common/nvme/tid';
import { observed } from '@stas/common/util/observation';
import type {
  ConfiguredIoc,
  DiscoveredEntry,
  DiscoveredPage,
  HostIds,
  IocAction,
  IocPolicy,
  KernelController,
  PageState,
  PlanInput,
} from './plan.js';
import { STAS } from './plan.js';

export const HOST: HostIds = {
  hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:ab493302-0738-4961-9973-2c6bc2c93697',
  hostid: '99b2aca3-bd1c-49ac-9884-a8c3eaccc265',
};

export const IFACES: InterfaceAddresses = interfacesFromNode({
  lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '', internal: true, cidr: null }],
  eth0: [
    { address: '10.0.0.100', netmask: '255.255.255.0', family: 'IPv4', mac: '', internal: false, cidr: null },
  ],
  eth1: [
    { address: '10.1.0.100', netmask: '255.255.255.0', family: 'IPv4', mac: '', internal: false, cidr: null },
  ],
});

export const DEFAULT_POLICY: IocPolicy = {
  disconnectScope: 'only-stas-connections',
  disconnectTrtypes: ['tcp'],
  ipFamily: [4, 6],
  ignoreIface: false,
  connectAttemptsOnNcc: 0,
  options: {},
};

export interface KernelSpec {
  readonly instance: number;
  readonly transport?: string;
  readonly traddr?: string;
  readonly trsvcid?: string;
  readonly subsysnqn: string;
  readonly hostTraddr?: string;
  readonly hostIface?: string;
  readonly srcAddr?: string;
  readonly cntrltype?: string;
  readonly hostnqn?: string;
  readonly hostid?: string;
  readonly state?: string;
  readonly owner?: string;
  readonly boot?: boolean;
}

/** A kernel controller as sysfs-parse.ts reads it, plus its registry owner. */
export function kernelController(spec: KernelSpec): KernelController {
  const address = [`traddr=${spec.traddr ?? '10.0.0.1'}`, `trsvcid=${spec.trsvcid ?? '4420'}`];
  if (spec.hostTraddr !== undefined) address.push(`host_traddr=${spec.hostTraddr}`);
  if (spec.hostIface !== undefined) address.push(`host_iface=${spec.hostIface}`);
  if (spec.srcAddr !== undefined) address.push(`src_addr=${spec.srcAddr}`);
  const attrs: Partial<Record<ControllerAttribute, string>> = {
    transport: `${spec.transport ?? 'tcp'}\n`,
    address: `${address.join(',')}\n`,
    subsysnqn: `${spec.subsysnqn}\n`,
    state: `${spec.state ?? 'live'}\n`,
    cntrltype: `${spec.cntrltype ?? 'io'}\n`,
    hostnqn: `${spec.hostnqn ?? HOST.hostnqn}\n`,
    hostid: `${spec.hostid ?? HOST.hostid}\n`,
  };
  if (spec.transport === 'pcie') {
    delete attrs.address;
    delete attrs.hostnqn;
    delete attrs.hostid;
  }
  const controller = parseController({ name: `nvme${spec.instance}`, attrs, entries: [] });
  if (controller === undefined) throw new Error(`bad instance ${spec.instance}`);
  return { controller, owner: spec.owner, boot: spec.boot ?? false };
}

/** The controller the kernel would create for `tid` (as instance `instance`), owned by `owner` (null: unowned). */
export function controllerFor(tid: Tid, instance: number, owner: string | null = STAS): KernelController {
  return kernelController({
    instance,
    transport: tid.transport,
    traddr: tid.traddr,
    trsvcid: tid.trsvcid === '' ? 'none' : tid.trsvcid,
    subsysnqn: tid.subsysnqn,
    ...(tid.hostTraddr === '' ? {} : { hostTraddr: tid.hostTraddr }),
    ...(tid.hostIface === '' ? {} : { hostIface: tid.hostIface }),
    hostnqn: tid.hostNqn,
    hostid: tid.hostId,
    ...(owner === null ? {} : { owner }),
  });
}

export function entry(traddr: string, subnqn: string, more: Partial<DiscoveredEntry> = {}): DiscoveredEntry {
  return { subtype: 'nvme', trtype: 'tcp', traddr, trsvcid: '4420', subnqn, eflags: 0, treq: 0, ...more };
}

export function page(
  entries: readonly DiscoveredEntry[],
  more: Partial<Omit<DiscoveredPage, 'entries'>> & { state?: PageState } = {},
): DiscoveredPage {
  return {
    dc: '(tcp, 10.0.0.1, 8009, nqn.2014-08.org.nvmexpress.discovery)',
    transport: 'tcp',
    hostTraddr: '',
    hostIface: '',
    hostNqn: '',
    hostId: '',
    state: 'fresh',
    entries,
    ...more,
  };
}

export function ioTid(traddr: string, subsysnqn: string, more: Partial<Omit<Tid, 'key'>> = {}): Tid {
  return createTid(
    { transport: 'tcp', traddr, subsysnqn, hostNqn: HOST.hostnqn, hostId: HOST.hostid, ...more },
    { role: 'io' },
  );
}

export function configured(tid: Tid, line = 1, more: Partial<ConfiguredIoc> = {}): ConfiguredIoc {
  return {
    tid,
    resolved: tid,
    options: {},
    dhchapSecret: null,
    dhchapCtrlSecret: null,
    line,
    ...more,
  };
}

export function planInput(more: Partial<PlanInput> = {}): PlanInput {
  return {
    configured: [],
    discovered: observed([]),
    kernel: [],
    exclusions: [],
    hostExclusions: [],
    policy: DEFAULT_POLICY,
    attempts: new Map(),
    identity: HOST,
    ifaces: IFACES,
    ...more,
  };
}

/** The action for a desired TID or a kernel device. */
export function actionFor(actions: readonly IocAction[], what: Tid | string): IocAction | undefined {
  if (typeof what === 'string') return actions.find((a) => 'device' in a && a.device === what);
  return actions.find((a) => a.key === what.key);
}

/** `kind:reason` of the action for a TID or device, or 'none'. */
export function decision(actions: readonly IocAction[], what: Tid | string): string {
  const a = actionFor(actions, what);
  return a === undefined ? 'none' : `${a.kind}:${a.reason}`;
}

/**
 * Plays `actions` against `input` as the executor and the kernel would: a
 * connect creates a controller owned by stas (next free instance), an adopt
 * claims, a disconnect removes the controller. Keeps and skips change nothing.
 */
export function applyPlan(input: PlanInput, actions: readonly IocAction[]): PlanInput {
  let kernel = [...input.kernel];
  let next = Math.max(-1, ...kernel.map((k) => k.controller.instance)) + 1;
  for (const a of actions) {
    switch (a.kind) {
      case 'connect':
        kernel.push(controllerFor(a.tid, next++));
        break;
      case 'adopt':
        kernel = kernel.map((k) => (k.controller.device === a.device ? { ...k, owner: STAS } : k));
        break;
      case 'disconnect':
        kernel = kernel.filter((k) => k.controller.device !== a.device);
        break;
      case 'keep':
      case 'skip':
        break;
    }
  }
  return { ...input, kernel };
}
