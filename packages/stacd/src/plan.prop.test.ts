// Properties of planIocs over random inputs drawn from a small universe (so that configured entries, log
// page entries and kernel controllers collide often): totality, convergence, and the safety rules.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Exclusion } from '@stas/common/config/controllers-section';
import type { Tid } from '@stas/common/nvme/tid';
import { createTid, tidMatchesFilter } from '@stas/common/nvme/tid';
import { observed, unknown } from '@stas/common/util/observation';
import type { DiscoveredEntry, DiscoveredPage, IocPolicy, KernelController, PlanInput } from './plan.js';
import { STAS, planIocs } from './plan.js';
import {
  HOST,
  applyPlan,
  configured,
  controllerFor,
  kernelController,
  page,
  planInput,
} from './plan-test-support.js';

const ADDRS = ['10.0.0.1', '10.0.0.2', 'fd00::1', '::ffff:10.0.0.2'] as const;
const NQNS = ['nqn.p:a', 'nqn.p:b'] as const;
const IFACES = ['', '', 'eth0', 'eth1'] as const;
const OWNERS = [STAS, null, 'autoconnect', 'nbft'] as const;

const transportArb = fc.constantFrom('tcp', 'tcp', 'tcp', 'tcp', 'rdma');

const entryArb: fc.Arbitrary<DiscoveredEntry> = fc.record({
  subtype: fc.constantFrom('nvme', 'nvme', 'nvme', 'referral'),
  trtype: fc.constantFrom('tcp', 'tcp', 'rdma', 'unspecified'),
  traddr: fc.constantFrom(...ADDRS, 'bad.name'),
  trsvcid: fc.constantFrom('4420', '4420', '4421', ''),
  subnqn: fc.constantFrom(...NQNS),
  eflags: fc.constantFrom(0, 4),
  treq: fc.constantFrom(0, 4),
});

const pageArb: fc.Arbitrary<DiscoveredPage> = fc
  .record({
    entries: fc.array(entryArb, { maxLength: 5 }),
    state: fc.constantFrom('fresh', 'fresh', 'stale', 'unknown'),
    hostIface: fc.constantFrom(...IFACES),
    dc: fc.constantFrom('dcA', 'dcB'),
  })
  .map(({ entries, state, hostIface, dc }) =>
    page(state === 'unknown' ? [] : entries, { state, hostIface, dc }),
  );

const tidArb: fc.Arbitrary<Tid> = fc
  .record({
    transport: transportArb,
    traddr: fc.constantFrom(...ADDRS),
    trsvcid: fc.constantFrom('4420', '4420', '4420', '4421'),
    subsysnqn: fc.constantFrom(...NQNS),
    hostIface: fc.constantFrom(...IFACES),
  })
  .map((f) =>
    createTid(
      {
        ...f,
        hostIface: f.transport === 'tcp' ? f.hostIface : '',
        hostNqn: HOST.hostnqn,
        hostId: HOST.hostid,
      },
      { role: 'io' },
    ),
  );

const kernelArb: fc.Arbitrary<KernelController[]> = fc
  .array(
    fc.record({
      tid: tidArb,
      owner: fc.constantFrom(...OWNERS, STAS, null),
      kind: fc.constantFrom('io', 'io', 'io', 'io', 'discovery', 'pcie'),
      srcAddr: fc.constantFrom(undefined, '10.0.0.100', '10.1.0.100'),
      boot: fc.constantFrom(false, false, false, false, true),
    }),
    { maxLength: 5 },
  )
  .map((specs) =>
    specs.map((s, instance) => {
      if (s.kind === 'pcie')
        return kernelController({
          instance,
          transport: 'pcie',
          subsysnqn: 'nqn.pcie',
          owner: s.owner ?? undefined,
        });
      if (s.kind === 'discovery')
        return kernelController({
          instance,
          subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery',
          cntrltype: 'discovery',
          trsvcid: '8009',
          ...(s.owner === null ? {} : { owner: s.owner }),
        });
      const k = controllerFor(s.tid, instance, s.owner);
      const withSrc =
        s.srcAddr === undefined || s.tid.transport !== 'tcp'
          ? k
          : kernelController({
              instance,
              traddr: s.tid.traddr,
              trsvcid: s.tid.trsvcid,
              subsysnqn: s.tid.subsysnqn,
              srcAddr: s.srcAddr,
              ...(s.owner === null ? {} : { owner: s.owner }),
            });
      return { ...withSrc, boot: s.boot };
    }),
  );

const exclusionArb: fc.Arbitrary<Exclusion[]> = fc.array(
  fc.constantFrom<Exclusion>(
    { filter: new Map([['subsysnqn', 'nqn.p:a']]), line: 1 },
    { filter: new Map([['traddr', '10.0.0.2']]), line: 2 },
    { filter: new Map([['host-iface', 'eth1']]), line: 3 },
  ),
  { maxLength: 2 },
);

const policyArb: fc.Arbitrary<IocPolicy> = fc.record({
  disconnectScope: fc.constantFrom(
    'only-stas-connections',
    'all-connections-matching-disconnect-trtypes',
    'no-disconnect',
  ),
  disconnectTrtypes: fc.constantFrom<IocPolicy['disconnectTrtypes']>(['tcp'], ['rdma'], ['tcp', 'rdma']),
  ipFamily: fc.constantFrom<IocPolicy['ipFamily']>([4, 6], [4], [6]),
  ignoreIface: fc.boolean(),
  connectAttemptsOnNcc: fc.constantFrom(0, 2),
  options: fc.constant({}),
});

const inputArb: fc.Arbitrary<PlanInput> = fc
  .record({
    configured: fc.array(fc.record({ tid: tidArb, unresolved: fc.boolean() }), { maxLength: 3 }),
    stafdUp: fc.constantFrom(true, true, true, false),
    pages: fc.array(pageArb, { maxLength: 3 }),
    kernel: kernelArb,
    exclusions: exclusionArb,
    policy: policyArb,
    attempts: fc.constantFrom(0, 1, 5),
  })
  .map((r) => {
    const input = planInput({
      configured: r.configured.map((c, i) =>
        configured(c.tid, i + 1, c.unresolved && i === 0 ? { resolved: null } : {}),
      ),
      discovered: r.stafdUp ? observed(r.pages) : unknown('not-running'),
      kernel: r.kernel,
      exclusions: r.exclusions,
      policy: r.policy,
    });
    // every key the plan may ask about starts with the same attempt count
    const attempts = new Map(planIocs(input).map((a) => [a.key, r.attempts]));
    return { ...input, attempts };
  });

const RUNS = { seed: 42, numRuns: 400 } as const;

describe('planIocs properties', () => {
  it('is total: unique sorted keys, every kernel controller named by exactly one action', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const actions = planIocs(input);
        const keys = actions.map((a) => a.key);
        expect(new Set(keys).size).toBe(keys.length);
        expect(keys).toEqual([...keys].sort());
        const devices = actions.flatMap((a) => ('device' in a && a.device !== undefined ? [a.device] : []));
        expect(devices.sort()).toEqual(input.kernel.map((k) => k.controller.device).sort());
        for (const a of actions) expect(a.detail.length).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });

  it('converges: re-planning after the plan is applied yields only keeps and skips', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const after = applyPlan(input, planIocs(input));
        const again = planIocs(after).filter((a) => a.kind !== 'keep' && a.kind !== 'skip');
        expect(again.map((a) => `${a.kind}:${a.reason}:${a.key}`)).toEqual([]);
      }),
      RUNS,
    );
  });

  it('never disconnects on missing knowledge: only exclusions act while stafd or a page is unknown', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const blind = !input.discovered.ok || input.discovered.value.some((p) => p.state === 'unknown');
        fc.pre(blind);
        const disconnects = planIocs(input).filter((a) => a.kind === 'disconnect');
        for (const d of disconnects) expect(d.reason).toBe('excluded');
      }),
      RUNS,
    );
  });

  it("never disconnects another owner's, a discovery, a PCIe or a boot controller, nor under no-disconnect", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const byDevice = new Map(input.kernel.map((k) => [k.controller.device as string, k]));
        for (const a of planIocs(input)) {
          if (a.kind !== 'disconnect') continue;
          const k = byDevice.get(a.device);
          expect(k).toBeDefined();
          if (k === undefined) continue;
          expect(input.policy.disconnectScope).not.toBe('no-disconnect');
          expect(k.owner === undefined || k.owner === STAS).toBe(true);
          expect(k.boot).toBe(false);
          expect(k.controller.transport).not.toBe('pcie');
          expect(k.controller.cntrltype).toBe('io');
          if (k.owner === undefined)
            expect(input.policy.disconnectScope).toBe('all-connections-matching-disconnect-trtypes');
        }
      }),
      RUNS,
    );
  });

  it('never connects or adopts what an exclusion matches', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        for (const a of planIocs(input)) {
          if (a.kind !== 'connect' && a.kind !== 'adopt') continue;
          expect(input.exclusions.some((e) => tidMatchesFilter(a.tid, e.filter))).toBe(false);
        }
      }),
      RUNS,
    );
  });
});
