/**
 * Bounds-checked little-endian reader over a byte array (NVMe is little-endian throughout).
 *
 * Pure: no I/O. Offers a cursor (`u8()`, `u16()`, … advance it) and absolute reads (`u8At(off)`, …)
 * for fixed layouts whose offsets come straight from the spec tables. Every read that would pass the
 * end throws WireError WIRE_TRUNCATED naming the structure; nothing is ever read out of bounds.
 * 64-bit fields come back as bigint (`u64`) or as a checked number (`u64Safe`, WIRE_FIELD_RANGE
 * above Number.MAX_SAFE_INTEGER). Text fields decode with `decodeText` (cut at the first NUL,
 * trailing blanks trimmed).
 *
 * Used by: every decoder in nvme/wire/.
 * Tests:   le-reader.test.ts
 */
import { WireError } from '../../errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Decode a fixed-width NVMe text field: stop at the first NUL (C string semantics), then drop trailing
 * spaces. Handles both NUL-padded (NQN, TRADDR, TRSVCID) and space-padded (SN, MN, FR) fields. Bytes
 * that are not valid UTF-8 become U+FFFD; this never throws.
 */
export function decodeText(field: Uint8Array): string {
  let end = field.indexOf(0);
  if (end < 0) end = field.length;
  while (end > 0 && field[end - 1] === 0x20) end--;
  return utf8.decode(field.subarray(0, end));
}

/** Convert a 64-bit value to a number, or throw WIRE_FIELD_RANGE when it is not exactly representable. */
export function safeNumber(value: bigint, what: string, offset?: number): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new WireError('WIRE_FIELD_RANGE', `${what}: value ${value} does not fit a safe integer`, {
      offset,
    });
  }
  return Number(value);
}

export class LeReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #what: string;
  #pos = 0;

  /** `what` names the structure in error messages ("CapsuleCmd", "discovery log entry 3"). */
  constructor(bytes: Uint8Array, what = 'data') {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#what = what;
  }

  get length(): number {
    return this.#bytes.length;
  }

  /** Cursor position. */
  get offset(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#bytes.length - this.#pos;
  }

  /** Move the cursor to an absolute offset (0..length). */
  seek(offset: number): this {
    this.#check(offset, 0);
    this.#pos = offset;
    return this;
  }

  skip(n: number): this {
    this.#check(this.#pos, n);
    this.#pos += n;
    return this;
  }

  u8(): number {
    const v = this.u8At(this.#pos);
    this.#pos += 1;
    return v;
  }

  u16(): number {
    const v = this.u16At(this.#pos);
    this.#pos += 2;
    return v;
  }

  u32(): number {
    const v = this.u32At(this.#pos);
    this.#pos += 4;
    return v;
  }

  u64(): bigint {
    const v = this.u64At(this.#pos);
    this.#pos += 8;
    return v;
  }

  /** A view (no copy) of the next n bytes. */
  bytes(n: number): Uint8Array {
    const v = this.bytesAt(this.#pos, n);
    this.#pos += n;
    return v;
  }

  text(n: number): string {
    return decodeText(this.bytes(n));
  }

  u8At(offset: number): number {
    this.#check(offset, 1);
    return this.#view.getUint8(offset);
  }

  u16At(offset: number): number {
    this.#check(offset, 2);
    return this.#view.getUint16(offset, true);
  }

  /** Unsigned 24-bit value (IEEE OUI). */
  u24At(offset: number): number {
    this.#check(offset, 3);
    return this.#view.getUint16(offset, true) | (this.#view.getUint8(offset + 2) << 16);
  }

  u32At(offset: number): number {
    this.#check(offset, 4);
    return this.#view.getUint32(offset, true);
  }

  u64At(offset: number): bigint {
    this.#check(offset, 8);
    return this.#view.getBigUint64(offset, true);
  }

  /** A 64-bit field as a number; WIRE_FIELD_RANGE when above Number.MAX_SAFE_INTEGER. */
  u64SafeAt(offset: number, field: string): number {
    return safeNumber(this.u64At(offset), `${this.#what} ${field}`, offset);
  }

  /** A view (no copy) of n bytes at offset. */
  bytesAt(offset: number, n: number): Uint8Array {
    this.#check(offset, n);
    return this.#bytes.subarray(offset, offset + n);
  }

  /** A copy of n bytes at offset (for values that outlive the input buffer, such as UUIDs). */
  copyAt(offset: number, n: number): Uint8Array {
    return this.bytesAt(offset, n).slice();
  }

  textAt(offset: number, n: number): string {
    return decodeText(this.bytesAt(offset, n));
  }

  #check(offset: number, n: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(n) || offset < 0 || n < 0) {
      throw new WireError('WIRE_TRUNCATED', `${this.#what}: invalid read of ${n} bytes at offset ${offset}`, {
        offset,
      });
    }
    if (offset + n > this.#bytes.length) {
      throw new WireError(
        'WIRE_TRUNCATED',
        `${this.#what}: reading ${n} bytes at offset ${offset} passes the end (${this.#bytes.length} bytes)`,
        { offset },
      );
    }
  }
}
