/**
 * D-Bus type signatures: parsing a signature into complete types, checking that a JavaScript value fits
 * a type (and normalising it to what @particle/dbus-next marshals: plain objects for dictionaries,
 * Buffers for `ay`, bigints for `x`/`t`), and `DBusValue<S>`, the TypeScript type of a signature.
 *
 * Used on every boundary of bus.ts: outgoing arguments, incoming replies and signals, and the values our
 * service handlers return (a handler bug such as a non-string in an `aa{ss}` becomes a clean error reply,
 * behaviour spec §9 F21). Pure. `parseSignature` throws BusError DBUS_INVALID_ARGS; `conformValue` returns
 * a problem description instead of throwing. Unix FDs (`h`) are not supported.
 * Tests: signature.test.ts
 */
import { Variant } from '@particle/dbus-next';
import { BusError } from './bus-error.js';

const BASIC_CODES = 'ybnqiuxtdhsog';
export type BasicCode = 'y' | 'b' | 'n' | 'q' | 'i' | 'u' | 'x' | 't' | 'd' | 'h' | 's' | 'o' | 'g';

export type DBusTypeNode =
  | { readonly kind: 'basic'; readonly code: BasicCode }
  | { readonly kind: 'variant' }
  | { readonly kind: 'array'; readonly element: DBusTypeNode }
  | { readonly kind: 'dict'; readonly key: BasicCode; readonly value: DBusTypeNode }
  | { readonly kind: 'struct'; readonly fields: readonly DBusTypeNode[] };

/** A complete type of a signature and its text, e.g. `{ text: 'aa{ss}', node: … }`. */
export interface CompleteType {
  readonly text: string;
  readonly node: DBusTypeNode;
}

const MAX_SIGNATURE_LENGTH = 255;
const MAX_NESTING = 32;

function isBasic(ch: string | undefined): ch is BasicCode {
  return ch !== undefined && ch.length === 1 && BASIC_CODES.includes(ch);
}

class SignatureParser {
  pos = 0;

  constructor(private readonly sig: string) {}

  fail(why: string): never {
    throw new BusError('DBUS_INVALID_ARGS', `bad D-Bus signature '${this.sig}': ${why}`);
  }

  parseOne(arrays: number, structs: number): DBusTypeNode {
    const ch = this.sig[this.pos];
    if (ch === undefined) this.fail('unexpected end');
    this.pos++;
    if (isBasic(ch)) return { kind: 'basic', code: ch };
    if (ch === 'v') return { kind: 'variant' };
    if (ch === 'a') {
      if (arrays + 1 > MAX_NESTING) this.fail('arrays nested too deeply');
      if (this.sig[this.pos] === '{') {
        this.pos++;
        const key = this.sig[this.pos];
        if (!isBasic(key)) this.fail('a dictionary key must be a basic type');
        this.pos++;
        const value = this.parseOne(arrays + 1, structs + 1);
        if (this.sig[this.pos] !== '}') this.fail('a dictionary entry holds exactly two types');
        this.pos++;
        return { kind: 'dict', key, value };
      }
      return { kind: 'array', element: this.parseOne(arrays + 1, structs) };
    }
    if (ch === '(') {
      if (structs + 1 > MAX_NESTING) this.fail('structs nested too deeply');
      const fields: DBusTypeNode[] = [];
      while (this.sig[this.pos] !== ')') {
        if (this.pos >= this.sig.length) this.fail('unterminated struct');
        fields.push(this.parseOne(arrays, structs + 1));
      }
      this.pos++;
      if (fields.length === 0) this.fail('empty struct');
      return { kind: 'struct', fields };
    }
    return this.fail(`unexpected '${ch}' at ${this.pos - 1}`);
  }
}

/** Split a signature into its complete types. Throws BusError DBUS_INVALID_ARGS if malformed. */
export function parseSignature(sig: string): CompleteType[] {
  const parser = new SignatureParser(sig);
  if (sig.length > MAX_SIGNATURE_LENGTH) parser.fail('longer than 255 characters');
  const types: CompleteType[] = [];
  while (parser.pos < sig.length) {
    const start = parser.pos;
    const node = parser.parseOne(0, 0);
    types.push({ text: sig.slice(start, parser.pos), node });
  }
  return types;
}

/** The single complete type `sig` (e.g. a property or variant type). Throws if it is not exactly one. */
export function parseSingleType(sig: string): DBusTypeNode {
  const types = parseSignature(sig);
  const only = types[0];
  if (types.length !== 1 || only === undefined) {
    throw new BusError('DBUS_INVALID_ARGS', `D-Bus signature '${sig}' is not a single complete type`);
  }
  return only.node;
}

export type ConformResult =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly problem: string };

/** Value ranges of the D-Bus integer types JavaScript numbers carry exactly (also used by wire-encode.ts). */
export const INT_RANGES: Readonly<Record<'y' | 'n' | 'q' | 'i' | 'u', readonly [number, number]>> = {
  y: [0, 0xff],
  n: [-0x8000, 0x7fff],
  q: [0, 0xffff],
  i: [-0x80000000, 0x7fffffff],
  u: [0, 0xffffffff],
};
const BIG_RANGES: Readonly<Record<'x' | 't', readonly [bigint, bigint]>> = {
  x: [-(2n ** 63n), 2n ** 63n - 1n],
  t: [0n, 2n ** 64n - 1n],
};
const OBJECT_PATH_RE = /^\/$|^(\/[A-Za-z0-9_]+)+$/;

class Mismatch extends Error {
  constructor(readonly problem: string) {
    super(problem);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function isSignatureText(value: string): boolean {
  try {
    parseSignature(value);
    return true;
  } catch {
    return false;
  }
}

function conformBasic(code: BasicCode, value: unknown, at: string): unknown {
  switch (code) {
    case 'b':
      if (typeof value === 'boolean') return value;
      break;
    case 's':
      if (typeof value === 'string' && !value.includes('\0')) return value;
      break;
    case 'o':
      if (typeof value === 'string' && OBJECT_PATH_RE.test(value)) return value;
      break;
    case 'g':
      if (typeof value === 'string' && isSignatureText(value)) return value;
      break;
    case 'd':
      if (typeof value === 'number') return value;
      break;
    case 'x':
    case 't': {
      const [lo, hi] = BIG_RANGES[code];
      const big =
        typeof value === 'bigint' ? value : Number.isSafeInteger(value) ? BigInt(value as number) : undefined;
      if (big !== undefined && big >= lo && big <= hi) return big;
      break;
    }
    case 'h':
      throw new Mismatch(`${at}: unix file descriptors (h) are not supported`);
    default: {
      const [lo, hi] = INT_RANGES[code];
      if (typeof value === 'number' && Number.isInteger(value) && value >= lo && value <= hi) return value;
    }
  }
  throw new Mismatch(`${at}: expected D-Bus type '${code}', got ${describe(value)}`);
}

function conformKey(code: BasicCode, key: string, at: string): void {
  if (code === 's' || code === 'o' || code === 'g') {
    conformBasic(code, key, at);
  } else if (code === 'b') {
    if (key !== 'true' && key !== 'false') {
      throw new Mismatch(`${at}: dictionary key '${key}' is not a boolean`);
    }
  } else if (code === 'x' || code === 't') {
    if (!/^-?\d+$/.test(key)) throw new Mismatch(`${at}: dictionary key '${key}' is not an integer`);
    conformBasic(code, BigInt(key), at);
  } else {
    conformBasic(code, Number(key), at);
  }
}

function conform(node: DBusTypeNode, value: unknown, at: string): unknown {
  switch (node.kind) {
    case 'basic':
      return conformBasic(node.code, value, at);
    case 'variant': {
      if (!(value instanceof Variant)) {
        throw new Mismatch(`${at}: expected a Variant, got ${describe(value)}`);
      }
      const inner = value as Variant<unknown>;
      let innerNode: DBusTypeNode;
      try {
        innerNode = parseSingleType(inner.signature);
      } catch {
        throw new Mismatch(`${at}: Variant has a bad signature '${inner.signature}'`);
      }
      return new Variant(inner.signature, conform(innerNode, inner.value, `${at}<${inner.signature}>`));
    }
    case 'array': {
      if (node.element.kind === 'basic' && node.element.code === 'y') {
        if (Buffer.isBuffer(value)) return value;
        if (value instanceof Uint8Array) return Buffer.from(value);
      }
      if (!Array.isArray(value)) throw new Mismatch(`${at}: expected an array, got ${describe(value)}`);
      const items: unknown[] = value;
      const out = items.map((item, i) => conform(node.element, item, `${at}[${i}]`));
      return node.element.kind === 'basic' && node.element.code === 'y' ? Buffer.from(out as number[]) : out;
    }
    case 'dict': {
      if (typeof value !== 'object' || value === null || Array.isArray(value) || Buffer.isBuffer(value)) {
        throw new Mismatch(`${at}: expected a dictionary object, got ${describe(value)}`);
      }
      const entries = Object.entries(value).map(([key, item]): [string, unknown] => {
        conformKey(node.key, key, `${at}{${key}}`);
        return [key, conform(node.value, item, `${at}.${key}`)];
      });
      return Object.fromEntries(entries);
    }
    case 'struct': {
      if (!Array.isArray(value) || value.length !== node.fields.length) {
        throw new Mismatch(
          `${at}: expected a struct of ${node.fields.length} fields, got ${describe(value)}`,
        );
      }
      const fields: unknown[] = value;
      return node.fields.map((field, i) => conform(field, fields[i], `${at}(${i})`));
    }
  }
}

/**
 * Check that `value` fits `node` and return the normalised value, or a problem naming where it does not
 * fit (`where` prefixes the path, e.g. `controller_list[2].traddr`).
 */
export function conformValue(node: DBusTypeNode, value: unknown, where: string): ConformResult {
  try {
    return { ok: true, value: conform(node, value, where) };
  } catch (err) {
    if (err instanceof Mismatch) return { ok: false, problem: err.problem };
    throw err;
  }
}

interface BasicTypes {
  y: number;
  b: boolean;
  n: number;
  q: number;
  i: number;
  u: number;
  x: bigint;
  t: bigint;
  d: number;
  s: string;
  o: string;
  g: string;
  v: Variant<unknown>;
}

/**
 * The TypeScript type of a single complete D-Bus type: basic types, `v`, `ay` (Buffer), arrays and
 * dictionaries with basic keys (plain objects keyed by the key's text). Structs map to `unknown[]`.
 */
export type DBusValue<S extends string> = S extends keyof BasicTypes
  ? BasicTypes[S]
  : S extends 'ay'
    ? Buffer
    : S extends `a{${infer K}${infer V}}`
      ? K extends keyof BasicTypes
        ? Record<string, DBusValue<V>>
        : unknown
      : S extends `a${infer E}`
        ? DBusValue<E>[]
        : S extends `(${string})`
          ? unknown[]
          : unknown;
