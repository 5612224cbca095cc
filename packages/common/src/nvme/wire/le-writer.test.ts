import { describe, expect, it } from 'vitest';
import { wireErrorCode as codeOf } from '../../testing/wire-bytes.js';
import { LeWriter, checkedField } from './le-writer.js';

describe('LeWriter', () => {
  it('writes little-endian fields and zero-fills the rest', () => {
    const w = new LeWriter(16)
      .u8At(0, 0xab)
      .u16At(1, 0x1234)
      .u32At(3, 0xdeadbeef)
      .u64At(7, 0x0102030405060708n);
    expect(Array.from(w.bytes)).toEqual([
      0xab, 0x34, 0x12, 0xef, 0xbe, 0xad, 0xde, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0,
    ]);
  });

  it('pads text with NUL or spaces', () => {
    const w = new LeWriter(8).textAt(0, 4, 'ab', 'space').textAt(4, 4, 'cd', 'nul');
    expect(Array.from(w.bytes)).toEqual([0x61, 0x62, 0x20, 0x20, 0x63, 0x64, 0, 0]);
  });

  it('throws WIRE_ENCODE_RANGE for values that do not fit', () => {
    expect(codeOf(() => new LeWriter(4).u8At(0, 256))).toBe('WIRE_ENCODE_RANGE');
    expect(codeOf(() => new LeWriter(4).u16At(0, -1))).toBe('WIRE_ENCODE_RANGE');
    expect(codeOf(() => new LeWriter(4).u32At(0, 1.5))).toBe('WIRE_ENCODE_RANGE');
    expect(codeOf(() => new LeWriter(8).u64At(0, -1n))).toBe('WIRE_ENCODE_RANGE');
    expect(codeOf(() => new LeWriter(8).u64At(0, 1n << 64n))).toBe('WIRE_ENCODE_RANGE');
    expect(codeOf(() => new LeWriter(4).u32At(2, 1))).toBe('WIRE_ENCODE_RANGE');
    expect(codeOf(() => new LeWriter(4).textAt(0, 4, 'abcd', 'nul'))).toBe('WIRE_ENCODE_RANGE');
    expect(codeOf(() => new LeWriter(4).textAt(0, 4, 'abcd', 'space'))).toBeUndefined();
    expect(codeOf(() => new LeWriter(4).bytesAt(0, new Uint8Array(3), 2))).toBe('WIRE_ENCODE_RANGE');
    expect(codeOf(() => new LeWriter(-1))).toBe('WIRE_ENCODE_RANGE');
  });
});

describe('checkedField', () => {
  it('passes integers in range through and refuses others', () => {
    expect(checkedField('x', 7, 7)).toBe(7);
    expect(codeOf(() => checkedField('x', 8, 7))).toBe('WIRE_ENCODE_RANGE');
    expect(codeOf(() => checkedField('x', Number.NaN, 7))).toBe('WIRE_ENCODE_RANGE');
  });
});
