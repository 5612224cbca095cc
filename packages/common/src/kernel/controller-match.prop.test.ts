// The shortcuts of controller-match.ts for callers matching many controllers (tidKeyOfController,
// controllerHasTid, controllerMatchesTid's `controllerTid`) give what building the controller's TID
// gives, on controllers drawn from a small universe of sysfs spellings.
import type { NetworkInterfaceInfo } from 'node:os';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Tid, TidRole } from '../nvme/tid.js';
import { createTid, WELL_KNOWN_DISCOVERY_NQN } from '../nvme/tid.js';
import {
  controllerHasTid,
  controllerMatchesTid,
  tidKeyOfController,
  tidOfController,
} from './controller-match.js';
import { interfacesFromNode } from './net-interfaces.js';
import type { ControllerAttribute, NvmeController } from './sysfs-parse.js';
import { parseController } from './sysfs-parse.js';

const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:ab493302-0738-4961-9973-2c6bc2c93697';
const HOSTID = '99b2aca3-bd1c-49ac-9884-a8c3eaccc265';

function info(address: string): NetworkInterfaceInfo {
  return { address, netmask: '', mac: '00:00:00:00:00:00', internal: false, cidr: null, family: 'IPv4' };
}
const IFACES = interfacesFromNode({ eth0: [info('10.0.0.5')], eth1: [info('192.168.1.5')] });

/** Spellings the kernel may show for one value (a TID canonicalises each group to one). */
const TRADDRS = [
  ['10.0.0.1'],
  ['010.0.0.1'],
  ['FD00::1', 'fd00::1', 'fd00:0::1'],
  ['nn-0x1:pn-0x2', 'NN-0X1,PN-0X2'],
];
const TRSVCIDS = [['4420', '04420'], ['8009'], ['none', '']];
const HOSTIDS = [HOSTID, HOSTID.toUpperCase()];

const specArb = fc.record({
  transport: fc.constantFrom('tcp', 'tcp', 'rdma', 'fc', 'loop', 'pcie'),
  traddr: fc.nat(TRADDRS.length - 1),
  trsvcid: fc.nat(TRSVCIDS.length - 1),
  hostTraddr: fc.constantFrom(undefined, '10.0.0.5', '::ffff:10.0.0.5'),
  hostIface: fc.constantFrom(undefined, 'eth0'),
  srcAddr: fc.constantFrom(undefined, '192.168.1.5'),
  subsysnqn: fc.constantFrom<string | undefined>(
    'nqn.p:a',
    'nqn.p:a',
    WELL_KNOWN_DISCOVERY_NQN,
    '',
    undefined,
  ),
  cntrltype: fc.constantFrom<string | undefined>('io', 'io', 'discovery', undefined),
  hostnqn: fc.constantFrom<string | undefined>(HOSTNQN, HOSTNQN, 'nqn.other', undefined),
  hostid: fc.constantFrom(true, true, false),
});
type Spec = typeof specArb extends fc.Arbitrary<infer S> ? S : never;

/** The controller of `spec`, each value in its spelling number `spelling` (modulo the spellings). */
function controllerOf(spec: Spec, spelling: number): NvmeController {
  const spell = (choices: readonly string[] | undefined): string =>
    choices === undefined ? '' : (choices[spelling % choices.length] ?? '');
  const address = [`traddr=${spell(TRADDRS[spec.traddr])}`, `trsvcid=${spell(TRSVCIDS[spec.trsvcid])}`];
  if (spec.hostTraddr !== undefined) address.push(`host_traddr=${spec.hostTraddr}`);
  if (spec.hostIface !== undefined) address.push(`host_iface=${spec.hostIface}`);
  if (spec.srcAddr !== undefined) address.push(`src_addr=${spec.srcAddr}`);
  const attrs: Partial<Record<ControllerAttribute, string>> = { transport: spec.transport };
  if (spec.transport !== 'pcie') attrs.address = address.join(',');
  if (spec.subsysnqn !== undefined) attrs.subsysnqn = spec.subsysnqn;
  if (spec.cntrltype !== undefined) attrs.cntrltype = spec.cntrltype;
  if (spec.hostnqn !== undefined) attrs.hostnqn = spec.hostnqn;
  if (spec.hostid) attrs.hostid = spell(HOSTIDS);
  const c = parseController({ name: 'nvme3', attrs, entries: [] });
  if (c === undefined) throw new Error('bad fixture');
  return c;
}

const controllerArb = fc.tuple(specArb, fc.nat(5)).map(([spec, spelling]) => controllerOf(spec, spelling));

const otherTidArb: fc.Arbitrary<Tid> = fc
  .tuple(
    fc.record({
      transport: fc.constantFrom('tcp', 'rdma', 'fc'),
      traddr: fc.constantFrom('10.0.0.1', 'fd00::1', 'nn-0x1:pn-0x2'),
      subsysnqn: fc.constantFrom('nqn.p:a', ''),
      hostTraddr: fc.constantFrom('', '10.0.0.5'),
      hostIface: fc.constantFrom('', 'eth0'),
      hostNqn: fc.constantFrom(HOSTNQN, ''),
      hostId: fc.constantFrom(HOSTID, ''),
    }),
    fc.constantFrom<TidRole>('io', 'discovery'),
  )
  .map(([fields, role]) => createTid(fields, { role }));

/** A controller and a TID: often the same controller's, spelt otherwise; else another controller's, or any. */
const pairArb: fc.Arbitrary<readonly [NvmeController, Tid | undefined]> = fc.oneof(
  fc
    .tuple(specArb, fc.nat(5), fc.nat(5))
    .map(([spec, a, b]) => [controllerOf(spec, a), tidOfController(controllerOf(spec, b))] as const),
  fc.tuple(controllerArb, controllerArb).map(([c, other]) => [c, tidOfController(other)] as const),
  fc.tuple(controllerArb, otherTidArb),
);

const RUNS = { seed: 42, numRuns: 3000 } as const;

describe('controller-match shortcuts agree with building the controller TID', () => {
  it('tidKeyOfController is the key of tidOfController', () => {
    fc.assert(
      fc.property(controllerArb, (c) => {
        expect(tidKeyOfController(c)).toBe(tidOfController(c)?.key);
      }),
      RUNS,
    );
  });

  it('controllerHasTid is true exactly when tidOfController has the same key', () => {
    let same = 0;
    fc.assert(
      fc.property(pairArb, ([c, tid]) => {
        if (tid === undefined) return;
        const expected = tidOfController(c)?.key === tid.key;
        if (expected) same++;
        expect(controllerHasTid(c, tid)).toBe(expected);
      }),
      RUNS,
    );
    expect(same).toBeGreaterThan(300); // the "same TID" side was exercised too
  });

  it('controllerMatchesTid gives the same answer when handed the controller TID', () => {
    const roleArb = fc.constantFrom<TidRole | undefined>('io', 'discovery', undefined);
    fc.assert(
      fc.property(pairArb, roleArb, ([c, tid], role) => {
        if (tid === undefined) return;
        const opts = role === undefined ? {} : { role };
        const given = { ...opts, controllerTid: tidOfController(c) };
        expect(controllerMatchesTid(c, tid, IFACES, given)).toBe(controllerMatchesTid(c, tid, IFACES, opts));
      }),
      RUNS,
    );
  });
});
