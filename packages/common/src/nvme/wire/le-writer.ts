/**
 * Fixed-size little-endian writer: allocates one zero-filled array (so reserved bytes are 0) and puts
 * fields at absolute offsets taken from the spec tables.
 *
 * Pure: no I/O. Encoders are given values by our own code, so a value that does not fit its field
 * (negative, fractional, too wide, a string longer than its field) is a programming error: it throws
 * WireError WIRE_ENCODE_RANGE naming the structure and field instead of writing something truncated.
 * Text: UTF-8 (ASCII in practice); NUL-padded fields keep at least one NUL terminator, space-padded
 * fields (SN, MN, FR) may fill the whole width.
 *
 * Used by: every encoder in nvme/wire/.
 * Tests:   le-writer.test.ts, and each encoder's tests against independently built bytes.
 */
import { WireError } from '../../errors.js';

const utf8 = new TextEncoder();

export type TextPad = 'nul' | 'space';

/** `value` when it is an integer in 0..max; otherwise WIRE_ENCODE_RANGE naming `what`. */
export function checkedField(what: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new WireError('WIRE_ENCODE_RANGE', `${what}: ${value} is not an integer in 0..${max}`);
  }
  return value;
}

export class LeWriter {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  readonly #what: string;

  constructor(size: number, what = 'data') {
    this.#what = what;
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new WireError('WIRE_ENCODE_RANGE', `${what}: invalid size ${size}`);
    }
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }

  u8At(offset: number, value: number, field = 'u8'): this {
    this.#check(offset, 1);
    this.#view.setUint8(offset, this.#int(value, 0xff, field));
    return this;
  }

  u16At(offset: number, value: number, field = 'u16'): this {
    this.#check(offset, 2);
    this.#view.setUint16(offset, this.#int(value, 0xffff, field), true);
    return this;
  }

  u24At(offset: number, value: number, field = 'u24'): this {
    this.#check(offset, 3);
    const v = this.#int(value, 0xffffff, field);
    this.#view.setUint16(offset, v & 0xffff, true);
    this.#view.setUint8(offset + 2, v >>> 16);
    return this;
  }

  u32At(offset: number, value: number, field = 'u32'): this {
    this.#check(offset, 4);
    this.#view.setUint32(offset, this.#int(value, 0xffffffff, field), true);
    return this;
  }

  /** 64-bit field from a bigint (0..2^64-1) or a safe non-negative integer. */
  u64At(offset: number, value: bigint | number, field = 'u64'): this {
    this.#check(offset, 8);
    let v: bigint;
    if (typeof value === 'number') {
      v = BigInt(this.#int(value, Number.MAX_SAFE_INTEGER, field));
    } else {
      if (value < 0n || value > 0xffff_ffff_ffff_ffffn) {
        throw new WireError('WIRE_ENCODE_RANGE', `${this.#what} ${field}: ${value} does not fit 64 bits`);
      }
      v = value;
    }
    this.#view.setBigUint64(offset, v, true);
    return this;
  }

  /** Copy src to offset; with `width`, src must fit within width bytes (the rest stays zero). */
  bytesAt(offset: number, src: Uint8Array, width = src.length, field = 'bytes'): this {
    if (src.length > width) {
      throw new WireError(
        'WIRE_ENCODE_RANGE',
        `${this.#what} ${field}: ${src.length} bytes do not fit a ${width}-byte field`,
      );
    }
    this.#check(offset, width);
    this.bytes.set(src, offset);
    return this;
  }

  /** Write a fixed-width text field. 'nul' keeps a terminating NUL; 'space' pads with 0x20. */
  textAt(offset: number, width: number, text: string, pad: TextPad, field = 'text'): this {
    const encoded = utf8.encode(text);
    const max = pad === 'nul' ? width - 1 : width;
    if (encoded.length > max) {
      throw new WireError(
        'WIRE_ENCODE_RANGE',
        `${this.#what} ${field}: ${encoded.length} bytes do not fit a ${width}-byte field`,
      );
    }
    this.#check(offset, width);
    this.bytes.set(encoded, offset);
    if (pad === 'space') this.bytes.fill(0x20, offset + encoded.length, offset + width);
    return this;
  }

  #int(value: number, max: number, field: string): number {
    return checkedField(`${this.#what} ${field}`, value, max);
  }

  #check(offset: number, n: number): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + n > this.bytes.length) {
      throw new WireError(
        'WIRE_ENCODE_RANGE',
        `${this.#what}: writing ${n} bytes at offset ${offset} passes the end (${this.bytes.length} bytes)`,
      );
    }
  }
}
