/**
 * The 16-byte NVMe Completion Queue Entry (inside a CapsuleResp) and its STATUS field.
 *
 * Pure. STATUS (CQE bytes 14..15): b0 phase tag (meaningless on fabrics, kept for fidelity), 8:1 SC,
 * 11:9 SCT, 13:12 CRD, b14 More, b15 DNR. `statusValue()` gives the 16-bit form Linux and libnvme print,
 * `(DNR<<14)|(M<<13)|(CRD<<11)|(SCT<<8)|SC`, e.g. 0x4002 = Invalid Field + DNR.
 *
 * Contract: decodeCqe() throws WireError WIRE_TRUNCATED only (every bit pattern is a valid CQE);
 * encodeCqe() throws WIRE_ENCODE_RANGE for out-of-range fields.
 *
 * Used by: pdu.ts (CapsuleResp), status.ts, the session and the DC simulator.
 * Tests:   cqe.test.ts (STATUS bits), pdu.test.ts (Appendix B completions).
 */
import type { NvmeStatusFields } from '../../errors.js';
import { LeReader } from './le-reader.js';
import { LeWriter, checkedField } from './le-writer.js';

export const CQE_SIZE = 16;

export type NvmeStatus = NvmeStatusFields;

export const STATUS_SUCCESS: NvmeStatus = { sct: 0, sc: 0, crd: 0, more: false, dnr: false };

export interface Cqe {
  /** Command-specific result, dword 0 (Connect: CNTLID; Property Get: bits 31:0; AER: event). */
  readonly dw0: number;
  /** Command-specific result, dword 1 (Property Get of 8 bytes: bits 63:32). */
  readonly dw1: number;
  /** SQ head pointer (0xFFFF when SQ flow control is disabled). */
  readonly sqhd: number;
  readonly sqid: number;
  readonly cid: number;
  /** Phase tag (STATUS b0). Ignored on fabrics. */
  readonly phase: boolean;
  readonly status: NvmeStatus;
}

/** Build a CQE model: dw0/dw1/sqhd/sqid 0, phase clear, success unless given. */
export function makeCqe(fields: Partial<Cqe> & Pick<Cqe, 'cid'>): Cqe {
  return { dw0: 0, dw1: 0, sqhd: 0, sqid: 0, phase: false, status: STATUS_SUCCESS, ...fields };
}

/** The 16-bit `(DNR<<14)|(M<<13)|(CRD<<11)|(SCT<<8)|SC` value. */
export function statusValue(status: NvmeStatus): number {
  return (
    ((status.dnr ? 1 : 0) << 14) |
    ((status.more ? 1 : 0) << 13) |
    ((status.crd & 0x3) << 11) |
    ((status.sct & 0x7) << 8) |
    (status.sc & 0xff)
  );
}

/** Inverse of statusValue (bits 15 and above are ignored). */
export function statusFromValue(value: number): NvmeStatus {
  return {
    sc: value & 0xff,
    sct: (value >>> 8) & 0x7,
    crd: (value >>> 11) & 0x3,
    more: ((value >>> 13) & 1) === 1,
    dnr: ((value >>> 14) & 1) === 1,
  };
}

export function isSuccess(status: NvmeStatus): boolean {
  return status.sct === 0 && status.sc === 0;
}

/** Split the raw CQE STATUS field (phase in b0). */
export function decodeStatusField(raw: number): { phase: boolean; status: NvmeStatus } {
  return { phase: (raw & 1) === 1, status: statusFromValue(raw >>> 1) };
}

export function encodeStatusField(status: NvmeStatus, phase = false): number {
  return ((statusValue(status) << 1) | (phase ? 1 : 0)) & 0xffff;
}

/** Write the CQE into `w` at `base` (used by pdu.ts to fill the CapsuleResp header in place). */
export function writeCqe(w: LeWriter, base: number, cqe: Cqe): void {
  w.u32At(base + 0, cqe.dw0, 'DW0');
  w.u32At(base + 4, cqe.dw1, 'DW1');
  w.u16At(base + 8, cqe.sqhd, 'SQHD');
  w.u16At(base + 10, cqe.sqid, 'SQID');
  w.u16At(base + 12, cqe.cid, 'CID');
  w.u16At(base + 14, encodeStatusField(checkedStatus(cqe.status), cqe.phase), 'STATUS');
}

export function encodeCqe(cqe: Cqe): Uint8Array {
  const w = new LeWriter(CQE_SIZE, 'CQE');
  writeCqe(w, 0, cqe);
  return w.bytes;
}

export function decodeCqe(bytes: Uint8Array): Cqe {
  const r = new LeReader(bytes, 'CQE');
  r.bytesAt(0, CQE_SIZE);
  const { phase, status } = decodeStatusField(r.u16At(14));
  return {
    dw0: r.u32At(0),
    dw1: r.u32At(4),
    sqhd: r.u16At(8),
    sqid: r.u16At(10),
    cid: r.u16At(12),
    phase,
    status,
  };
}

function checkedStatus(status: NvmeStatus): NvmeStatus {
  checkedField('CQE STATUS SC', status.sc, 0xff);
  checkedField('CQE STATUS SCT', status.sct, 0x7);
  checkedField('CQE STATUS CRD', status.crd, 0x3);
  return status;
}
