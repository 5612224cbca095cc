/**
 * Test-only byte builders for NVMe/TCP wire tests, written independently of nvme/wire/ (no LeWriter,
 * no DataView, no table CRC) so that a bug in the codec cannot hide in the expected bytes too (the
 * pg-protocol BufferList lesson).
 *
 * Pure; never imported by daemon code. Throws plain Errors on misuse (these are test fixtures).
 *
 * Used by: nvme/wire/*.test.ts
 * Tests:   exercised by those tests (crc32cBitwise is checked against the published check value).
 */
import { WireError } from '../errors.js';

/**
 * Run fn and return the WireError code it threw, undefined if it returned, or a description of any
 * other thrown value (so `expect(wireErrorCode(…)).toBe('WIRE_…')` also fails on non-WireErrors).
 */
export function wireErrorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof WireError ? err.code : `not a WireError: ${String(err)}`;
  }
  return undefined;
}

/**
 * Parse a hex dump as printed in the wire doc: optional "0000:" offset prefixes, bytes as two hex digits
 * separated by blanks, "|" separators and "(…)" comments ignored.
 */
export function hexBytes(dump: string): Uint8Array {
  const out: number[] = [];
  for (const rawLine of dump.split('\n')) {
    const line = rawLine.replace(/\(.*?\)/g, '').replace(/^\s*[0-9a-fA-F]{4}:/, '');
    for (const token of line.split(/[\s|]+/)) {
      if (token === '') continue;
      if (!/^[0-9a-fA-F]{2}$/.test(token)) throw new Error(`hexBytes: bad token '${token}'`);
      out.push(parseInt(token, 16));
    }
  }
  return Uint8Array.from(out);
}

/** Bit-at-a-time CRC-32C (reflected 0x82F63B78), the slow reference for the table implementation. */
export function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) {
      const lsb = crc & 1;
      crc = crc >>> 1;
      if (lsb) crc ^= 0x82f63b78;
    }
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The 4 little-endian bytes of a 32-bit value. */
export function le32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

export function concatBytes(...parts: (Uint8Array | readonly number[])[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A zero-filled buffer with byte-at-a-time little-endian setters at absolute offsets. */
export class ByteBuilder {
  readonly bytes: Uint8Array;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }

  u8(offset: number, value: number): this {
    this.bytes[offset] = value & 0xff;
    return this;
  }

  u16(offset: number, value: number): this {
    return this.u8(offset, value).u8(offset + 1, value >>> 8);
  }

  u32(offset: number, value: number): this {
    for (let i = 0; i < 4; i++) this.u8(offset + i, Math.floor(value / 2 ** (8 * i)));
    return this;
  }

  u64(offset: number, value: bigint): this {
    let v = value;
    for (let i = 0; i < 8; i++) {
      this.u8(offset + i, Number(v & 0xffn));
      v >>= 8n;
    }
    return this;
  }

  /** ASCII characters, one byte each (no padding written: the buffer is zero-filled). */
  ascii(offset: number, text: string): this {
    for (let i = 0; i < text.length; i++) this.u8(offset + i, text.charCodeAt(i));
    return this;
  }

  fill(offset: number, length: number, byte: number): this {
    this.bytes.fill(byte, offset, offset + length);
    return this;
  }

  raw(offset: number, src: Uint8Array | readonly number[]): this {
    this.bytes.set(src, offset);
    return this;
  }
}
