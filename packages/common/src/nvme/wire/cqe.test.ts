import { describe, expect, it } from 'vitest';
import { ByteBuilder, wireErrorCode } from '../../testing/wire-bytes.js';
import {
  STATUS_SUCCESS,
  decodeCqe,
  decodeStatusField,
  encodeCqe,
  encodeStatusField,
  isSuccess,
  makeCqe,
  statusFromValue,
  statusValue,
} from './cqe.js';

describe('CQE and status', () => {
  it('decodes Invalid Field + DNR (0x4002) from the raw STATUS field 0x8004', () => {
    const bytes = new ByteBuilder(16).u32(0, 7).u16(8, 3).u16(12, 9).u16(14, 0x8004).bytes;
    const cqe = decodeCqe(bytes);
    expect(cqe).toEqual({
      dw0: 7,
      dw1: 0,
      sqhd: 3,
      sqid: 0,
      cid: 9,
      phase: false,
      status: { sct: 0, sc: 2, crd: 0, more: false, dnr: true },
    });
    expect(statusValue(cqe.status)).toBe(0x4002);
    expect(encodeCqe(cqe)).toEqual(bytes);
  });

  it('decodes every STATUS field: phase, SC, SCT, CRD, More, DNR', () => {
    // DNR | More | CRD 2 | SCT 1 | SC 0x84, then phase 1.
    const value = 0x4000 | 0x2000 | (2 << 11) | (1 << 8) | 0x84;
    const raw = ((value << 1) | 1) & 0xffff;
    expect(decodeStatusField(raw)).toEqual({
      phase: true,
      status: { sct: 1, sc: 0x84, crd: 2, more: true, dnr: true },
    });
    expect(encodeStatusField(statusFromValue(value), true)).toBe(raw);
  });

  it('tells success from failure and builds CQEs', () => {
    expect(isSuccess(STATUS_SUCCESS)).toBe(true);
    expect(isSuccess(statusFromValue(0x0182))).toBe(false);
    expect(makeCqe({ cid: 1 })).toEqual({
      dw0: 0,
      dw1: 0,
      sqhd: 0,
      sqid: 0,
      cid: 1,
      phase: false,
      status: STATUS_SUCCESS,
    });
    expect(wireErrorCode(() => encodeCqe(makeCqe({ cid: 1, status: { ...STATUS_SUCCESS, sct: 8 } })))).toBe(
      'WIRE_ENCODE_RANGE',
    );
    expect(wireErrorCode(() => decodeCqe(new Uint8Array(15)))).toBe('WIRE_TRUNCATED');
  });
});
