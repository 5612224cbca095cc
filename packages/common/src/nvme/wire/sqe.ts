/**
 * The 64-byte NVMe Submission Queue Entry (the command inside a CapsuleCmd) and its SGL descriptor.
 *
 * Pure: model in, bytes out and back. The model keeps the spec's dword names (cdw10…cdw15) so the
 * command modules (fabrics-cmd.ts, admin-cmd.ts, dim.ts) build and read commands field by field; the
 * 64-bit MPTR is kept as its two dwords (cdw4/cdw5) so no bigint leaves the codec. For Fabrics commands
 * (opcode 0x7F) SQE byte 4 is FCTYPE, i.e. the low byte of `nsid`.
 *
 * SGL identifiers used on NVMe/TCP: 0x5A transport data block (C2HData or R2T/H2CData; length 0 is the
 * "null" descriptor of commands without data) and 0x01 data block/offset (in-capsule data).
 *
 * Contract: decodeSqe() throws WireError WIRE_TRUNCATED (fewer than 64 bytes) or WIRE_FIELD_RANGE (an
 * SGL address above 2^53, meaningless on TCP). encodeSqe() throws WIRE_ENCODE_RANGE for out-of-range
 * fields.
 *
 * Used by: pdu.ts (CapsuleCmd), the command modules, the session and the DC simulator.
 * Tests:   sqe.test.ts, and the Appendix B vectors in fabrics-cmd.test.ts / admin-cmd.test.ts.
 */
import { LeReader } from './le-reader.js';
import { LeWriter, checkedField } from './le-writer.js';

export const SQE_SIZE = 64;

/** SGL descriptor identifiers (SQE byte 39 = type << 4 | subtype). */
export const SglId = {
  /** Type 5 Transport SGL Data Block, subtype 0xA transport specific: data via C2HData or R2T. */
  TransportDataBlock: 0x5a,
  /** Type 0 SGL Data Block, subtype 1 Offset: in-capsule data at `address` into the capsule data. */
  DataBlockOffset: 0x01,
} as const;

/** PSDT value 01b: SGLs for data, metadata contiguous. The only value NVMe over Fabrics accepts. */
export const PSDT_SGL = 1;

export interface SglDescriptor {
  /** Byte 15 of the descriptor: (type << 4) | subtype. See SglId. */
  readonly id: number;
  /** Address (transport data block: 0) or offset into the in-capsule data (must be 0 on known targets). */
  readonly address: number;
  /** Length of the data in bytes. */
  readonly length: number;
}

export interface Sqe {
  /** Opcode (CDW0 7:0). */
  readonly opc: number;
  /** Fused operation (CDW0 9:8), 0 for everything a discovery host sends. */
  readonly fuse: number;
  /** PRP or SGL for Data Transfer (CDW0 15:14): must be 1 (SGL) on fabrics. */
  readonly psdt: number;
  /** Command identifier (CDW0 31:16). */
  readonly cid: number;
  /** Namespace ID (byte 4..7). For Fabrics commands byte 4 is FCTYPE. */
  readonly nsid: number;
  readonly cdw2: number;
  readonly cdw3: number;
  /** MPTR bits 31:0 (0 on NVMe/TCP). */
  readonly cdw4: number;
  /** MPTR bits 63:32 (0 on NVMe/TCP). */
  readonly cdw5: number;
  /** DPTR: SGL1 (bytes 24..39). */
  readonly sgl: SglDescriptor;
  readonly cdw10: number;
  readonly cdw11: number;
  readonly cdw12: number;
  readonly cdw13: number;
  readonly cdw14: number;
  readonly cdw15: number;
}

/** The "null" SGL of commands without data: transport data block, address 0, length 0. */
export const SGL_NULL: SglDescriptor = { id: SglId.TransportDataBlock, address: 0, length: 0 };

/** SGL for data moved by C2HData (controller → host) or R2T/H2CData: transport data block. */
export function sglTransportData(length: number): SglDescriptor {
  return { id: SglId.TransportDataBlock, address: 0, length };
}

/** SGL for in-capsule data (host → controller, within the capsule): data block with offset. */
export function sglInCapsule(length: number, offset = 0): SglDescriptor {
  return { id: SglId.DataBlockOffset, address: offset, length };
}

/** Build an SQE model: every field not given is 0, PSDT is 01b and the SGL is the null descriptor. */
export function makeSqe(fields: Partial<Sqe> & Pick<Sqe, 'opc' | 'cid'>): Sqe {
  return {
    fuse: 0,
    psdt: PSDT_SGL,
    nsid: 0,
    cdw2: 0,
    cdw3: 0,
    cdw4: 0,
    cdw5: 0,
    sgl: SGL_NULL,
    cdw10: 0,
    cdw11: 0,
    cdw12: 0,
    cdw13: 0,
    cdw14: 0,
    cdw15: 0,
    ...fields,
  };
}

/** Write the SQE into `w` at `base` (used by pdu.ts to fill the CapsuleCmd header in place). */
export function writeSqe(w: LeWriter, base: number, sqe: Sqe): void {
  w.u8At(base + 0, sqe.opc, 'OPC');
  w.u8At(
    base + 1,
    (checkedField('SQE PSDT', sqe.psdt, 3) << 6) | checkedField('SQE FUSE', sqe.fuse, 3),
    'FLAGS',
  );
  w.u16At(base + 2, sqe.cid, 'CID');
  w.u32At(base + 4, sqe.nsid, 'NSID');
  w.u32At(base + 8, sqe.cdw2, 'CDW2');
  w.u32At(base + 12, sqe.cdw3, 'CDW3');
  w.u32At(base + 16, sqe.cdw4, 'CDW4');
  w.u32At(base + 20, sqe.cdw5, 'CDW5');
  w.u64At(base + 24, sqe.sgl.address, 'SGL address');
  w.u32At(base + 32, sqe.sgl.length, 'SGL length');
  w.u8At(base + 39, sqe.sgl.id, 'SGL identifier');
  w.u32At(base + 40, sqe.cdw10, 'CDW10');
  w.u32At(base + 44, sqe.cdw11, 'CDW11');
  w.u32At(base + 48, sqe.cdw12, 'CDW12');
  w.u32At(base + 52, sqe.cdw13, 'CDW13');
  w.u32At(base + 56, sqe.cdw14, 'CDW14');
  w.u32At(base + 60, sqe.cdw15, 'CDW15');
}

export function encodeSqe(sqe: Sqe): Uint8Array {
  const w = new LeWriter(SQE_SIZE, 'SQE');
  writeSqe(w, 0, sqe);
  return w.bytes;
}

/** Decode 64 SQE bytes. Reserved bits of the flags byte and SGL bytes 36..38 are ignored. */
export function decodeSqe(bytes: Uint8Array): Sqe {
  const r = new LeReader(bytes, 'SQE');
  r.bytesAt(0, SQE_SIZE);
  const flags = r.u8At(1);
  return {
    opc: r.u8At(0),
    fuse: flags & 0x3,
    psdt: flags >>> 6,
    cid: r.u16At(2),
    nsid: r.u32At(4),
    cdw2: r.u32At(8),
    cdw3: r.u32At(12),
    cdw4: r.u32At(16),
    cdw5: r.u32At(20),
    sgl: { id: r.u8At(39), address: r.u64SafeAt(24, 'SGL address'), length: r.u32At(32) },
    cdw10: r.u32At(40),
    cdw11: r.u32At(44),
    cdw12: r.u32At(48),
    cdw13: r.u32At(52),
    cdw14: r.u32At(56),
    cdw15: r.u32At(60),
  };
}
