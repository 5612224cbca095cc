import { describe, expect, it } from 'vitest';
import { WireError } from '../../errors.js';
import { ByteBuilder, wireErrorCode as codeOf } from '../../testing/wire-bytes.js';
import { LeReader, decodeText, safeNumber } from './le-reader.js';

describe('LeReader', () => {
  const bytes = new ByteBuilder(16)
    .u8(0, 0xab)
    .u16(1, 0x1234)
    .u32(3, 0xdeadbeef)
    .u64(7, 0x0102030405060708n)
    .u8(15, 0x7f).bytes;

  it('reads little-endian values with the cursor', () => {
    const r = new LeReader(bytes);
    expect(r.u8()).toBe(0xab);
    expect(r.u16()).toBe(0x1234);
    expect(r.u32()).toBe(0xdeadbeef);
    expect(r.u64()).toBe(0x0102030405060708n);
    expect(r.offset).toBe(15);
    expect(r.remaining).toBe(1);
    expect(r.bytes(1)).toEqual(Uint8Array.of(0x7f));
  });

  it('reads at absolute offsets without moving the cursor', () => {
    const r = new LeReader(bytes);
    expect(r.u16At(1)).toBe(0x1234);
    expect(r.u24At(3)).toBe(0xadbeef);
    expect(r.u64At(7)).toBe(0x0102030405060708n);
    expect(r.offset).toBe(0);
    const safe = new ByteBuilder(8).u64(0, 2n ** 53n - 1n).bytes;
    expect(new LeReader(safe).u64SafeAt(0, 'x')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('throws WIRE_TRUNCATED instead of reading past the end', () => {
    const r = new LeReader(bytes, 'thing');
    expect(codeOf(() => r.u32At(13))).toBe('WIRE_TRUNCATED');
    expect(codeOf(() => r.bytesAt(10, 7))).toBe('WIRE_TRUNCATED');
    expect(codeOf(() => r.seek(17))).toBe('WIRE_TRUNCATED');
    expect(codeOf(() => r.u8At(-1))).toBe('WIRE_TRUNCATED');
    expect(codeOf(() => new LeReader(new Uint8Array(3)).skip(2).u16())).toBe('WIRE_TRUNCATED');
  });

  it('names the structure and offset in the error', () => {
    try {
      new LeReader(new Uint8Array(4), 'CQE').u32At(2);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(WireError);
      expect((err as WireError).message).toContain('CQE');
      expect((err as WireError).offset).toBe(2);
    }
  });

  it('refuses 64-bit values above 2^53 as numbers (WIRE_FIELD_RANGE)', () => {
    const big = new ByteBuilder(8).u64(0, 1n << 60n).bytes;
    expect(codeOf(() => new LeReader(big).u64SafeAt(0, 'LPO'))).toBe('WIRE_FIELD_RANGE');
    expect(safeNumber(BigInt(Number.MAX_SAFE_INTEGER), 'x')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('copyAt returns an independent copy', () => {
    const src = Uint8Array.of(1, 2, 3);
    const copy = new LeReader(src).copyAt(0, 3);
    src[0] = 9;
    expect(copy).toEqual(Uint8Array.of(1, 2, 3));
  });
});

describe('decodeText', () => {
  const field = (s: string, width: number): Uint8Array => new ByteBuilder(width).ascii(0, s).bytes;

  it('stops at the first NUL', () => {
    expect(decodeText(field('nqn.a\0junk', 16))).toBe('nqn.a');
  });

  it('trims trailing blanks of space-padded and mixed-padded fields', () => {
    expect(decodeText(field('SN123     ', 10))).toBe('SN123');
    expect(decodeText(field('4420   ', 32))).toBe('4420');
  });

  it('keeps leading blanks and gives "" for an all-NUL or all-blank field', () => {
    expect(decodeText(field('  x', 4))).toBe('  x');
    expect(decodeText(new Uint8Array(8))).toBe('');
    expect(decodeText(field('    ', 4))).toBe('');
  });

  it('never throws on invalid UTF-8', () => {
    expect(decodeText(Uint8Array.of(0x61, 0xff, 0xfe))).toBe('a\ufffd\ufffd');
  });
});
