// Every combination of disconnect-scope × disconnect-trtypes × NCC × exclusions × ip-family × stafd state,
// with the decision asserted for four controllers:
//   E1  an IPv6 entry listed by the DC, not connected (NCC flag per the NCC axis)
//   E2  an IPv6 entry listed by the DC and connected by stas (nvme1)
//   K   a stas-owned IPv4 controller that nothing lists any more (nvme0)
//   U   an unowned IPv4 controller that nothing lists (nvme2)
// The expectations are the rules of plan.ts written out as a decision table.
import { describe, expect, it } from 'vitest';
import type { Exclusion } from '@stas/common/config/controllers-section';
import type { Observation } from '@stas/common/util/observation';
import { observed, unknown } from '@stas/common/util/observation';
import type { DiscoveredPage, IocPolicy } from './plan.js';
import { planIocs } from './plan.js';
import {
  DEFAULT_POLICY,
  controllerFor,
  decision,
  entry,
  ioTid,
  page,
  planInput,
} from './plan-test-support.js';

const SCOPES = {
  'only-stas': { disconnectScope: 'only-stas-connections', disconnectTrtypes: ['tcp'] },
  'all-matching/tcp': {
    disconnectScope: 'all-connections-matching-disconnect-trtypes',
    disconnectTrtypes: ['tcp'],
  },
  'all-matching/rdma': {
    disconnectScope: 'all-connections-matching-disconnect-trtypes',
    disconnectTrtypes: ['rdma', 'fc'],
  },
  'no-disconnect': { disconnectScope: 'no-disconnect', disconnectTrtypes: ['tcp'] },
} as const satisfies Record<string, Pick<IocPolicy, 'disconnectScope' | 'disconnectTrtypes'>>;
type Scope = keyof typeof SCOPES;
const NCC = ['none', 'under-budget', 'gave-up'] as const;
type Ncc = (typeof NCC)[number];
const EXCLUDED = [false, true] as const;
const FAMILIES = ['ipv4+ipv6', 'ipv4'] as const;
type Family = (typeof FAMILIES)[number];
const STAFD = ['fresh', 'stale', 'page-unknown', 'not-running'] as const;
type Stafd = (typeof STAFD)[number];

interface Case {
  readonly scope: Scope;
  readonly ncc: Ncc;
  readonly excluded: boolean;
  readonly family: Family;
  readonly stafd: Stafd;
}

const E1 = ioTid('fd00::1', 'nqn.test:e1');
const E2 = ioTid('fd00::2', 'nqn.test:e2');
const K = ioTid('10.0.0.3', 'nqn.test:k');
const U = ioTid('10.0.0.4', 'nqn.test:u');
const BUDGET = 3;

function run(c: Case): Record<'E1' | 'E2' | 'K' | 'U', string> {
  const e1 = entry('fd00::1', E1.subsysnqn, { eflags: c.ncc === 'none' ? 0 : 4 });
  const e2 = entry('fd00::2', E2.subsysnqn);
  const main = page([e1, e2], { state: c.stafd === 'stale' ? 'stale' : 'fresh' });
  let discovered: Observation<readonly DiscoveredPage[]>;
  if (c.stafd === 'not-running') discovered = unknown('not-running');
  else if (c.stafd === 'page-unknown')
    discovered = observed([main, page([], { dc: 'dc2', state: 'unknown' })]);
  else discovered = observed([main]);
  const exclusions: Exclusion[] = c.excluded ? [{ filter: new Map([['transport', 'tcp']]), line: 1 }] : [];
  const actions = planIocs(
    planInput({
      policy: {
        ...DEFAULT_POLICY,
        ...SCOPES[c.scope],
        ipFamily: c.family === 'ipv4' ? [4] : [4, 6],
        connectAttemptsOnNcc: BUDGET,
      },
      discovered,
      exclusions,
      attempts: new Map([[E1.key, c.ncc === 'gave-up' ? BUDGET : 1]]),
      kernel: [controllerFor(K, 0), controllerFor(E2, 1), controllerFor(U, 2, null)],
    }),
  );
  return {
    E1: decision(actions, E1),
    E2: decision(actions, 'nvme1'),
    K: decision(actions, 'nvme0'),
    U: decision(actions, 'nvme2'),
  };
}

/** What the scope says about a controller stas may not want any more; null: the scope allows a disconnect. */
function scopeKeep(c: Case, owned: boolean): string | null {
  if (c.scope === 'no-disconnect') return 'keep:scope-no-disconnect';
  if (c.scope === 'all-matching/rdma') return 'keep:trtype-out-of-scope';
  if (!owned && c.scope === 'only-stas') return 'keep:not-owned';
  return null;
}

/** The verdict on a managed controller that is not wanted, for want of knowledge or with it. */
function unwanted(c: Case, owned: boolean, because: string): string {
  const scoped = scopeKeep(c, owned);
  if (scoped !== null) return scoped;
  if (c.excluded) return 'disconnect:excluded';
  if (c.stafd === 'not-running') return 'keep:stafd-unavailable';
  if (c.stafd === 'page-unknown') return 'keep:discovery-incomplete';
  return `disconnect:${because}`;
}

function expected(c: Case): Record<'E1' | 'E2' | 'K' | 'U', string> {
  let e1: string;
  if (c.stafd === 'not-running') e1 = 'none';
  else if (c.excluded) e1 = 'skip:excluded';
  else if (c.family === 'ipv4') e1 = 'skip:ip-family';
  else if (c.ncc === 'gave-up') e1 = 'skip:ncc-gave-up';
  else e1 = 'connect:discovered';

  const e2Wanted = c.stafd !== 'not-running' && !c.excluded && c.family !== 'ipv4';
  const e2 = e2Wanted ? 'keep:connected' : unwanted(c, true, 'ip-family');
  return { E1: e1, E2: e2, K: unwanted(c, true, 'not-discovered'), U: unwanted(c, false, 'not-discovered') };
}

const cases: Case[] = [];
for (const scope of Object.keys(SCOPES) as Scope[])
  for (const ncc of NCC)
    for (const excluded of EXCLUDED)
      for (const family of FAMILIES)
        for (const stafd of STAFD) cases.push({ scope, ncc, excluded, family, stafd });

describe('planIocs decision matrix', () => {
  it('covers 4 scopes × 3 NCC × 2 exclusion × 2 ip-family × 4 stafd states', () => {
    expect(cases).toHaveLength(192);
  });

  it.each(
    cases.map(
      (c) => [`${c.scope} ncc=${c.ncc} excluded=${c.excluded} ${c.family} stafd=${c.stafd}`, c] as const,
    ),
  )('%s', (_name, c) => {
    expect(run(c)).toEqual(expected(c));
  });
});
