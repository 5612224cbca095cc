import { describe, expect, it } from 'vitest';
import { NvmeStatusError } from '../../errors.js';
import { statusFromValue } from './cqe.js';
import { STATUS_DNR, StatusCode, describeStatus, statusError, statusName } from './status.js';

describe('status names', () => {
  it('names the Appendix A codes', () => {
    expect(statusName(statusFromValue(StatusCode.InvalidField))).toBe('Invalid Field in Command');
    expect(statusName(statusFromValue(0x000f))).toBe('Data SGL Length Invalid');
    expect(statusName(statusFromValue(0x0109))).toBe('Invalid Log Page');
    expect(statusName(statusFromValue(0x0184))).toBe('Connect Invalid Host');
    expect(statusName(statusFromValue(0x0191))).toBe('Authentication Required');
    expect(statusName(statusFromValue(0x0132))).toBe('Insufficient Discovery Resources');
  });

  it('ignores DNR/More/CRD when naming, and names unknown codes by SCT and SC', () => {
    expect(statusName(statusFromValue(0x6002))).toBe('Invalid Field in Command');
    expect(statusName({ sct: 2, sc: 0x81 })).toBe('SCT 2 / SC 0x81');
  });

  it('describes a status with its 16-bit value and flags', () => {
    expect(describeStatus(statusFromValue(0x6002))).toBe(
      'Invalid Field in Command (0x6002: SCT 0, SC 0x02, DNR, More)',
    );
    expect(describeStatus(statusFromValue(0x1022))).toBe(
      'Transient Transport Error (0x1022: SCT 0, SC 0x22, CRD 2)',
    );
  });
});

describe('statusError', () => {
  it('returns nothing for success', () => {
    expect(statusError(statusFromValue(0), 'Connect')).toBeUndefined();
  });

  it('returns an NvmeStatusError with the fields and the 16-bit value', () => {
    const err = statusError(statusFromValue(StatusCode.InvalidOpcode | STATUS_DNR), 'DIM');
    expect(err).toBeInstanceOf(NvmeStatusError);
    expect(err?.code).toBe('NVME_STATUS');
    expect(err?.status).toBe(0x4001);
    expect([err?.sct, err?.sc, err?.dnr, err?.more, err?.crd]).toEqual([0, 1, true, false, 0]);
    expect(err?.message).toBe('DIM failed: Invalid Command Opcode (0x4001: SCT 0, SC 0x01, DNR)');
  });
});
