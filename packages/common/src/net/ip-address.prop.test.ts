import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalIp, isUnspecified, parseIpAddress } from './ip-address.js';

/** The IPv4 rule as first written (split + regex), kept here as the oracle for the hand-rolled scanner. */
function referenceIpv4(text: string): string | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  for (const part of parts) {
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return null;
  }
  return parts.map(Number).join('.');
}

const octetText = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map(String),
  fc.integer({ min: 0, max: 999 }).map((n) => `0${n}`),
  fc.integer({ min: 256, max: 99999 }).map(String),
  fc.string({ unit: fc.constantFrom('0', '1', '9', '.', ' ', '+', '-', 'x', 'a'), maxLength: 4 }),
);
const quadLike = fc
  .array(octetText, { minLength: 1, maxLength: 6 })
  .chain((parts) => fc.constantFrom('.', '..', '').map((sep) => parts.join(sep === '' ? '.' : sep)));
const ipv4ish = fc.oneof(fc.ipV4(), quadLike, fc.string({ unit: 'binary', maxLength: 20 }));

describe('IPv4 dotted-quad scanner agrees with the split-and-regex rule', () => {
  it('canonicalIp equals the reference on dotted quads and arbitrary text without ":" or "%"', () => {
    fc.assert(
      fc.property(ipv4ish, (text) => {
        if (text.includes(':') || text.includes('%')) return;
        expect(canonicalIp(text), JSON.stringify(text)).toBe(referenceIpv4(text));
      }),
      { seed: 42, numRuns: 5000 },
    );
  });

  it('an IPv4-mapped tail (::ffff:x) folds exactly when x alone is an IPv4 address', () => {
    fc.assert(
      fc.property(ipv4ish, (text) => {
        if (text.includes(':') || text.includes('%') || !text.includes('.')) return;
        const mapped = parseIpAddress(`::ffff:${text}`);
        expect(mapped?.text ?? null, JSON.stringify(text)).toBe(referenceIpv4(text));
      }),
      { seed: 42, numRuns: 5000 },
    );
  });
});

// canonicalIp and isUnspecified(text) take a shortcut for text without ':' (no IpAddress is built).
const anyAddressText = fc.oneof(
  ipv4ish,
  fc.ipV6(),
  fc.ipV4().map((v4) => `::ffff:${v4}`),
  fc.string({ unit: fc.constantFrom('0', '1', 'f', ':', '.', '%', 'e', 't', 'h'), maxLength: 14 }),
);

describe('the shortcuts for text without ":" agree with parseIpAddress', () => {
  it('canonicalIp(text) is parseIpAddress(text)?.text, and isUnspecified agrees on text and parse', () => {
    fc.assert(
      fc.property(anyAddressText, (text) => {
        const parsed = parseIpAddress(text);
        expect(canonicalIp(text), JSON.stringify(text)).toBe(parsed?.text ?? null);
        expect(isUnspecified(text), JSON.stringify(text)).toBe(parsed !== null && isUnspecified(parsed));
      }),
      { seed: 42, numRuns: 5000 },
    );
  });

  it('the unspecified address is unspecified in every spelling', () => {
    for (const text of ['0.0.0.0', '::', '0::0', '::ffff:0.0.0.0']) expect(isUnspecified(text)).toBe(true);
    for (const text of ['0.0.0.1', '::1', 'x', '']) expect(isUnspecified(text)).toBe(false);
  });
});
