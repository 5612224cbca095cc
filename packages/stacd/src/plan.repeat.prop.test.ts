// planIocs is a pure function: planning the same input twice gives deep-equal plans (no state kept
// between calls, e.g. by the per-call caches of kernel TIDs and indexes), and planning does not
// change its input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { observed, unknown } from '@stas/common/util/observation';
import type { DiscoveredEntry, IocPolicy } from './plan.js';
import { STAS, planIocs } from './plan.js';
import { DEFAULT_POLICY, entry, kernelController, page, planInput } from './plan-test-support.js';

const ADDRS = ['10.0.0.1', '10.0.0.2', 'fd00::1', '::ffff:10.0.0.2', 'bad.name'] as const;
const NQNS = ['nqn.p:a', 'nqn.p:b'] as const;

const entryArb: fc.Arbitrary<DiscoveredEntry> = fc
  .record({
    traddr: fc.constantFrom(...ADDRS),
    subnqn: fc.constantFrom(...NQNS),
    trsvcid: fc.constantFrom('4420', '4421'),
    eflags: fc.constantFrom(0, 4),
  })
  .map(({ traddr, subnqn, ...more }) => entry(traddr, subnqn, more));

const kernelArb = fc
  .array(
    fc.record({
      traddr: fc.constantFrom(...ADDRS.slice(0, 4)),
      subsysnqn: fc.constantFrom(...NQNS),
      trsvcid: fc.constantFrom('4420', '4421'),
      hostIface: fc.constantFrom(undefined, 'eth0'),
      owner: fc.constantFrom(STAS, undefined, 'autoconnect'),
    }),
    { maxLength: 6 },
  )
  .map((specs) =>
    specs.map(({ hostIface, ...spec }, instance) =>
      kernelController({ ...spec, instance, ...(hostIface === undefined ? {} : { hostIface }) }),
    ),
  );

const policyArb: fc.Arbitrary<IocPolicy> = fc
  .record({
    disconnectScope: fc.constantFrom(
      'only-stas-connections',
      'all-connections-matching-disconnect-trtypes',
      'no-disconnect',
    ),
    ipFamily: fc.constantFrom<IocPolicy['ipFamily']>([4, 6], [4], [6]),
    ignoreIface: fc.boolean(),
  })
  .map((p) => ({ ...DEFAULT_POLICY, ...p }));

describe('planIocs, planned twice', () => {
  it('gives deep-equal plans for the same input and leaves the input unchanged', () => {
    fc.assert(
      fc.property(
        fc.array(entryArb, { maxLength: 6 }),
        kernelArb,
        policyArb,
        fc.boolean(),
        (entries, kernel, policy, stafdUp) => {
          const input = planInput({
            discovered: stafdUp ? observed([page(entries)]) : unknown('not-running'),
            kernel,
            policy,
          });
          const before = structuredClone(input);
          const first = planIocs(input);
          expect(planIocs(input)).toEqual(first);
          expect(input).toEqual(before);
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });
});
