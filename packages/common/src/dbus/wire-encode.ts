/**
 * A one-pass encoder for outgoing D-Bus messages. It writes the exact bytes that @particle/dbus-next 0.11.4's
 * `marshallMessage` (lib/marshall-compat.js + lib/message.js) writes for the same message object: little-endian,
 * header fields in the library's order (path, interface, member, errorName, replySerial, destination, sender,
 * signature, unixFd), the same padding. It writes into one growable Buffer, with alignment counted from the
 * start of the message. The library goes through an intermediate format and a put-stream with a fresh buffer
 * per array, which costs ~60 ms for a 1.3 MB `aa{ss}` reply (issue 9). bus.ts installs this encoder in place of
 * the library's send path.
 *
 * Contract, for any message object `m`:
 * - `encodeMessage(m)` returns bytes ⇒ the library would write these same bytes;
 * - it throws BusError DBUS_INVALID_ARGS ⇒ the library would throw too (a bad handler value fails loudly,
 *   and the error names the signature and the argument);
 * - it throws EncodeUnsupportedError ⇒ the caller must use the library's own path, which then succeeds or
 *   throws as it always did. This covers unix fds (`h`), signatures outside the D-Bus grammar (or beyond
 *   signature.ts's limits), and values the library handles in odd ways: a Variant where an array element
 *   or a dictionary value of another type is expected, an `ay` given something that is neither an array
 *   nor a Uint8Array, a non-string Variant signature, an object given for `x`/`t`, a non-array body.
 *
 * The library's own rules are kept, odd ones included: booleans also take 0 and 1; `x` takes only
 * -(2^63-1)…2^63-1; numbers and strings for `x`/`t` go through `BigInt(String(v))`; `d` writes -0 as +0;
 * a Buffer given for a basic type is read as UTF-8 text; object paths are not checked; dictionary keys
 * of integer types are read with `parseInt`, but `u` and `d` keys are not converted (a non-empty
 * dictionary with such keys fails); a header field is written only when its value is truthy; a message
 * without a type fails (the library's METHOD_CALL default reads a constant that does not exist).
 *
 * Pure: no I/O. Tests: wire-encode.test.ts, wire-encode.prop.test.ts (byte-for-byte against the library).
 */
import { Variant } from '@particle/dbus-next';
import { StasError } from '../errors.js';
import { BusError } from './bus-error.js';
import { INT_RANGES, parseSignature, type BasicCode, type DBusTypeNode } from './signature.js';

/** The message is one the library must encode itself (see the module header). */
export class EncodeUnsupportedError extends StasError {
  constructor(message: string) {
    super('DBUS_ENCODE_UNSUPPORTED', message);
    this.name = 'EncodeUnsupportedError';
  }
}

/** The fields of a dbus-next `Message` that go on the wire (a `Message` instance fits). */
export interface OutgoingMessage {
  readonly type?: unknown;
  readonly flags?: unknown;
  readonly serial?: unknown;
  readonly path?: unknown;
  readonly interface?: unknown;
  readonly member?: unknown;
  readonly errorName?: unknown;
  readonly replySerial?: unknown;
  readonly destination?: unknown;
  readonly sender?: unknown;
  readonly signature?: unknown;
  readonly body?: unknown;
  readonly unixFd?: unknown;
}

type EncNode =
  | { readonly kind: 'basic'; readonly sig: string; readonly code: BasicCode }
  | { readonly kind: 'variant'; readonly sig: string }
  | { readonly kind: 'bytes'; readonly sig: string }
  | { readonly kind: 'array'; readonly sig: string; readonly element: EncNode; readonly align8: boolean }
  | { readonly kind: 'dict'; readonly sig: string; readonly key: BasicCode; readonly value: EncNode }
  | { readonly kind: 'struct'; readonly sig: string; readonly fields: readonly EncNode[] };

const VARIANT_NODE: EncNode = { kind: 'variant', sig: 'v' };
const BYTES_NODE: EncNode = { kind: 'bytes', sig: 'ay' };
const MAX_INT64 = 2n ** 63n - 1n;
/** The library's lower bound for `x` is -(2^63 - 1), one above the real INT64 minimum. */
const MIN_INT64 = -MAX_INT64;
const MAX_UINT64 = 2n ** 64n - 1n;
const CACHE_LIMIT = 512;
/** Strings up to this length are copied by a loop while they are ASCII; longer ones by Buffer.write. */
const SHORT_STRING = 64;
const LITTLE_ENDIAN = 0x6c; // 'l'
const PROTOCOL_VERSION = 1;
/** Header fields in the library's order: name, code, type. */
const HEADER_FIELDS = [
  ['path', 1, 'o'],
  ['interface', 2, 's'],
  ['member', 3, 's'],
  ['errorName', 4, 's'],
  ['replySerial', 5, 'u'],
  ['destination', 6, 's'],
  ['sender', 7, 's'],
  ['signature', 8, 'g'],
  ['unixFd', 9, 'u'],
] as const satisfies readonly (readonly [keyof OutgoingMessage, number, BasicCode])[];
/** The characters the library's signature parser knows (it accepts more than the D-Bus grammar). */
const LIBRARY_SIGNATURE_CHARS = new Set('(){}ybnqiuxtdsogarvehm*?@&^');

/** A value that does not fit its type; encodeMessage turns it into a BusError with the argument named. */
class ValueProblem extends Error {}

function fail(sig: string, value: unknown, expected: string): never {
  throw new ValueProblem(`'${sig}' needs ${expected}, got ${describeValue(value)}`);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Buffer.isBuffer(value)) return 'a Buffer';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (isVariant(value)) {
    const sig: unknown = value.signature; // typed string, but any value at run time
    return `a Variant('${String(sig)}')`;
  }
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    default:
      return typeof value;
  }
}

// ---- signatures ------------------------------------------------------------------------------------

function compile(node: DBusTypeNode): EncNode {
  switch (node.kind) {
    case 'basic':
      if (node.code === 'h') throw new EncodeUnsupportedError('unix fds (h) are sent by the library');
      return { kind: 'basic', sig: node.code, code: node.code };
    case 'variant':
      return VARIANT_NODE;
    case 'array': {
      const element = compile(node.element);
      if (element.kind === 'basic' && element.code === 'y') return BYTES_NODE;
      const first = element.sig[0];
      const align8 = first === 'x' || first === 't' || first === 'd' || first === '(';
      return { kind: 'array', sig: `a${element.sig}`, element, align8 };
    }
    case 'dict': {
      if (node.key === 'h') throw new EncodeUnsupportedError('unix fds (h) are sent by the library');
      const value = compile(node.value);
      return { kind: 'dict', sig: `a{${node.key}${value.sig}}`, key: node.key, value };
    }
    case 'struct': {
      const fields = node.fields.map(compile);
      return { kind: 'struct', sig: `(${fields.map((f) => f.sig).join('')})`, fields };
    }
  }
}

/** Complete types of a signature, or the reason the library must encode it. */
const bodyTypeCache = new Map<string, readonly EncNode[] | string>();
/** Single complete types (Variant signatures), or the reason the library must encode them. */
const singleTypeCache = new Map<string, EncNode | string>();

function remember<T>(cache: Map<string, T>, key: string, value: T): T {
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, value);
  return value;
}

function compileSignature(sig: string): readonly EncNode[] | string {
  try {
    return parseSignature(sig).map((t) => compile(t.node));
  } catch (err) {
    if (err instanceof EncodeUnsupportedError) return err.message;
    return `signature '${sig}' is outside what this encoder handles`;
  }
}

function bodyTypesOf(sig: string): readonly EncNode[] {
  const hit = bodyTypeCache.get(sig) ?? remember(bodyTypeCache, sig, compileSignature(sig));
  if (typeof hit === 'string') throw new EncodeUnsupportedError(hit);
  return hit;
}

function singleTypeOf(sig: string): EncNode {
  let hit = singleTypeCache.get(sig);
  if (hit === undefined) {
    const types = compileSignature(sig);
    const only = types[0];
    hit = remember(
      singleTypeCache,
      sig,
      typeof types === 'string'
        ? types
        : types.length === 1 && only !== undefined
          ? only
          : `Variant signature '${sig}' is not one complete type`,
    );
  }
  if (typeof hit === 'string') throw new EncodeUnsupportedError(hit);
  return hit;
}

/** Why the library refuses `sig` as a value of type `g` (its own checks, looser than the grammar). */
function librarySignatureProblem(sig: string): string | undefined {
  if (sig.length > 0xff) return 'is longer than 255 characters';
  let depth = 0;
  for (let i = 0; i < sig.length; i++) {
    if (depth > 32) return 'nests structs deeper than 32';
    const c = sig[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
  }
  let pos = 0;
  const one = (c: string): boolean => {
    if (!LIBRARY_SIGNATURE_CHARS.has(c)) return false;
    if (c === 'a') {
      const next = sig[pos++];
      return next !== undefined && one(next);
    }
    if (c === '(' || c === '{') {
      const close = c === '(' ? ')' : '}';
      for (;;) {
        const next = sig[pos++];
        if (next === undefined) return false;
        if (next === close) return true;
        if (!one(next)) return false;
      }
    }
    return true;
  };
  while (pos < sig.length) {
    if (!one(sig[pos++] ?? '')) return 'is not a signature';
  }
  return undefined;
}

// ---- the buffer ------------------------------------------------------------------------------------

class Writer {
  buf: Buffer;
  pos = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  grow(n: number): void {
    let capacity = this.buf.length * 2;
    while (capacity < this.pos + n) capacity *= 2;
    const next = Buffer.allocUnsafe(capacity);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  align(n: number): void {
    let pad = (n - (this.pos & (n - 1))) & (n - 1);
    if (pad === 0) return;
    this.ensure(pad);
    const buf = this.buf;
    while (pad-- > 0) buf[this.pos++] = 0;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }

  u32(v: number): void {
    this.ensure(4);
    const buf = this.buf;
    const p = this.pos;
    buf[p] = v & 0xff;
    buf[p + 1] = (v >>> 8) & 0xff;
    buf[p + 2] = (v >>> 16) & 0xff;
    buf[p + 3] = (v >>> 24) & 0xff;
    this.pos = p + 4;
  }

  setU32(at: number, v: number): void {
    this.buf.writeUInt32LE(v, at);
  }

  /**
   * A `s` or `o` string: u32 byte length, UTF-8 bytes, NUL. False (and nothing written) if `s` holds a NUL
   * character, which D-Bus strings cannot carry.
   */
  string(s: string): boolean {
    this.align(4);
    const n = s.length;
    const start = this.pos + 4;
    let len = n;
    if (n <= SHORT_STRING) {
      this.ensure(5 + 3 * n);
      const buf = this.buf;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c === 0) return false;
        if (c >= 0x80) {
          if (s.includes('\0', i)) return false;
          len = buf.write(s, start, 'utf8');
          break;
        }
        buf[start + i] = c;
      }
    } else {
      if (s.includes('\0')) return false;
      len = Buffer.byteLength(s, 'utf8');
      this.ensure(5 + len);
      this.buf.write(s, start, len, 'utf8');
    }
    this.u32(len);
    this.buf[start + len] = 0;
    this.pos = start + len + 1;
    return true;
  }

  /** A signature: u8 length, ASCII, NUL (the caller checked it). */
  signature(s: string): void {
    const n = s.length;
    this.ensure(n + 2);
    const buf = this.buf;
    buf[this.pos++] = n;
    for (let i = 0; i < n; i++) buf[this.pos++] = s.charCodeAt(i);
    buf[this.pos++] = 0;
  }
}

// ---- values ----------------------------------------------------------------------------------------

function isVariant(value: unknown): value is Variant<unknown> {
  return typeof value === 'object' && value !== null && value.constructor === Variant;
}

function checkInteger(code: keyof typeof INT_RANGES, value: unknown): number {
  const [lo, hi] = INT_RANGES[code];
  if (typeof value !== 'number' || Math.floor(value) !== value || value < lo || value > hi) {
    fail(code, value, `an integer in ${lo}…${hi}`);
  }
  return value;
}

/** The library's 64-bit conversion: `BigInt(String(v))` unless `v` is a bigint, then its range check. */
function toInt64(code: 'x' | 't', value: unknown): bigint {
  let big: bigint;
  if (typeof value === 'bigint') {
    big = value;
  } else if (typeof value === 'number' || typeof value === 'string') {
    try {
      big = BigInt(String(value));
    } catch {
      return fail(code, value, 'a bigint or an integer');
    }
  } else if (typeof value === 'object' && value !== null) {
    throw new EncodeUnsupportedError(`'${code}' given an object is converted by the library`);
  } else {
    return fail(code, value, 'a bigint or an integer');
  }
  const [lo, hi] = code === 'x' ? [MIN_INT64, MAX_INT64] : [0n, MAX_UINT64];
  if (big < lo || big > hi) fail(code, value, `a value in ${lo}…${hi}`);
  return big;
}

function writeString(w: Writer, code: 's' | 'o', value: unknown): void {
  if (typeof value !== 'string' || !w.string(value)) fail(code, value, 'a string without NUL');
}

function writeBasic(w: Writer, code: BasicCode, raw: unknown): void {
  // The library reads a Buffer given for any basic type as UTF-8 text (and then checks that).
  const value = Buffer.isBuffer(raw) ? raw.toString() : raw;
  switch (code) {
    case 's':
    case 'o':
      writeString(w, code, value);
      return;
    case 'g': {
      if (typeof value !== 'string' || value.includes('\0')) fail(code, value, 'a string without NUL');
      const sig = value;
      const problem = librarySignatureProblem(sig);
      if (problem !== undefined) fail(code, value, `a signature (this one ${problem})`);
      w.signature(sig);
      return;
    }
    case 'y':
      w.u8(checkInteger(code, value));
      return;
    case 'b':
      if (typeof value !== 'boolean' && value !== 0 && value !== 1)
        fail(code, value, 'a boolean (or 0 or 1)');
      w.align(4);
      w.u32(value === true || value === 1 ? 1 : 0);
      return;
    case 'n':
    case 'q': {
      const v = checkInteger(code, value);
      w.align(2);
      w.ensure(2);
      w.buf[w.pos] = v & 0xff;
      w.buf[w.pos + 1] = (v >> 8) & 0xff;
      w.pos += 2;
      return;
    }
    case 'i':
    case 'u':
      w.align(4);
      w.u32(checkInteger(code, value));
      return;
    case 'x':
    case 't': {
      const big = toInt64(code, value);
      w.align(8);
      w.ensure(8);
      w.buf.writeBigUInt64LE(BigInt.asUintN(64, big), w.pos);
      w.pos += 8;
      return;
    }
    case 'd':
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(code, value, 'a finite number');
      w.align(8);
      w.ensure(8);
      // The library writes parseFloat(String(v)), which turns -0 into 0.
      w.buf.writeDoubleLE(value === 0 ? 0 : value, w.pos);
      w.pos += 8;
      return;
    case 'h':
      throw new EncodeUnsupportedError('unix fds (h) are sent by the library');
  }
}

function writeVariant(w: Writer, value: unknown): void {
  if (!isVariant(value)) fail('v', value, 'a Variant');
  const sig: unknown = value.signature;
  if (typeof sig !== 'string') throw new EncodeUnsupportedError('a Variant signature that is not a string');
  const node = singleTypeOf(sig);
  const inner: unknown = value.value;
  if (inner === undefined) fail(sig, inner, 'a value inside the Variant');
  // signature.ts's limits (255 characters, nesting) are within the library's checks of a `g` value.
  w.signature(sig);
  writeValue(w, node, inner);
}

/** An array element or dictionary value: the library treats a Variant there as a variant, whatever the type. */
function writeItem(w: Writer, node: EncNode, value: unknown): void {
  if (value === undefined || value === null) fail(node.sig, value, 'a value');
  if (node.kind !== 'variant' && isVariant(value)) {
    throw new EncodeUnsupportedError(`a Variant where '${node.sig}' is expected is converted by the library`);
  }
  writeValue(w, node, value);
}

function writeValue(w: Writer, node: EncNode, value: unknown): void {
  switch (node.kind) {
    case 'basic':
      if (value === undefined) fail(node.sig, value, 'a value');
      writeBasic(w, node.code, value);
      return;
    case 'variant':
      writeVariant(w, value);
      return;
    case 'bytes':
      writeBytes(w, value);
      return;
    case 'array': {
      if (!Array.isArray(value)) fail(node.sig, value, 'an array');
      const items: readonly unknown[] = value;
      w.align(4);
      const lengthAt = w.pos;
      w.u32(0);
      if (node.align8) w.align(8);
      const start = w.pos;
      const element = node.element;
      for (let i = 0; i < items.length; i++) writeItem(w, element, items[i]);
      w.setU32(lengthAt, w.pos - start);
      return;
    }
    case 'dict':
      writeDict(w, node.key, node.value, node.sig, value);
      return;
    case 'struct': {
      if (!Array.isArray(value)) fail(node.sig, value, 'an array (a struct)');
      const members: readonly unknown[] = value;
      const fields = node.fields;
      if (members.length !== fields.length) fail(node.sig, value, `a struct of ${fields.length} members`);
      w.align(8);
      for (let i = 0; i < fields.length; i++) {
        const field = fields[i];
        if (field !== undefined) writeValue(w, field, members[i]);
      }
      return;
    }
  }
}

function writeBytes(w: Writer, value: unknown): void {
  if (value === undefined || value === null) fail('ay', value, 'a Buffer or an array of bytes');
  if (value instanceof Uint8Array) {
    w.align(4);
    w.u32(value.length);
    w.ensure(value.length);
    w.buf.set(value, w.pos);
    w.pos += value.length;
    return;
  }
  if (!Array.isArray(value)) {
    throw new EncodeUnsupportedError(`'ay' given ${describeValue(value)} is converted by the library`);
  }
  const items: readonly unknown[] = value;
  w.align(4);
  w.u32(items.length);
  w.ensure(items.length);
  for (const item of items)
    w.buf[w.pos++] = checkInteger('y', Buffer.isBuffer(item) ? item.toString() : item);
}

function writeDict(w: Writer, key: BasicCode, valueNode: EncNode, sig: string, value: unknown): void {
  if (typeof value !== 'object' || value === null || value.constructor !== Object) {
    fail(sig, value, 'a plain object');
  }
  const dict = value as Record<string, unknown>;
  w.align(4);
  const lengthAt = w.pos;
  w.u32(0);
  w.align(8);
  const start = w.pos;
  const keys = Object.keys(dict);
  if (key === 's' && valueNode.kind === 'basic' && valueNode.code === 's') {
    // a{ss}, the shape of stafd's and stacd's big replies
    for (const k of keys) {
      w.align(8);
      writeString(w, 's', k);
      const v = dict[k];
      if (typeof v === 'string') writeString(w, 's', v);
      else writeItem(w, valueNode, v);
    }
  } else {
    for (const k of keys) {
      w.align(8);
      writeBasic(w, key, dictKey(key, k, sig));
      writeItem(w, valueNode, dict[k]);
    }
  }
  w.setU32(lengthAt, w.pos - start);
}

/** The library's reading of an object key for a key type. */
function dictKey(code: BasicCode, k: string, sig: string): unknown {
  switch (code) {
    case 'y':
    case 'n':
    case 'q':
    case 'i':
    case 'x':
    case 't':
      return parseInt(k);
    case 'b':
      if (k !== 'true' && k !== 'false') fail(sig, k, "a key 'true' or 'false'");
      return k === 'true';
    case 'u':
    case 'd':
      throw new ValueProblem(`'${sig}': @particle/dbus-next cannot send dictionaries with '${code}' keys`);
    default:
      return k;
  }
}

// ---- messages --------------------------------------------------------------------------------------

function headerByte(what: string, value: unknown): number {
  try {
    return checkInteger('y', Buffer.isBuffer(value) ? value.toString() : value);
  } catch (err) {
    if (err instanceof ValueProblem) throw headerError(what, err);
    throw err;
  }
}

function headerError(what: string, problem: ValueProblem): BusError {
  return new BusError('DBUS_INVALID_ARGS', `cannot encode D-Bus message: ${what}: ${problem.message}`);
}

/**
 * The bytes of `msg` as @particle/dbus-next 0.11.4 would send them. Throws BusError DBUS_INVALID_ARGS for a
 * value the library would refuse, EncodeUnsupportedError for a message the library must encode itself.
 */
export function encodeMessage(msg: OutgoingMessage): Buffer {
  if (!msg.serial) throw new BusError('DBUS_INVALID_ARGS', 'cannot encode D-Bus message: missing serial');
  // The library means to default a missing type to METHOD_CALL but reads an undefined constant and throws.
  if (!msg.type) throw new BusError('DBUS_INVALID_ARGS', 'cannot encode D-Bus message: missing type');
  // Defaults as the library's destructuring has them: for `undefined` only.
  const sigValue = msg.signature === undefined ? '' : msg.signature;
  if (typeof sigValue !== 'string') throw new EncodeUnsupportedError('a signature that is not a string');
  const bodyValue = msg.body === undefined ? [] : msg.body;
  if (!Array.isArray(bodyValue)) throw new EncodeUnsupportedError('a body that is not an array');
  const body: readonly unknown[] = bodyValue;
  const types = bodyTypesOf(sigValue);
  if (types.length !== body.length) {
    throw new BusError(
      'DBUS_INVALID_ARGS',
      `cannot encode D-Bus message: signature '${sigValue}' takes ${types.length} arguments, got ${body.length}`,
    );
  }

  const w = new Writer(256);
  w.u8(LITTLE_ENDIAN);
  w.u8(headerByte('type', msg.type));
  w.u8(headerByte('flags', msg.flags || 0));
  w.u8(PROTOCOL_VERSION);
  w.u32(0); // body length, filled in below
  try {
    w.u32(checkInteger('u', msg.serial));
  } catch (err) {
    if (err instanceof ValueProblem) throw headerError('serial', err);
    throw err;
  }
  w.u32(0); // header fields array length, filled in below
  const fieldsStart = w.pos; // 16: already 8-aligned
  for (const [name, code, type] of HEADER_FIELDS) {
    // The library sends the fd count as unixFd, which is 0 (and so absent) for any body this encoder handles.
    const value = name === 'signature' ? sigValue : name === 'unixFd' && sigValue !== '' ? 0 : msg[name];
    if (!value) continue;
    w.align(8);
    w.u8(code);
    w.signature(type);
    try {
      writeBasic(w, type, value);
    } catch (err) {
      if (err instanceof ValueProblem) throw headerError(`header field ${name}`, err);
      throw err;
    }
  }
  w.setU32(12, w.pos - fieldsStart);
  w.align(8);

  const bodyStart = w.pos;
  for (let i = 0; i < types.length; i++) {
    const node = types[i];
    if (node === undefined) continue;
    try {
      writeValue(w, node, body[i]);
    } catch (err) {
      if (err instanceof ValueProblem) {
        throw new BusError(
          'DBUS_INVALID_ARGS',
          `cannot encode D-Bus message with signature '${sigValue}': argument ${i + 1} ('${node.sig}'): ${err.message}`,
        );
      }
      throw err;
    }
  }
  w.setU32(4, w.pos - bodyStart);
  return w.buf.subarray(0, w.pos);
}
