import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { controllerFromSpec, exclusionFromSpec, parseControllerSpec } from '../config/controller-spec.js';
import { canonicalIp, parseIpAddress } from '../net/ip-address.js';
import type { TidFields, TidRole } from './tid.js';
import { createTid, TRANSPORTS, tidEquals, tidKey, tidMatchesFilter } from './tid.js';

const anyString = fc.string({ unit: 'binary', maxLength: 40 });
const transport = fc.constantFrom(...TRANSPORTS);
const role = fc.constantFrom<TidRole>('discovery', 'io');

/** Upper-case some characters and pad some groups with zeros, keeping the address the same. */
const respelled = (address: string, mask: number): string =>
  address.replace(/[0-9a-fA-F]+/g, (group, offset: number) => {
    const padded = (mask >> offset) & 1 && group.length < 4 && !address.includes('.') ? `0${group}` : group;
    return (mask >> (offset + 1)) & 1 ? padded.toUpperCase() : padded;
  });

// Small alphabet with the key's escape characters, so collisions would be found.
const tricky = fc.string({
  unit: fc.constantFrom('a', '|', '%', '7', 'C', '2', '5', ':', '.', '1'),
  maxLength: 6,
});
const fields = fc.record({
  transport,
  traddr: tricky,
  trsvcid: tricky,
  subsysnqn: tricky,
  hostTraddr: tricky,
  hostIface: tricky,
  hostNqn: tricky,
  hostId: tricky,
});

describe('IP canonicalisation properties', () => {
  it('is idempotent on arbitrary strings and never throws', () => {
    fc.assert(
      fc.property(anyString, (text) => {
        const once = canonicalIp(text);
        return once === null || canonicalIp(once) === once;
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('accepts every IPv4 and IPv6 literal, however spelled, and agrees with the WHATWG URL parser', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.nat(), (address, mask) => {
        const spelled = respelled(address, mask);
        const ip = parseIpAddress(spelled);
        expect(ip, spelled).not.toBeNull();
        if (ip === null) return;
        expect(canonicalIp(ip.text)).toBe(ip.text);
        expect(canonicalIp(address)).toBe(ip.text);
        if (spelled.includes(':')) {
          const whatwg = new URL(`http://[${spelled}]/`).hostname.slice(1, -1);
          if (ip.family === 6) expect(ip.text).toBe(whatwg);
          else expect(canonicalIp(whatwg)).toBe(ip.text); // IPv4-mapped: folded
        }
      }),
      { seed: 42, numRuns: 2000 },
    );
  });
});

describe('TID properties', () => {
  it('normalisation is idempotent: rebuilding a TID from itself gives the same key', () => {
    fc.assert(
      fc.property(fields, role, (f, r) => {
        const tid = createTid(f, { role: r });
        return tidKey(createTid(tid, { role: r })) === tid.key;
      }),
      { seed: 42, numRuns: 1000 },
    );
  });

  it('equal keys ⇔ tidEquals ⇔ equal normalised fields (no key collisions)', () => {
    const names: (keyof TidFields)[] = [
      'transport',
      'traddr',
      'trsvcid',
      'subsysnqn',
      'hostTraddr',
      'hostIface',
      'hostNqn',
      'hostId',
    ];
    fc.assert(
      fc.property(fields, fields, role, (fa, fb, r) => {
        const a = createTid(fa, { role: r });
        const b = createTid({ ...fb, transport: fa.transport }, { role: r });
        const sameFields = names.every((n) => a[n] === b[n]);
        return tidEquals(a, b) === sameFields && (tidKey(a) === tidKey(b)) === sameFields;
      }),
      { seed: 42, numRuns: 3000 },
    );
  });

  it('never throws on random strings, and a TID always matches a filter made of its own fields', () => {
    fc.assert(
      fc.property(
        transport,
        role,
        fc.array(anyString, { minLength: 8, maxLength: 8 }),
        fc.dictionary(anyString, anyString),
        (t, r, [traddr = '', trsvcid, subsysnqn, hostTraddr, hostIface, hostNqn, hostId], filter) => {
          const tid = createTid(
            { transport: t, traddr, trsvcid, subsysnqn, hostTraddr, hostIface, hostNqn, hostId },
            { role: r },
          );
          tidMatchesFilter(tid, filter);
          return tidMatchesFilter(tid, {
            transport: tid.transport.toUpperCase(),
            traddr: tid.traddr,
            trsvcid: tid.trsvcid,
            subsysnqn: tid.subsysnqn,
            'host-traddr': tid.hostTraddr,
            'host-iface': tid.hostIface,
            'host-nqn': tid.hostNqn,
            'host-id': tid.hostId,
          });
        },
      ),
      { seed: 42, numRuns: 1000 },
    );
  });

  it('the controller=/exclude= parsers never throw and always give a result', () => {
    const specText = fc.array(
      fc.oneof(
        anyString,
        fc
          .tuple(fc.constantFrom('transport', 'traddr', 'nqn', 'host-iface', 'kato', 'Trsvcid'), anyString)
          .map(([k, v]) => `${k}=${v}`),
      ),
      { maxLength: 6 },
    );
    fc.assert(
      fc.property(specText, role, (tokens, r) => {
        const { fields: parsed, problems } = parseControllerSpec(tokens.join(';'));
        const ctrl = controllerFromSpec(parsed, r);
        const excl = exclusionFromSpec(parsed);
        return Array.isArray(problems) && Array.isArray(ctrl.problems) && excl.filter instanceof Map;
      }),
      { seed: 42, numRuns: 2000 },
    );
  });
});
