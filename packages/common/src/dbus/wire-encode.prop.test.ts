import { createRequire } from 'node:module';
import { Variant } from '@particle/dbus-next';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BusError } from './bus-error.js';
import { parseSingleType, type BasicCode, type DBusTypeNode } from './signature.js';
import { EncodeUnsupportedError, encodeMessage, type OutgoingMessage } from './wire-encode.js';

// The reference: the library's own encoder (no `exports` map in its package.json, so the deep path resolves).
const { marshallMessage } = createRequire(import.meta.url)('@particle/dbus-next/lib/marshall-compat.js') as {
  marshallMessage: (msg: Record<string, unknown>) => [Buffer, unknown[]];
};

type Outcome =
  { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false; readonly error: unknown };

function outcome(encode: () => Buffer): Outcome {
  try {
    return { ok: true, bytes: encode() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The library mutates the message it encodes (body, signature, unixFd): give it a shallow copy. */
const library = (msg: OutgoingMessage): Outcome => outcome(() => marshallMessage({ ...msg })[0]);
const ours = (msg: OutgoingMessage): Outcome => outcome(() => encodeMessage(msg));

const BASIC: readonly BasicCode[] = ['y', 'b', 'n', 'q', 'i', 'u', 'x', 't', 'd', 's', 'o', 'g'];

/** Signatures of one complete type, `depth` containers deep at most (no `h`: fds take the library's path). */
function typeArb(depth: number): fc.Arbitrary<string> {
  const basic = fc.constantFrom(...BASIC);
  if (depth <= 0) return fc.oneof(basic, fc.constant('v'));
  const inner = typeArb(depth - 1);
  return fc.oneof(
    { weight: 4, arbitrary: basic },
    { weight: 1, arbitrary: fc.constant('v') },
    { weight: 2, arbitrary: inner.map((t) => `a${t}`) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom(...BASIC), inner).map(([k, v]) => `a{${k}${v}}`),
    },
    { weight: 1, arbitrary: fc.array(inner, { minLength: 1, maxLength: 4 }).map((ts) => `(${ts.join('')})`) },
  );
}

const TEXT = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  // lone surrogates, multi-byte characters, and strings past the encoder's short-string loop
  fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', '\ud800', '\udc00', '/', '.'), maxLength: 90 }),
  fc.string({ unit: 'binary-ascii', minLength: 60, maxLength: 300 }),
);
const STRING = TEXT.filter((s) => !s.includes('\0'));
const SIGNATURE_TEXT = fc.oneof(
  { weight: 4, arbitrary: fc.array(typeArb(2), { maxLength: 3 }).map((ts) => ts.join('')) },
  // the library's signature check is looser than the grammar
  { weight: 1, arbitrary: fc.constantFrom('()', 'a{sss}', ')', 'm*?', 'e', 'r', 'ah', '}') },
);
const MAX_I64 = 2n ** 63n - 1n;

function basicArb(code: BasicCode): fc.Arbitrary<unknown> {
  switch (code) {
    case 'y':
      return fc.integer({ min: 0, max: 0xff });
    case 'b':
      return fc.oneof(fc.boolean(), fc.constantFrom(0, 1));
    case 'n':
      return fc.integer({ min: -0x8000, max: 0x7fff });
    case 'q':
      return fc.integer({ min: 0, max: 0xffff });
    case 'i':
      return fc.integer({ min: -0x80000000, max: 0x7fffffff });
    case 'u':
      return fc.integer({ min: 0, max: 0xffffffff });
    case 'x':
      return fc.oneof(
        fc.bigInt({ min: -MAX_I64, max: MAX_I64 }),
        fc.maxSafeInteger(),
        fc.bigInt({ min: -MAX_I64, max: MAX_I64 }).map(String),
        fc.constantFrom(2 ** 60, -(2 ** 62), 2 ** 63 - 1024),
      );
    case 't':
      return fc.oneof(
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.maxSafeNat(),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
        fc.constantFrom(2 ** 60, 2 ** 63, 2 ** 64 - 4096),
      );
    case 'd':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 's':
    case 'o':
      return fc.oneof(
        { weight: 6, arbitrary: STRING },
        { weight: 1, arbitrary: STRING.map((s) => Buffer.from(s)) },
      );
    case 'g':
      return SIGNATURE_TEXT.filter((s) => s.length <= 255);
    case 'h':
      return fc.nat();
  }
}

/** A dictionary key as a JavaScript object holds it: always text. */
function keyArb(code: BasicCode): fc.Arbitrary<string> {
  switch (code) {
    case 'y':
    case 'n':
    case 'q':
    case 'i':
      return basicArb(code).map((v) => String(v));
    // The library reads these keys with parseInt: keep them where the float it gets stays in range.
    case 'x':
      return fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }).map(String);
    case 't':
      return fc.bigInt({ min: 0n, max: 2n ** 63n }).map(String);
    case 'b':
      return fc.constantFrom('true', 'false');
    case 'g':
      return SIGNATURE_TEXT.filter((s) => s.length <= 255);
    default:
      return STRING;
  }
}

/** Values the library refuses, converts oddly, or accepts only for some types. */
const JUNK: fc.Arbitrary<unknown> = fc.constantFrom(
  undefined,
  null,
  NaN,
  -0,
  1.5,
  2 ** 53,
  -1,
  256,
  70000,
  2 ** 32,
  Infinity,
  '',
  'x',
  'a\0b',
  '12',
  ' 7 ',
  '0x10',
  true,
  false,
  0,
  1,
  12345678901234567890n,
  -5n,
  2n ** 64n,
  -(2n ** 63n),
  Buffer.from('hi'),
  Buffer.from('5'),
  [],
  [1, 2],
  [undefined],
  {},
  { a: 'b' },
  { 1: 2 },
  new Variant('s', 'x'),
  new Variant('ss', 'x'),
  new Variant('i', 5),
  new Variant('as', ['a']),
  new Variant('a', 1),
  new Variant('h', 1),
  Object.create(null),
  new Uint8Array([1, 2]),
);

/** Values of `node`; with `junk`, any value may instead be one from JUNK. */
function valueArb(node: DBusTypeNode, depth: number, junk: boolean): fc.Arbitrary<unknown> {
  const good = goodValueArb(node, depth, junk);
  return junk ? fc.oneof({ weight: 12, arbitrary: good }, { weight: 1, arbitrary: JUNK }) : good;
}

function goodValueArb(node: DBusTypeNode, depth: number, junk: boolean): fc.Arbitrary<unknown> {
  switch (node.kind) {
    case 'basic':
      return basicArb(node.code);
    case 'variant':
      return typeArb(Math.min(depth - 1, 2)).chain((sig) =>
        valueArb(parseSingleType(sig), depth - 1, junk).map((v) => new Variant(sig, v)),
      );
    case 'array':
      if (node.element.kind === 'basic' && node.element.code === 'y') {
        return fc.oneof(
          fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
          fc.uint8Array({ maxLength: 8 }),
          fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 8 }),
        );
      }
      return fc.array(valueArb(node.element, depth - 1, junk), { maxLength: 4 });
    case 'dict':
      // The library cannot send a non-empty dictionary with `u` or `d` keys.
      if (node.key === 'u' || node.key === 'd') return fc.constant({});
      return fc
        .array(fc.tuple(keyArb(node.key), valueArb(node.value, depth - 1, junk)), { maxLength: 4 })
        .map((entries) => Object.fromEntries(entries));
    case 'struct':
      return fc.tuple(...node.fields.map((f) => valueArb(f, depth - 1, junk)));
  }
}

const NAME = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}(\.[a-z][a-z0-9_]{0,8}){1,3}$/);
const PATH = fc.oneof(fc.constant('/'), fc.stringMatching(/^(\/[A-Za-z0-9_]{1,8}){1,4}$/));

function messageArb(junk: boolean): fc.Arbitrary<OutgoingMessage> {
  const bodyArb = fc
    .array(typeArb(3), { maxLength: 4 })
    .map((types) => types.join(''))
    .filter((sig) => sig.length <= 255)
    .chain((signature) =>
      fc.tuple(
        fc.constant(signature),
        fc.tuple(...splitTypes(signature).map((t) => valueArb(parseSingleType(t), 3, junk))),
      ),
    );
  const header = fc.record(
    {
      type: fc.constantFrom(1, 2, 3, 4),
      flags: fc.constantFrom(0, 1, 2, 3, undefined),
      serial: fc.integer({ min: 1, max: 0xffffffff }),
      path: PATH,
      interface: NAME,
      member: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/),
      errorName: NAME,
      replySerial: fc.integer({ min: 0, max: 0xffffffff }),
      destination: fc.oneof(NAME, fc.stringMatching(/^:1\.[0-9]{1,4}$/)),
      sender: fc.stringMatching(/^:1\.[0-9]{1,4}$/),
      unixFd: fc.integer({ min: 0, max: 3 }),
    },
    { requiredKeys: ['serial', 'type'] },
  );
  const junkHeader = fc.record(
    {
      serial: fc.constantFrom(0, -1, '5', 1.5, 2 ** 32),
      type: fc.constantFrom(5, 255, 300, '1', true, 0, undefined),
      path: fc.constantFrom(5, 'a\0b', Buffer.from('/b'), {}),
      signature: fc.constantFrom('a', '(', 'z', ')', '(i', 'ss}', 'ah', null, 7),
      body: fc.constantFrom(null, 'ab', [1], [[]]),
    },
    { requiredKeys: [] },
  );
  const base = fc.tuple(header, bodyArb).map(([h, [signature, body]]): OutgoingMessage => ({
    ...h,
    ...(signature === '' ? {} : { signature, body }),
  }));
  if (!junk) return base;
  return fc.oneof(
    { weight: 8, arbitrary: base },
    { weight: 1, arbitrary: fc.tuple(base, junkHeader).map(([m, j]) => ({ ...m, ...j })) },
  );
}

/** Split a signature of complete types into its types (the grammar is simple enough to count brackets). */
function splitTypes(sig: string): string[] {
  const types: string[] = [];
  let start = 0;
  let depth = 0;
  for (let i = 0; i < sig.length; i++) {
    const c = sig[i];
    if (c === '(' || c === '{') depth++;
    else if (c === ')' || c === '}') depth--;
    if (depth === 0 && c !== 'a') {
      types.push(sig.slice(start, i + 1));
      start = i + 1;
    }
  }
  return types;
}

describe('encodeMessage against @particle/dbus-next marshallMessage', () => {
  it('writes the same bytes as the library for well-typed messages of random signatures', () => {
    let unsupported = 0;
    fc.assert(
      fc.property(messageArb(false), (msg) => {
        const mine = ours(msg);
        const theirs = library(msg);
        if (!mine.ok && mine.error instanceof EncodeUnsupportedError) {
          unsupported++;
          return;
        }
        expect(theirs.ok).toBe(true);
        expect(mine.ok).toBe(true);
        if (mine.ok && theirs.ok) expect(mine.bytes.equals(theirs.bytes)).toBe(true);
      }),
      { seed: 42, numRuns: 4000 },
    );
    // Only the library's oddities take its path, and well-typed values have none.
    expect(unsupported).toBe(0);
  });

  it('fails whenever the library fails, and otherwise matches it, for values with junk mixed in', () => {
    const seen = { same: 0, bothFailed: 0, unsupported: 0 };
    fc.assert(
      fc.property(messageArb(true), (msg) => {
        const mine = ours(msg);
        if (!mine.ok && mine.error instanceof EncodeUnsupportedError) {
          seen.unsupported++;
          return;
        }
        const theirs = library(msg);
        if (mine.ok) {
          expect(theirs.ok).toBe(true);
          if (theirs.ok) expect(mine.bytes.equals(theirs.bytes)).toBe(true);
          seen.same++;
        } else {
          expect(mine.error).toBeInstanceOf(BusError);
          expect(theirs.ok).toBe(false);
          seen.bothFailed++;
        }
      }),
      { seed: 7, numRuns: 3000 },
    );
    // The junk reaches both outcomes often enough to mean something.
    expect(seen.same).toBeGreaterThan(500);
    expect(seen.bothFailed).toBeGreaterThan(500);
  });
});
