import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTid } from '../nvme/tid.js';
import { Secret } from '../util/secret.js';
import { ConnectArgsError, buildConnectArgs } from './connect-args.js';

const SUPPORTED = new Set([
  'trsvcid',
  'host_traddr',
  'host_iface',
  'hostnqn',
  'hostid',
  'keep_alive_tmo',
  'dhchap_secret',
  'dhchap_ctrl_secret',
  'discovery',
]);
const KNOWN = new Set([...SUPPORTED, 'nqn', 'transport', 'traddr']);

// Characters that matter to the kernel's option parser, plus ordinary ones.
// Mostly harmless values (so the emitting path is exercised), sometimes hostile ones.
const piece = fc.oneof(
  {
    arbitrary: fc.string({ unit: fc.constantFrom('a', 'Z', '0', '.', ':', '-', 'é', '%'), maxLength: 12 }),
    weight: 4,
  },
  {
    arbitrary: fc.string({
      unit: fc.constantFrom('a', '0', '=', ',', '\n', '\r', '\t', ' ', '\u0000', '\u007f', '\u001b'),
      maxLength: 12,
    }),
    weight: 1,
  },
);

describe('buildConnectArgs never lets a value add or change an option', { timeout: 20_000 }, () => {
  it('either refuses the input or emits only known, unrepeated tokens whose values are the inputs', () => {
    let accepted = 0;
    fc.assert(
      fc.property(piece, piece, piece, piece, piece, (traddr, nqn, iface, hostTraddr, secret) => {
        const tid = createTid(
          {
            transport: 'tcp',
            traddr: `t${traddr}`,
            subsysnqn: `nqn.2024-01.x:${nqn}`,
            hostIface: iface,
            hostTraddr,
            hostNqn: 'nqn.2024-01.io.example:host',
            hostId: '99b2aca3-bd1c-49ac-9884-a8c3eaccc265',
          },
          { role: 'discovery' },
        );
        let text: string;
        try {
          text = buildConnectArgs({
            tid,
            role: 'discovery',
            options: { kato: 30 },
            supported: SUPPORTED,
            secrets: { dhchapSecret: new Secret(`DHHC-1:00:${secret}`) },
          }).text;
        } catch (err) {
          expect(err).toBeInstanceOf(ConnectArgsError);
          return;
        }
        accepted++;
        const tokens = text.split(/[,\n]/);
        const keys = tokens.map((t) => (t.includes('=') ? t.slice(0, t.indexOf('=')) : t));
        expect(keys.every((k) => KNOWN.has(k))).toBe(true);
        expect(new Set(keys).size).toBe(keys.length);
        const values = new Map(tokens.map((t) => [t.slice(0, t.indexOf('=')), t.slice(t.indexOf('=') + 1)]));
        expect(values.get('traddr')).toBe(tid.traddr);
        expect(values.get('nqn')).toBe(tid.subsysnqn);
        expect(values.get('dhchap_secret')).toBe(`DHHC-1:00:${secret}`);
        // eslint-disable-next-line no-control-regex
        expect(text).not.toMatch(/[\s\u0000-\u001f\u007f]/);
      }),
      { seed: 42, numRuns: 5000 },
    );
    expect(accepted).toBeGreaterThan(50); // the generator reaches the emitting path too
  });
});
