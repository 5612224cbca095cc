/**
 * Test-only helpers for the session tests that run against the DC simulator: a host identity, log
 * entries, and a leak check (sockets and timers before/after, unhandled rejections).
 *
 * Never imported by daemon code.
 *
 * Used by: discovery-session.test.ts, discovery-session.faults.test.ts, discover.test.ts
 */
import { nvmeEntry } from '../../testing/dc-sim/dc-sim-entries.js';
import type { DcSimulator } from '../../testing/dc-sim/dc-simulator.js';
import type { DiscoveryLogEntry } from '../wire/discovery-log.js';
import type { DiscoverySessionOptions } from './discovery-session.js';

export const HOSTID = '3da64a01-16c5-4e10-ac46-397e2372b964';
export const HOSTNQN = `nqn.2014-08.org.nvmexpress:uuid:${HOSTID}`;

export function entries(n: number, base = 0): DiscoveryLogEntry[] {
  return Array.from({ length: n }, (_, i) =>
    nvmeEntry({
      traddr: `10.${Math.floor((base + i) / 250)}.0.${((base + i) % 250) + 1}`,
      subnqn: `nqn.2014-08.org.example:subsys-${base + i}`,
      trsvcid: '4420',
    }),
  );
}

export function sessionOptions(
  sim: DcSimulator,
  extra: Partial<DiscoverySessionOptions> = {},
): DiscoverySessionOptions {
  return { traddr: sim.host, trsvcid: sim.port, hostnqn: HOSTNQN, hostid: HOSTID, ...extra };
}

/** Handles that would keep the process alive or leak (sockets, timers), as a sorted list. */
export function handles(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter(
      (r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'Timeout' || r === 'TCPConnectWrap',
    )
    .sort();
}

/** Handles in `after` that `before` did not have (by type and count): what a scenario leaked. */
export function leaked(before: readonly string[], after: readonly string[]): string[] {
  const left = [...before];
  const extra: string[] = [];
  for (const h of after) {
    const i = left.indexOf(h);
    if (i === -1) extra.push(h);
    else left.splice(i, 1);
  }
  return extra;
}

/** Collect unhandled rejections while `fn` runs (and one macrotask after). */
export async function withoutUnhandledRejections(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', onRejection);
  try {
    await fn();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', onRejection);
  }
  return seen;
}

/** Wait until the simulator has released every connection (its sockets and KATO timers). */
export async function simIdle(sim: DcSimulator): Promise<void> {
  await sim.waitUntil(() => sim.connections.length === 0, { timeoutMs: 3000 });
}
