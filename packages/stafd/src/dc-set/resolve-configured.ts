/**
 * Configured DCs as the DC-set planner takes them: a `controller=` line whose
 * traddr is a host name is resolved (system resolver, with a deadline) to one
 * address of an enabled family, the first IPv4 one when IPv4 is enabled, else
 * the first IPv6 one (nvme-stas §5.5). A name that does not resolve right now
 * yields `tid: null`, which the planner reads as "unknown, keep the DC"
 * (fix F13), never as "removed".
 *
 * I/O: the injected `lookup` only (default: dns.promises.lookup). Never
 * throws; resolution failures are returned as problems for the caller to log.
 *
 * Used by: daemon.ts
 * Tests:   resolve-configured.test.ts
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { describeError } from '@stas/common/errors';
import type { IpFamily } from '@stas/common/config/option-types';
import { parseIpAddress } from '@stas/common/net/ip-address';
import type { Tid } from '@stas/common/nvme/tid';
import type { ConfiguredDc } from './plan.js';
import { withTraddr } from './inputs.js';

export interface LookupAddress {
  readonly address: string;
  /** 4 or 6. */
  readonly family: number;
}

/** Every address of a host name; rejects when it has none. */
export type Lookup = (hostname: string) => Promise<readonly LookupAddress[]>;

export const systemLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export interface ConfiguredInput {
  /** TID as configured (traddr may be a host name), identity already completed. */
  readonly tid: Tid;
  readonly line: number;
}

export interface ResolveOptions {
  readonly lookup: Lookup;
  readonly timeoutMs: number;
  readonly ipFamily: readonly IpFamily[];
  readonly signal?: AbortSignal;
}

export interface ResolveProblem {
  readonly line: number;
  readonly name: string;
  readonly message: string;
}

export interface ResolvedConfigured {
  readonly configured: ConfiguredDc[];
  readonly problems: ResolveProblem[];
}

function withDeadline<T>(work: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      finish();
      reject(new Error(`${what}: cancelled`));
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`${what}: no answer within ${ms} ms`));
    }, ms);
    const finish = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    if (signal?.aborted === true) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        finish();
        resolve(value);
      },
      (err: unknown) => {
        finish();
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** Pick the address to use: the first of the first enabled family, in ip-family's order of preference. */
export function pickAddress(
  addresses: readonly LookupAddress[],
  ipFamily: readonly IpFamily[],
): string | null {
  const ordered = ipFamily.includes(4) ? [4, 6] : [6];
  for (const family of ordered) {
    if (!ipFamily.includes(family as IpFamily)) continue;
    const hit = addresses.find((a) => a.family === family);
    if (hit !== undefined) return hit.address;
  }
  return null;
}

export async function resolveConfigured(
  inputs: readonly ConfiguredInput[],
  options: ResolveOptions,
): Promise<ResolvedConfigured> {
  const problems: ResolveProblem[] = [];
  const configured = await Promise.all(
    inputs.map(async ({ tid, line }): Promise<ConfiguredDc> => {
      const configuredAddress = tid.traddr;
      const ipTransport = tid.transport === 'tcp' || tid.transport === 'rdma';
      if (!ipTransport || parseIpAddress(tid.traddr) !== null) return { tid, configuredAddress, line };
      try {
        const addresses = await withDeadline(
          options.lookup(tid.traddr),
          options.timeoutMs,
          `resolving ${tid.traddr}`,
          options.signal,
        );
        const address = pickAddress(addresses, options.ipFamily);
        if (address === null) {
          problems.push({
            line,
            name: tid.traddr,
            message: `"${tid.traddr}" has no address of an enabled family (ip-family)`,
          });
          return { tid: null, configuredAddress, line };
        }
        return { tid: withTraddr(tid, address), configuredAddress, line };
      } catch (err) {
        problems.push({
          line,
          name: tid.traddr,
          message: `cannot resolve "${tid.traddr}": ${describeError(err)}`,
        });
        return { tid: null, configuredAddress, line };
      }
    }),
  );
  return { configured, problems };
}
