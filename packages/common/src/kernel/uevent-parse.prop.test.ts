import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseUdevadmBlock, parseUeventDatagram } from './uevent-parse.js';

const encoder = new TextEncoder();
const token = fc.string({
  unit: fc.constantFrom('a', 'Z', '0', '_', '=', '@', '/', '\0', '\n', ' ', 'é', '\uFFFD'),
  maxLength: 16,
});
const action = fc.constantFrom('add', 'remove', 'change', 'move', 'bind', 'weird');
const structured = fc
  .tuple(action, token, fc.array(fc.tuple(token, token), { maxLength: 8 }))
  .map(([a, path, props]) =>
    encoder.encode(`${a}@/${path}\0${props.map(([k, v]) => `${k}=${v}`).join('\0')}\0`),
  );

describe('uevent parsers on arbitrary input (fuzz, fixed seed)', { timeout: 20_000 }, () => {
  it('parseUeventDatagram never throws and returns only consistent events (random bytes)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
        const event = parseUeventDatagram(b);
        if (event !== null) {
          expect(event.devpath.startsWith('/')).toBe(true);
          expect(event.properties['ACTION'] ?? event.action).toBe(event.action);
        }
      }),
      { seed: 42, numRuns: 12_000 },
    );
  });

  it('parseUeventDatagram keeps header and properties consistent (structured input)', () => {
    let parsed = 0;
    fc.assert(
      fc.property(structured, (b) => {
        const event = parseUeventDatagram(b);
        if (event === null) return;
        parsed++;
        expect(['add', 'remove', 'change', 'move', 'bind']).toContain(event.action);
        expect(event.devpath.startsWith('/')).toBe(true);
        for (const key of Object.keys(event.properties)) expect(key).toMatch(/^[A-Za-z0-9_]+$/);
        if (event.properties['SEQNUM'] !== undefined && event.seqnum !== undefined) {
          expect(String(event.seqnum)).toBe(event.properties['SEQNUM'].replace(/^0+(?=\d)/, ''));
        }
      }),
      { seed: 42, numRuns: 8_000 },
    );
    expect(parsed).toBeGreaterThan(100);
  });

  it('parseUdevadmBlock never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const event = parseUdevadmBlock(`KERNEL[1.0] ${text}`);
        if (event !== null) expect(event.devpath.startsWith('/')).toBe(true);
      }),
      { seed: 42, numRuns: 4_000 },
    );
  });
});
