/**
 * NVMe/TCP PDUs: the 8-byte common header, the nine PDU types as one discriminated union `Pdu` (on
 * `type`), and whole-PDU encode/decode with header/data digests (CRC32C), PDO and padding.
 *
 * Pure: bytes in, typed values out (and back). No sockets, timers or logging. Digest settings are what
 * ICReq/ICResp negotiated for the connection and are passed in by the caller; `pda` is the 0's based
 * dword alignment of data the *sender* must honour (host → controller: the controller's CPDA;
 * controller → host: the host's HPDA).
 *
 * Contract: decodePdu() takes exactly one PDU (bytes.length === PLEN) and returns it whole or throws
 * WireError: WIRE_TRUNCATED, WIRE_BAD_TYPE, WIRE_BAD_HLEN, WIRE_BAD_PLEN, WIRE_BAD_PDO, WIRE_BAD_DATAL,
 * WIRE_BAD_FLAGS (digest flags disagree with the negotiated digests, DDGSTF without data, SUCCESS
 * without LAST_PDU), WIRE_HDGST_MISMATCH, WIRE_DDGST_MISMATCH (with `cid` set: a data-digest error fails
 * one command, not the connection), WIRE_FIELD_RANGE (SQE SGL address). The header digest is verified
 * before any field past the common header is trusted. `data`/`offendingHeader` of a decoded PDU are
 * views into the input bytes (no copy). encodePdu() throws WIRE_ENCODE_RANGE for values that do not fit.
 * Reserved bits and bytes are ignored on decode and written as 0.
 *
 * Used by: pdu-framer.ts, nvme/session/*, testing/dc-sim.ts
 * Tests:   pdu.test.ts (Appendix B vectors typed independently, digests), wire.prop.test.ts (fuzz)
 */
import { WireError } from '../../errors.js';
import { crc32c } from './crc32c.js';
import { decodeCqe, writeCqe, type Cqe } from './cqe.js';
import { LeReader } from './le-reader.js';
import { LeWriter } from './le-writer.js';
import { decodeSqe, writeSqe, type Sqe } from './sqe.js';

export const PduType = {
  ICReq: 0x00,
  ICResp: 0x01,
  H2CTermReq: 0x02,
  C2HTermReq: 0x03,
  CapsuleCmd: 0x04,
  CapsuleResp: 0x05,
  H2CData: 0x06,
  C2HData: 0x07,
  R2T: 0x09,
} as const;
export type PduTypeValue = (typeof PduType)[keyof typeof PduType];

/** Common header FLAGS bits. */
export const PduFlag = {
  /** A header digest follows the header. */
  HDGSTF: 0x01,
  /** A data digest follows the data. */
  DDGSTF: 0x02,
  /** H2CData/C2HData: last data PDU of the command (or of the R2T). */
  LAST_PDU: 0x04,
  /** C2HData: command completed successfully, no CapsuleResp follows (only with LAST_PDU). */
  SUCCESS: 0x08,
} as const;

/** Fatal Error Status values of H2CTermReq/C2HTermReq. */
export const TermReqFes = {
  InvalidHeaderField: 0x01,
  PduSequenceError: 0x02,
  HeaderDigestError: 0x03,
  DataTransferOutOfRange: 0x04,
  DataTransferLimitExceeded: 0x05,
  UnsupportedParameter: 0x06,
} as const;

export const COMMON_HEADER_SIZE = 8;
export const DIGEST_SIZE = 4;
/** ICReq/ICResp: HLEN = PLEN = 128. */
export const IC_PDU_SIZE = 128;
/** A TermReq carries at most this many bytes of the offending PDU header. */
export const TERM_REQ_MAX_COPY = 128;

const HLEN: Readonly<Record<number, number>> = {
  [PduType.ICReq]: 128,
  [PduType.ICResp]: 128,
  [PduType.H2CTermReq]: 24,
  [PduType.C2HTermReq]: 24,
  [PduType.CapsuleCmd]: 72,
  [PduType.CapsuleResp]: 24,
  [PduType.H2CData]: 24,
  [PduType.C2HData]: 24,
  [PduType.R2T]: 24,
};

const NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(PduType).map(([name, value]) => [value, name]),
);

/** The fixed HLEN of a PDU type, or undefined for an unknown type. */
export function pduHeaderLength(type: number): number | undefined {
  return HLEN[type];
}

/** "CapsuleCmd", …; "type 0x08" for unknown types. */
export function pduTypeName(type: number): string {
  return NAMES[type] ?? `type 0x${type.toString(16).padStart(2, '0')}`;
}

/** Digests negotiated in ICReq/ICResp for one connection. */
export interface PduDigests {
  readonly hdgst: boolean;
  readonly ddgst: boolean;
}

export const NO_DIGESTS: PduDigests = { hdgst: false, ddgst: false };

/** Types that carry a header digest when it is negotiated. */
function mayHaveHeaderDigest(type: number): boolean {
  return (
    type === PduType.CapsuleCmd ||
    type === PduType.CapsuleResp ||
    type === PduType.H2CData ||
    type === PduType.C2HData ||
    type === PduType.R2T
  );
}

export interface CommonHeader {
  readonly type: number;
  readonly flags: number;
  readonly hlen: number;
  readonly pdo: number;
  readonly plen: number;
}

/** Read the 8-byte common header at `offset` (WIRE_TRUNCATED if fewer than 8 bytes remain). */
export function decodeCommonHeader(bytes: Uint8Array, offset = 0): CommonHeader {
  const r = new LeReader(bytes, 'PDU common header');
  return {
    type: r.u8At(offset),
    flags: r.u8At(offset + 1),
    hlen: r.u8At(offset + 2),
    pdo: r.u8At(offset + 3),
    plen: r.u32At(offset + 4),
  };
}

export interface ICReqPdu {
  readonly type: typeof PduType.ICReq;
  /** PDU format version, 0. */
  readonly pfv: number;
  /** Host PDU data alignment, 0's based dwords (0 = no padding). */
  readonly hpda: number;
  /** Header digest requested. */
  readonly hdgst: boolean;
  /** Data digest requested. */
  readonly ddgst: boolean;
  /** Max outstanding R2Ts per command, 0's based. */
  readonly maxr2t: number;
}

export interface ICRespPdu {
  readonly type: typeof PduType.ICResp;
  readonly pfv: number;
  /** Controller PDU data alignment, 0's based dwords. */
  readonly cpda: number;
  /** Header digest enabled. */
  readonly hdgst: boolean;
  /** Data digest enabled. */
  readonly ddgst: boolean;
  /** Largest DATAL of one H2CData PDU, in bytes. */
  readonly maxh2cdata: number;
}

export interface TermReqPdu {
  readonly type: typeof PduType.H2CTermReq | typeof PduType.C2HTermReq;
  /** Fatal error status (TermReqFes). */
  readonly fes: number;
  /** Fatal error information (for FES 1: offset of the bad field). */
  readonly fei: number;
  /** Copy of the offending PDU header, at most 128 bytes. */
  readonly offendingHeader: Uint8Array;
}

export interface CapsuleCmdPdu {
  readonly type: typeof PduType.CapsuleCmd;
  readonly sqe: Sqe;
  /** In-capsule data; empty when the command has none. */
  readonly data: Uint8Array;
}

export interface CapsuleRespPdu {
  readonly type: typeof PduType.CapsuleResp;
  readonly cqe: Cqe;
}

export interface H2CDataPdu {
  readonly type: typeof PduType.H2CData;
  /** CID of the command this data belongs to. */
  readonly cccid: number;
  /** Transfer tag copied from the R2T. */
  readonly ttag: number;
  /** Offset of this PDU's data in the command's data buffer. */
  readonly datao: number;
  /** LAST_PDU flag. */
  readonly last: boolean;
  /** The data; DATAL = data.length (at least 1). */
  readonly data: Uint8Array;
}

export interface C2HDataPdu {
  readonly type: typeof PduType.C2HData;
  readonly cccid: number;
  readonly datao: number;
  readonly last: boolean;
  /** SUCCESS flag: the command completed and no CapsuleResp follows (implies `last`). */
  readonly success: boolean;
  readonly data: Uint8Array;
}

export interface R2TPdu {
  readonly type: typeof PduType.R2T;
  readonly cccid: number;
  readonly ttag: number;
  /** Offset requested. */
  readonly r2to: number;
  /** Length requested. */
  readonly r2tl: number;
}

export type Pdu =
  ICReqPdu | ICRespPdu | TermReqPdu | CapsuleCmdPdu | CapsuleRespPdu | H2CDataPdu | C2HDataPdu | R2TPdu;

/** A CapsuleCmd PDU for an SQE and its optional in-capsule data. */
export function capsuleCmd(sqe: Sqe, data: Uint8Array = new Uint8Array(0)): CapsuleCmdPdu {
  return { type: PduType.CapsuleCmd, sqe, data };
}

/** A CapsuleResp PDU for a CQE. */
export function capsuleResp(cqe: Cqe): CapsuleRespPdu {
  return { type: PduType.CapsuleResp, cqe };
}

// ---------------------------------------------------------------------------------------------------
// Encoding

/** PDO for data after a header of `hlen` (+ header digest), aligned to (pda+1)·4 bytes. */
export function dataOffset(hlen: number, hdgst: boolean, pda = 0): number {
  if (!Number.isInteger(pda) || pda < 0 || pda > 31) {
    throw new WireError('WIRE_ENCODE_RANGE', `PDU data alignment ${pda} is not in 0..31`);
  }
  const align = (pda + 1) * 4;
  const end = hlen + (hdgst ? DIGEST_SIZE : 0);
  return Math.ceil(end / align) * align;
}

interface Layout {
  readonly flags: number;
  readonly pdo: number;
  /** Where the data starts (PDO, or HLEN for TermReqs, which leave PDO 0 like Linux and SPDK do). */
  readonly dataStart: number;
  readonly plen: number;
  readonly hd: boolean;
  readonly dd: boolean;
}

function layout(type: number, hlen: number, dataLen: number, digests: PduDigests, pda: number): Layout {
  if (type === PduType.H2CTermReq || type === PduType.C2HTermReq) {
    return { flags: 0, pdo: 0, dataStart: hlen, plen: hlen + dataLen, hd: false, dd: false };
  }
  const hd = digests.hdgst && mayHaveHeaderDigest(type);
  const hdFlag = hd ? PduFlag.HDGSTF : 0;
  const headerEnd = hlen + (hd ? DIGEST_SIZE : 0);
  if (dataLen === 0) return { flags: hdFlag, pdo: 0, dataStart: headerEnd, plen: headerEnd, hd, dd: false };
  const dd = digests.ddgst;
  const pdo = dataOffset(hlen, hd, pda);
  return {
    flags: hdFlag | (dd ? PduFlag.DDGSTF : 0),
    pdo,
    dataStart: pdo,
    plen: pdo + dataLen + (dd ? DIGEST_SIZE : 0),
    hd,
    dd,
  };
}

/**
 * Encode one PDU. `digests` are the connection's negotiated digests (ignored for ICReq, ICResp and
 * TermReqs, which never carry digests); `pda` is the receiver's requested data alignment (0's based
 * dwords, 0..31).
 */
export function encodePdu(pdu: Pdu, digests: PduDigests = NO_DIGESTS, pda = 0): Uint8Array {
  const hlen = HLEN[pdu.type] as number;
  let extraFlags = 0;
  let data: Uint8Array = new Uint8Array(0);
  switch (pdu.type) {
    case PduType.CapsuleCmd:
      data = pdu.data;
      break;
    case PduType.H2CData:
    case PduType.C2HData:
      if (pdu.data.length === 0) {
        throw new WireError('WIRE_ENCODE_RANGE', `${pduTypeName(pdu.type)}: data must not be empty`);
      }
      data = pdu.data;
      if (pdu.last) extraFlags |= PduFlag.LAST_PDU;
      if (pdu.type === PduType.C2HData && pdu.success) {
        if (!pdu.last) {
          throw new WireError('WIRE_ENCODE_RANGE', 'C2HData: SUCCESS requires LAST_PDU');
        }
        extraFlags |= PduFlag.SUCCESS;
      }
      break;
    case PduType.H2CTermReq:
    case PduType.C2HTermReq:
      if (pdu.offendingHeader.length > TERM_REQ_MAX_COPY) {
        throw new WireError(
          'WIRE_ENCODE_RANGE',
          `${pduTypeName(pdu.type)}: ${pdu.offendingHeader.length} header bytes exceed ${TERM_REQ_MAX_COPY}`,
        );
      }
      data = pdu.offendingHeader;
      break;
    default:
      break;
  }

  const lay = layout(pdu.type, hlen, data.length, digests, pda);
  const w = new LeWriter(lay.plen, pduTypeName(pdu.type));
  w.u8At(0, pdu.type, 'TYPE');
  w.u8At(1, lay.flags | extraFlags, 'FLAGS');
  w.u8At(2, hlen, 'HLEN');
  w.u8At(3, lay.pdo, 'PDO');
  w.u32At(4, lay.plen, 'PLEN');

  switch (pdu.type) {
    case PduType.ICReq:
      w.u16At(8, pdu.pfv, 'PFV');
      w.u8At(10, pdu.hpda, 'HPDA');
      w.u8At(11, (pdu.hdgst ? 1 : 0) | (pdu.ddgst ? 2 : 0), 'DGST');
      w.u32At(12, pdu.maxr2t, 'MAXR2T');
      break;
    case PduType.ICResp:
      w.u16At(8, pdu.pfv, 'PFV');
      w.u8At(10, pdu.cpda, 'CPDA');
      w.u8At(11, (pdu.hdgst ? 1 : 0) | (pdu.ddgst ? 2 : 0), 'DGST');
      w.u32At(12, pdu.maxh2cdata, 'MAXH2CDATA');
      break;
    case PduType.H2CTermReq:
    case PduType.C2HTermReq:
      w.u16At(8, pdu.fes, 'FES');
      w.u32At(10, pdu.fei, 'FEI');
      break;
    case PduType.CapsuleCmd:
      writeSqe(w, 8, pdu.sqe);
      break;
    case PduType.CapsuleResp:
      writeCqe(w, 8, pdu.cqe);
      break;
    case PduType.H2CData:
      w.u16At(8, pdu.cccid, 'CCCID');
      w.u16At(10, pdu.ttag, 'TTAG');
      w.u32At(12, pdu.datao, 'DATAO');
      w.u32At(16, data.length, 'DATAL');
      break;
    case PduType.C2HData:
      w.u16At(8, pdu.cccid, 'CCCID');
      w.u32At(12, pdu.datao, 'DATAO');
      w.u32At(16, data.length, 'DATAL');
      break;
    case PduType.R2T:
      w.u16At(8, pdu.cccid, 'CCCID');
      w.u16At(10, pdu.ttag, 'TTAG');
      w.u32At(12, pdu.r2to, 'R2TO');
      w.u32At(16, pdu.r2tl, 'R2TL');
      break;
  }

  if (lay.hd) w.u32At(hlen, crc32c(w.bytes, 0, hlen), 'HDGST');
  if (data.length > 0) {
    w.bytesAt(lay.dataStart, data);
    if (lay.dd) w.u32At(lay.dataStart + data.length, crc32c(data), 'DDGST');
  }
  return w.bytes;
}

// ---------------------------------------------------------------------------------------------------
// Decoding

function fail(
  code: `WIRE_${string}`,
  type: number,
  message: string,
  details?: { offset?: number; cid?: number },
): never {
  throw new WireError(code, `${pduTypeName(type)}: ${message}`, details);
}

/**
 * Decode exactly one PDU (`bytes.length` must equal its PLEN) under the connection's negotiated
 * `digests`. See the module header for the errors.
 */
export function decodePdu(bytes: Uint8Array, digests: PduDigests = NO_DIGESTS): Pdu {
  const ch = decodeCommonHeader(bytes);
  const { type, flags, hlen, pdo, plen } = ch;
  const expectedHlen = HLEN[type];
  if (expectedHlen === undefined) {
    throw new WireError('WIRE_BAD_TYPE', `unknown PDU type 0x${type.toString(16)}`, { offset: 0 });
  }
  if (hlen !== expectedHlen)
    fail('WIRE_BAD_HLEN', type, `HLEN ${hlen}, expected ${expectedHlen}`, { offset: 2 });
  if (plen !== bytes.length) {
    fail('WIRE_BAD_PLEN', type, `PLEN ${plen} but the frame has ${bytes.length} bytes`, { offset: 4 });
  }
  const r = new LeReader(bytes, pduTypeName(type));
  const hdgstf = (flags & PduFlag.HDGSTF) !== 0;
  const ddgstf = (flags & PduFlag.DDGSTF) !== 0;

  if (!mayHaveHeaderDigest(type)) {
    if (hdgstf || ddgstf)
      fail('WIRE_BAD_FLAGS', type, `digest flags set (0x${flags.toString(16)})`, { offset: 1 });
  } else if (hdgstf !== digests.hdgst) {
    fail(
      'WIRE_BAD_FLAGS',
      type,
      `HDGSTF ${hdgstf ? 'set' : 'clear'} but header digest is ${digests.hdgst ? 'on' : 'off'}`,
      {
        offset: 1,
      },
    );
  }
  const hd = hdgstf ? DIGEST_SIZE : 0;
  const headerEnd = hlen + hd;
  if (plen < headerEnd)
    fail('WIRE_BAD_PLEN', type, `PLEN ${plen} shorter than the header (${headerEnd})`, { offset: 4 });
  if (hdgstf) {
    const expected = crc32c(bytes, 0, hlen);
    const got = r.u32At(hlen);
    if (expected !== got) {
      fail('WIRE_HDGST_MISMATCH', type, `header digest 0x${hex32(got)}, computed 0x${hex32(expected)}`, {
        offset: hlen,
      });
    }
  }

  switch (type) {
    case PduType.ICReq:
    case PduType.ICResp: {
      if (plen !== IC_PDU_SIZE)
        fail('WIRE_BAD_PLEN', type, `PLEN ${plen}, expected ${IC_PDU_SIZE}`, { offset: 4 });
      if (pdo !== 0) fail('WIRE_BAD_PDO', type, `PDO ${pdo}, expected 0`, { offset: 3 });
      const dgst = r.u8At(11);
      const common = { pfv: r.u16At(8), hdgst: (dgst & 1) !== 0, ddgst: (dgst & 2) !== 0 };
      return type === PduType.ICReq
        ? { type, ...common, hpda: r.u8At(10), maxr2t: r.u32At(12) }
        : { type, ...common, cpda: r.u8At(10), maxh2cdata: r.u32At(12) };
    }

    case PduType.H2CTermReq:
    case PduType.C2HTermReq: {
      if (plen > hlen + TERM_REQ_MAX_COPY) {
        fail('WIRE_BAD_PLEN', type, `PLEN ${plen} exceeds ${hlen + TERM_REQ_MAX_COPY}`, { offset: 4 });
      }
      return {
        type,
        fes: r.u16At(8),
        fei: r.u32At(10),
        offendingHeader: r.bytesAt(hlen, plen - hlen),
      };
    }

    case PduType.CapsuleCmd: {
      const sqe = decodeSqe(r.bytesAt(8, 64));
      if (plen === headerEnd) {
        if (pdo !== 0) fail('WIRE_BAD_PDO', type, `PDO ${pdo} without in-capsule data`, { offset: 3 });
        if (ddgstf) fail('WIRE_BAD_FLAGS', type, 'DDGSTF set without in-capsule data', { offset: 1 });
        return { type, sqe, data: r.bytesAt(plen, 0) };
      }
      const data = dataSection(r, type, ch, headerEnd, digests, sqe.cid);
      return { type, sqe, data };
    }

    case PduType.CapsuleResp:
    case PduType.R2T: {
      if (plen !== headerEnd)
        fail('WIRE_BAD_PLEN', type, `PLEN ${plen}, expected ${headerEnd}`, { offset: 4 });
      if (pdo !== 0) fail('WIRE_BAD_PDO', type, `PDO ${pdo}, expected 0`, { offset: 3 });
      if (ddgstf) fail('WIRE_BAD_FLAGS', type, 'DDGSTF set on a PDU without data', { offset: 1 });
      if (type === PduType.CapsuleResp) return { type, cqe: decodeCqe(r.bytesAt(8, 16)) };
      return { type, cccid: r.u16At(8), ttag: r.u16At(10), r2to: r.u32At(12), r2tl: r.u32At(16) };
    }

    case PduType.H2CData:
    case PduType.C2HData: {
      const cccid = r.u16At(8);
      const datao = r.u32At(12);
      const datal = r.u32At(16);
      const last = (flags & PduFlag.LAST_PDU) !== 0;
      if (datal === 0) fail('WIRE_BAD_DATAL', type, 'DATAL 0', { offset: 16, cid: cccid });
      const data = dataSection(r, type, ch, headerEnd, digests, cccid);
      if (data.length !== datal) {
        fail('WIRE_BAD_DATAL', type, `DATAL ${datal} but PLEN/PDO leave ${data.length} data bytes`, {
          offset: 16,
          cid: cccid,
        });
      }
      if (type === PduType.H2CData) return { type, cccid, ttag: r.u16At(10), datao, last, data };
      const success = (flags & PduFlag.SUCCESS) !== 0;
      if (success && !last)
        fail('WIRE_BAD_FLAGS', type, 'SUCCESS without LAST_PDU', { offset: 1, cid: cccid });
      return { type, cccid, datao, last, success, data };
    }
  }
  throw new WireError('WIRE_BAD_TYPE', `unknown PDU type 0x${type.toString(16)}`, { offset: 0 });
}

/** Validate PDO/PLEN/DDGSTF of a PDU that carries data and verify its data digest; returns the data. */
function dataSection(
  r: LeReader,
  type: number,
  ch: CommonHeader,
  headerEnd: number,
  digests: PduDigests,
  cid: number,
): Uint8Array {
  const ddgstf = (ch.flags & PduFlag.DDGSTF) !== 0;
  if (ddgstf !== digests.ddgst) {
    fail(
      'WIRE_BAD_FLAGS',
      type,
      `DDGSTF ${ddgstf ? 'set' : 'clear'} but data digest is ${digests.ddgst ? 'on' : 'off'}`,
      {
        offset: 1,
        cid,
      },
    );
  }
  if (ch.pdo < headerEnd)
    fail('WIRE_BAD_PDO', type, `PDO ${ch.pdo} inside the header (${headerEnd})`, { offset: 3, cid });
  const dd = ddgstf ? DIGEST_SIZE : 0;
  const dataLen = ch.plen - ch.pdo - dd;
  if (dataLen <= 0) {
    fail('WIRE_BAD_PLEN', type, `PLEN ${ch.plen} leaves no data after PDO ${ch.pdo}`, { offset: 4, cid });
  }
  const data = r.bytesAt(ch.pdo, dataLen);
  if (ddgstf) {
    const expected = crc32c(data);
    const got = r.u32At(ch.pdo + dataLen);
    if (expected !== got) {
      fail('WIRE_DDGST_MISMATCH', type, `data digest 0x${hex32(got)}, computed 0x${hex32(expected)}`, {
        offset: ch.pdo + dataLen,
        cid,
      });
    }
  }
  return data;
}

function hex32(v: number): string {
  return v.toString(16).padStart(8, '0');
}
