import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TidRole } from './tid.js';
import { createTid, defaultTrsvcid, TRANSPORTS, WELL_KNOWN_DISCOVERY_NQN } from './tid.js';

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
