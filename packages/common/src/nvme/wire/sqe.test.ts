import { describe, expect, it } from 'vitest';
import { ByteBuilder, wireErrorCode } from '../../testing/wire-bytes.js';
import { SGL_NULL, SglId, decodeSqe, encodeSqe, makeSqe, sglInCapsule, sglTransportData } from './sqe.js';

describe('SQE', () => {
  it('places every dword at its spec offset', () => {
    const sqe = makeSqe({
      opc: 0x02,
      cid: 0xbeef,
      nsid: 0xffffffff,
      cdw2: 2,
      cdw3: 3,
      cdw4: 4,
      cdw5: 5,
      sgl: sglTransportData(4096),
      cdw10: 10,
      cdw11: 11,
      cdw12: 12,
      cdw13: 13,
      cdw14: 14,
      cdw15: 15,
    });
    const expected = new ByteBuilder(64)
      .raw(0, [0x02, 0x40, 0xef, 0xbe])
      .u32(4, 0xffffffff)
      .u32(8, 2)
      .u32(12, 3)
      .u32(16, 4)
      .u32(20, 5)
      .u32(32, 4096)
      .u8(39, 0x5a);
    for (let d = 10; d <= 15; d++) expected.u32(d * 4, d);
    expect(encodeSqe(sqe)).toEqual(expected.bytes);
    expect(decodeSqe(expected.bytes)).toEqual(sqe);
  });

  it('describes the SGL kinds used on TCP', () => {
    expect(SGL_NULL).toEqual({ id: 0x5a, address: 0, length: 0 });
    expect(sglInCapsule(1024)).toEqual({ id: SglId.DataBlockOffset, address: 0, length: 1024 });
  });

  it('splits the flags byte into PSDT and FUSE', () => {
    const bytes = new ByteBuilder(64).raw(0, [0x06, 0x81]).bytes;
    expect(decodeSqe(bytes)).toMatchObject({ psdt: 2, fuse: 1 });
    expect(wireErrorCode(() => encodeSqe(makeSqe({ opc: 1, cid: 1, psdt: 4 })))).toBe('WIRE_ENCODE_RANGE');
  });

  it('refuses an SGL address above 2^53 and fewer than 64 bytes', () => {
    const bytes = new ByteBuilder(64).u64(24, 1n << 60n).bytes;
    expect(wireErrorCode(() => decodeSqe(bytes))).toBe('WIRE_FIELD_RANGE');
    expect(wireErrorCode(() => decodeSqe(new Uint8Array(63)))).toBe('WIRE_TRUNCATED');
  });
});
