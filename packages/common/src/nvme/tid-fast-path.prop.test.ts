import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StasError } from '../errors.js';
import type { TidInput, TidRole } from './tid.js';
import {
  createTid,
  defaultTrsvcid,
  tidHasFields,
  tidKeyOf,
  tidTargetPrefix,
  TRANSPORTS,
  WELL_KNOWN_DISCOVERY_NQN,
} from './tid.js';

// Oracles: the regex-based rules createTid was first written with. The fast paths must agree byte for byte.
const referenceLower = (text: string): string => text.replace(/[A-Z]+/g, (run) => run.toLowerCase());
const referencePort = (text: string): string => (/^[0-9]+$/.test(text) ? text.replace(/^0+(?=.)/, '') : text);
const referenceEscape = (text: string): string => text.replace(/[%|]/g, (c) => (c === '%' ? '%25' : '%7C'));

const text = fc.oneof(
  fc.string({
    unit: fc.constantFrom('0', '4', '2', 'A', 'z', '%', '|', 'É', 'é', 'İ', 'K', '-'),
    maxLength: 8,
  }),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const role = fc.constantFrom<TidRole>('discovery', 'io');

describe('createTid fast paths agree with the regex rules', () => {
  it('trsvcid, host-id, subsysnqn and the key match the reference on arbitrary text', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...TRANSPORTS),
        text,
        text,
        text,
        text,
        text,
        text,
        role,
        (transport, trsvcid, subsysnqn, hostIface, hostNqn, hostId, fcAddress, r) => {
          const tid = createTid(
            { transport, traddr: fcAddress, trsvcid, subsysnqn, hostIface, hostNqn, hostId },
            { role: r },
          );
          const hasPort = transport === 'tcp' || transport === 'rdma';
          const port = hasPort ? referencePort(trsvcid) : '';
          expect(tid.trsvcid).toBe(port === '' ? defaultTrsvcid(transport, r) : port);
          expect(tid.hostId).toBe(referenceLower(hostId));
          if (transport === 'fc') {
            const folded = referenceLower(fcAddress).replace(/^(nn-0x[0-9a-f]+),(pn-0x[0-9a-f]+)$/, '$1:$2');
            expect(tid.traddr).toBe(folded);
          }
          const nqn = subsysnqn === '' && r === 'discovery' ? WELL_KNOWN_DISCOVERY_NQN : subsysnqn;
          const parts = [
            transport,
            tid.traddr,
            tid.trsvcid,
            nqn,
            tid.hostTraddr,
            hostIface,
            hostNqn,
            tid.hostId,
          ];
          expect(tid.key).toBe(parts.map(referenceEscape).join('|'));
        },
      ),
      { seed: 42, numRuns: 3000 },
    );
  });
});

// tidKeyOf, tidHasFields and tidTargetPrefix answer questions about createTid's result without
// building it (or from its key): they must give exactly what createTid would.
const address = fc.oneof(
  text,
  fc.constantFrom(
    '10.0.0.1',
    '010.0.0.1',
    '::ffff:10.0.0.1',
    'FD00::1',
    'fd00:0::1',
    'fe80::1%eth0',
    'Host.Example',
  ),
  fc.constantFrom('nn-0x1:pn-0x2', 'NN-0X1,PN-0X2'),
);
const fields = fc.record({
  transport: fc.constantFrom(...TRANSPORTS),
  traddr: address,
  trsvcid: fc.oneof(text, fc.constantFrom('', '4420', '04420', '8009')),
  subsysnqn: fc.oneof(text, fc.constantFrom('', WELL_KNOWN_DISCOVERY_NQN, 'nqn.p:a')),
  hostTraddr: fc.oneof(address, fc.constant('')),
  hostIface: fc.constantFrom('', 'eth0', 'a|b'),
  hostNqn: fc.constantFrom('', 'nqn.host', 'nqn.host%2'),
  hostId: fc.constantFrom('', 'ab-CD', 'ab-cd'),
});
/** Two field sets that often name the same TID in different spellings. */
const similar = fc
  .tuple(fields, fields, fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }))
  .map(([a, b, keep]) => {
    const pick = <K extends keyof typeof a>(k: K, i: number): (typeof a)[K] =>
      keep[i] === true ? a[k] : b[k];
    return [
      a,
      {
        transport: a.transport,
        traddr: pick('traddr', 0),
        trsvcid: pick('trsvcid', 1),
        subsysnqn: pick('subsysnqn', 2),
        hostTraddr: pick('hostTraddr', 3),
        hostIface: pick('hostIface', 4),
        hostNqn: pick('hostNqn', 5),
        hostId: pick('hostId', 6),
      },
    ] as const;
  });

describe('TID questions answered without building the TID', () => {
  it('tidKeyOf is the key createTid gives', () => {
    fc.assert(
      fc.property(fields, role, (f, r) => {
        expect(tidKeyOf(f, { role: r })).toBe(createTid(f, { role: r }).key);
      }),
      { seed: 42, numRuns: 3000 },
    );
  });

  it('tidHasFields is true exactly when createTid would give the same key', () => {
    let same = 0;
    fc.assert(
      fc.property(similar, role, role, ([a, b], ra, rb) => {
        const tid = createTid(a, { role: ra });
        const expected = createTid(b, { role: rb }).key === tid.key;
        if (expected) same++;
        expect(tidHasFields(tid, b, { role: rb })).toBe(expected);
      }),
      { seed: 42, numRuns: 3000 },
    );
    expect(same).toBeGreaterThan(100); // the "same TID" side was exercised too
  });

  it('tidTargetPrefix starts the key and is equal exactly when transport, traddr, trsvcid and subsysnqn are', () => {
    fc.assert(
      fc.property(similar, ([a, b]) => {
        const x = createTid(a, { role: 'io' });
        const y = createTid(b, { role: 'io' });
        expect(x.key.startsWith(tidTargetPrefix(x))).toBe(true);
        const sameTarget =
          x.transport === y.transport &&
          x.traddr === y.traddr &&
          x.trsvcid === y.trsvcid &&
          x.subsysnqn === y.subsysnqn;
        expect(tidTargetPrefix(x) === tidTargetPrefix(y)).toBe(sameTarget);
      }),
      { seed: 42, numRuns: 3000 },
    );
  });

  it('tidKeyOf and tidHasFields refuse an unknown transport as createTid does', () => {
    const bad = { transport: 'pcie', traddr: 'x' } as unknown as TidInput;
    const tid = createTid({ transport: 'tcp', traddr: '10.0.0.1' }, { role: 'io' });
    expect(() => tidKeyOf(bad, { role: 'io' })).toThrow(StasError);
    expect(() => tidHasFields(tid, bad, { role: 'io' })).toThrow(StasError);
  });
});
