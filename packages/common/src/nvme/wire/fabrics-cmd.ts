/**
 * NVMe over Fabrics commands (opcode 0x7F): Connect with its 1024-byte data, Property Get/Set, and the
 * controller registers a host reads or writes through them (CAP, VS, CC, CSTS).
 *
 * Pure. Host side: `connectCommand()`, `encodeConnectData()`, `propertyGetCommand()`,
 * `propertySetCommand()` build SQE models (wrap them with pdu.ts `capsuleCmd`), `decodeConnectResult()`
 * reads the completion, `decodeCap()`/`decodeCsts()`/`encodeCc()` handle register values. Simulator
 * side: the matching `decode…Command()`/`decodeConnectData()`/`connectResultDw0()` and register encoders.
 * CAP is 64 bits: it travels as the completion's DW0 (bits 31:0) and DW1 (bits 63:32) and is decoded
 * from those two numbers, so no bigint is needed.
 *
 * Contract: decoders throw WireError WIRE_BAD_OPCODE when handed another command, WIRE_TRUNCATED for
 * short data; encoders throw WIRE_ENCODE_RANGE for values that do not fit (e.g. an NQN of 256+ bytes).
 * NQN text fields are NUL-terminated within their 256 bytes; decoding cuts at the first NUL and trims
 * trailing blanks.
 *
 * Used by: nvme/session/*, testing/dc-sim.ts
 * Tests:   fabrics-cmd.test.ts (Appendix B Connect / Property vectors, register fields)
 */
import { WireError } from '../../errors.js';
import type { Cqe } from './cqe.js';
import { LeReader } from './le-reader.js';
import { LeWriter, checkedField } from './le-writer.js';
import { SGL_NULL, makeSqe, sglInCapsule, type Sqe } from './sqe.js';

export const FABRICS_OPCODE = 0x7f;

/** FCTYPE values (SQE byte 4 of a Fabrics command). */
export const FabricsType = {
  PropertySet: 0x00,
  Connect: 0x01,
  PropertyGet: 0x04,
  AuthenticationSend: 0x05,
  AuthenticationReceive: 0x06,
  Disconnect: 0x08,
} as const;

/** The well-known discovery subsystem NQN. */
export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

/** Connect data size (in-capsule). */
export const CONNECT_DATA_SIZE = 1024;

/** CNTLID to request the dynamic controller model (the only one discovery controllers use). */
export const CNTLID_DYNAMIC = 0xffff;

/** The FCTYPE of an SQE (undefined unless it is a Fabrics command). */
export function fabricsType(sqe: Sqe): number | undefined {
  return sqe.opc === FABRICS_OPCODE ? sqe.nsid & 0xff : undefined;
}

function expectFabrics(sqe: Sqe, fctype: number, what: string): void {
  if (fabricsType(sqe) !== fctype) {
    throw new WireError(
      'WIRE_BAD_OPCODE',
      `not a ${what} command (opcode 0x${sqe.opc.toString(16)}, byte 4 0x${(sqe.nsid & 0xff).toString(16)})`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Connect

export interface ConnectCommand {
  readonly cid: number;
  /** Record format, 0. */
  readonly recfmt: number;
  /** Queue ID, 0 for the admin queue. */
  readonly qid: number;
  /** Submission queue size, 0's based (Linux: 31 for the admin queue). */
  readonly sqsize: number;
  /** Connect attributes: b1:0 priority class, b2 disable SQ flow control. */
  readonly cattr: number;
  /** Keep Alive Timeout in milliseconds; 0 = none. */
  readonly katoMs: number;
}

export function connectCommand(cmd: Partial<ConnectCommand> & Pick<ConnectCommand, 'cid'>): Sqe {
  const c = { recfmt: 0, qid: 0, sqsize: 31, cattr: 0, katoMs: 0, ...cmd };
  const f = fieldChecker('Connect');
  return makeSqe({
    opc: FABRICS_OPCODE,
    cid: c.cid,
    nsid: FabricsType.Connect,
    sgl: sglInCapsule(CONNECT_DATA_SIZE),
    cdw10: (f(c.recfmt, 0xffff) | (f(c.qid, 0xffff) << 16)) >>> 0,
    cdw11: (f(c.sqsize, 0xffff) | (f(c.cattr, 0xff) << 16)) >>> 0,
    cdw12: c.katoMs,
  });
}

export function decodeConnectCommand(sqe: Sqe): ConnectCommand {
  expectFabrics(sqe, FabricsType.Connect, 'Connect');
  return {
    cid: sqe.cid,
    recfmt: sqe.cdw10 & 0xffff,
    qid: sqe.cdw10 >>> 16,
    sqsize: sqe.cdw11 & 0xffff,
    cattr: (sqe.cdw11 >>> 16) & 0xff,
    katoMs: sqe.cdw12,
  };
}

export interface ConnectData {
  /** 16-byte host identifier (UUID bytes in printed order). */
  readonly hostid: Uint8Array;
  /** 0xFFFF for the dynamic controller model. */
  readonly cntlid: number;
  readonly subnqn: string;
  readonly hostnqn: string;
}

export function encodeConnectData(data: ConnectData): Uint8Array {
  if (data.hostid.length !== 16) {
    throw new WireError('WIRE_ENCODE_RANGE', `Connect data HOSTID: ${data.hostid.length} bytes, expected 16`);
  }
  const w = new LeWriter(CONNECT_DATA_SIZE, 'Connect data');
  w.bytesAt(0, data.hostid, 16, 'HOSTID');
  w.u16At(16, data.cntlid, 'CNTLID');
  w.textAt(256, 256, data.subnqn, 'nul', 'SUBNQN');
  w.textAt(512, 256, data.hostnqn, 'nul', 'HOSTNQN');
  return w.bytes;
}

export function decodeConnectData(bytes: Uint8Array): ConnectData {
  const r = new LeReader(bytes, 'Connect data');
  r.bytesAt(0, CONNECT_DATA_SIZE);
  return {
    hostid: r.copyAt(0, 16),
    cntlid: r.u16At(16),
    subnqn: r.textAt(256, 256),
    hostnqn: r.textAt(512, 256),
  };
}

/** What a Connect completion says (DW0), depending on its status. */
export interface ConnectResult {
  /** Controller ID assigned (success). */
  readonly cntlid: number;
  /** Authentication transaction required before any other command (DW0 b17). */
  readonly atr: boolean;
  /** Secure channel concatenation required (DW0 b18). */
  readonly ascr: boolean;
}

export function decodeConnectResult(cqe: Pick<Cqe, 'dw0'>): ConnectResult {
  return { cntlid: cqe.dw0 & 0xffff, atr: ((cqe.dw0 >>> 17) & 1) === 1, ascr: ((cqe.dw0 >>> 18) & 1) === 1 };
}

export function connectResultDw0(result: ConnectResult): number {
  const f = fieldChecker('Connect result');
  return (f(result.cntlid, 0xffff) | (result.atr ? 1 << 17 : 0) | (result.ascr ? 1 << 18 : 0)) >>> 0;
}

/** DW0 of a Connect that failed with status 0x182 (Connect Invalid Parameters). */
export interface ConnectInvalidParameter {
  /** Byte offset of the bad parameter. */
  readonly ipo: number;
  /** true: the offset is in the Connect data; false: in the SQE. */
  readonly inData: boolean;
}

export function decodeConnectInvalidParameter(cqe: Pick<Cqe, 'dw0'>): ConnectInvalidParameter {
  return { ipo: cqe.dw0 & 0xffff, inData: ((cqe.dw0 >>> 16) & 1) === 1 };
}

export function connectInvalidParameterDw0(p: ConnectInvalidParameter): number {
  return (fieldChecker('Connect IPO')(p.ipo, 0xffff) | (p.inData ? 1 << 16 : 0)) >>> 0;
}

// ---------------------------------------------------------------------------------------------------
// Property Get / Set

/** Controller properties (register offsets) and their sizes. */
export const Property = {
  CAP: { offset: 0x00, size: 8 },
  VS: { offset: 0x08, size: 4 },
  CC: { offset: 0x14, size: 4 },
  CSTS: { offset: 0x1c, size: 4 },
  NSSR: { offset: 0x20, size: 4 },
  CRTO: { offset: 0x68, size: 4 },
} as const;

export type PropertySize = 4 | 8;

export interface PropertyGetCommand {
  readonly cid: number;
  readonly offset: number;
  readonly size: PropertySize;
}

export interface PropertySetCommand extends PropertyGetCommand {
  /** Value bits 31:0. */
  readonly value: number;
  /** Value bits 63:32 (8-byte properties only; 0 otherwise). */
  readonly valueHi: number;
}

function attrib(size: number): number {
  if (size !== 4 && size !== 8)
    throw new WireError('WIRE_ENCODE_RANGE', `property size ${size} is not 4 or 8`);
  return size === 8 ? 1 : 0;
}

export function propertyGetCommand(cmd: PropertyGetCommand): Sqe {
  return makeSqe({
    opc: FABRICS_OPCODE,
    cid: cmd.cid,
    nsid: FabricsType.PropertyGet,
    sgl: SGL_NULL,
    cdw10: attrib(cmd.size),
    cdw11: cmd.offset,
  });
}

export function propertySetCommand(
  cmd: PropertyGetCommand & { readonly value: number; readonly valueHi?: number },
): Sqe {
  const valueHi = cmd.valueHi ?? 0;
  if (cmd.size === 4 && valueHi !== 0) {
    throw new WireError('WIRE_ENCODE_RANGE', 'a 4-byte Property Set cannot carry value bits 63:32');
  }
  return makeSqe({
    opc: FABRICS_OPCODE,
    cid: cmd.cid,
    nsid: FabricsType.PropertySet,
    sgl: SGL_NULL,
    cdw10: attrib(cmd.size),
    cdw11: cmd.offset,
    cdw12: cmd.value,
    cdw13: valueHi,
  });
}

/** ATTRIB bits 2:0: 0 → 4 bytes, 1 → 8 bytes; anything else is returned as reported for the caller to reject. */
function sizeOf(cdw10: number): number {
  const a = cdw10 & 0x7;
  return a === 0 ? 4 : a === 1 ? 8 : -a;
}

export function decodePropertyGetCommand(sqe: Sqe): { cid: number; offset: number; size: number } {
  expectFabrics(sqe, FabricsType.PropertyGet, 'Property Get');
  return { cid: sqe.cid, offset: sqe.cdw11, size: sizeOf(sqe.cdw10) };
}

/**
 * Decode a Property Set. `size` is 4 or 8, or the negated ATTRIB value when it is neither (a simulator
 * answers those with Invalid Field).
 */
export function decodePropertySetCommand(sqe: Sqe): {
  cid: number;
  offset: number;
  size: number;
  value: number;
  valueHi: number;
} {
  expectFabrics(sqe, FabricsType.PropertySet, 'Property Set');
  return { cid: sqe.cid, offset: sqe.cdw11, size: sizeOf(sqe.cdw10), value: sqe.cdw12, valueHi: sqe.cdw13 };
}

// ---------------------------------------------------------------------------------------------------
// Registers

/** Controller Capabilities (CAP, 64 bits, read as DW0 = bits 31:0 and DW1 = bits 63:32). */
export interface CapRegister {
  /** Maximum queue entries supported, 0's based. */
  readonly mqes: number;
  /** Contiguous queues required. */
  readonly cqr: boolean;
  /** Arbitration mechanism supported (bits 18:17). */
  readonly ams: number;
  /** Ready timeout in 500 ms units. */
  readonly to: number;
  /** Doorbell stride (bits 35:32). */
  readonly dstrd: number;
  /** NVM subsystem reset supported (b36). */
  readonly nssrs: boolean;
  /** Command sets supported (bits 44:37): b0 NVM, b6 I/O command sets (CSI), b7 admin only. */
  readonly css: number;
  /** Memory page size minimum (bits 51:48): 2^(12+MPSMIN). */
  readonly mpsmin: number;
  /** Memory page size maximum (bits 55:52). */
  readonly mpsmax: number;
  /** Controller ready with media support (bits 60:59): b0 CRWMS, b1 CRIMS. */
  readonly crms: number;
}

export function decodeCap(lo: number, hi: number): CapRegister {
  return {
    mqes: lo & 0xffff,
    cqr: ((lo >>> 16) & 1) === 1,
    ams: (lo >>> 17) & 0x3,
    to: (lo >>> 24) & 0xff,
    dstrd: hi & 0xf,
    nssrs: ((hi >>> 4) & 1) === 1,
    css: (hi >>> 5) & 0xff,
    mpsmin: (hi >>> 16) & 0xf,
    mpsmax: (hi >>> 20) & 0xf,
    crms: (hi >>> 27) & 0x3,
  };
}

/** CAP as [bits 31:0, bits 63:32]. */
export function encodeCap(cap: CapRegister): [lo: number, hi: number] {
  const f = fieldChecker('CAP');
  const lo =
    f(cap.mqes, 0xffff) | (cap.cqr ? 1 << 16 : 0) | (f(cap.ams, 0x3) << 17) | (f(cap.to, 0xff) << 24);
  const hi =
    f(cap.dstrd, 0xf) |
    (cap.nssrs ? 1 << 4 : 0) |
    (f(cap.css, 0xff) << 5) |
    (f(cap.mpsmin, 0xf) << 16) |
    (f(cap.mpsmax, 0xf) << 20) |
    (f(cap.crms, 0x3) << 27);
  return [lo >>> 0, hi >>> 0];
}

/** Version (VS register, Identify VER): major.minor.tertiary. */
export interface NvmeVersion {
  readonly mjr: number;
  readonly mnr: number;
  readonly ter: number;
}

export function decodeVersion(v: number): NvmeVersion {
  return { mjr: v >>> 16, mnr: (v >>> 8) & 0xff, ter: v & 0xff };
}

export function encodeVersion(v: NvmeVersion): number {
  const f = fieldChecker('VS');
  return ((f(v.mjr, 0xffff) << 16) | (f(v.mnr, 0xff) << 8) | f(v.ter, 0xff)) >>> 0;
}

/** Controller Configuration (CC). */
export interface CcRegister {
  /** Enable (b0). */
  readonly en: boolean;
  /** I/O command set selected (6:4): 0 NVM, 6 all I/O sets (CSI), 7 admin only. */
  readonly css: number;
  /** Memory page size (10:7), 0 = 4 KiB. */
  readonly mps: number;
  /** Arbitration mechanism (13:11), 0 = round robin. */
  readonly ams: number;
  /** Shutdown notification (15:14): 0 none, 1 normal, 2 abrupt. */
  readonly shn: number;
  /** I/O SQ entry size, log2 (19:16): 6. */
  readonly iosqes: number;
  /** I/O CQ entry size, log2 (23:20): 4. */
  readonly iocqes: number;
  /** Controller ready independent of media enable (b24). */
  readonly crime: boolean;
}

/** CC as Linux writes it for a discovery controller, disabled: 0x00460000. */
export const CC_DEFAULT: CcRegister = {
  en: false,
  css: 0,
  mps: 0,
  ams: 0,
  shn: 0,
  iosqes: 6,
  iocqes: 4,
  crime: false,
};

export function encodeCc(cc: CcRegister): number {
  const f = fieldChecker('CC');
  return (
    ((cc.en ? 1 : 0) |
      (f(cc.css, 0x7) << 4) |
      (f(cc.mps, 0xf) << 7) |
      (f(cc.ams, 0x7) << 11) |
      (f(cc.shn, 0x3) << 14) |
      (f(cc.iosqes, 0xf) << 16) |
      (f(cc.iocqes, 0xf) << 20) |
      (cc.crime ? 1 << 24 : 0)) >>>
    0
  );
}

export function decodeCc(v: number): CcRegister {
  return {
    en: (v & 1) === 1,
    css: (v >>> 4) & 0x7,
    mps: (v >>> 7) & 0xf,
    ams: (v >>> 11) & 0x7,
    shn: (v >>> 14) & 0x3,
    iosqes: (v >>> 16) & 0xf,
    iocqes: (v >>> 20) & 0xf,
    crime: ((v >>> 24) & 1) === 1,
  };
}

/** Controller Status (CSTS). */
export interface CstsRegister {
  /** Ready (b0). */
  readonly rdy: boolean;
  /** Controller fatal status (b1). */
  readonly cfs: boolean;
  /** Shutdown status (3:2): 0 normal, 1 in progress, 2 complete. */
  readonly shst: number;
  /** NVM subsystem reset occurred (b4). */
  readonly nssro: boolean;
  /** Processing paused (b5). */
  readonly pp: boolean;
}

export function decodeCsts(v: number): CstsRegister {
  return {
    rdy: (v & 1) === 1,
    cfs: ((v >>> 1) & 1) === 1,
    shst: (v >>> 2) & 0x3,
    nssro: ((v >>> 4) & 1) === 1,
    pp: ((v >>> 5) & 1) === 1,
  };
}

export function encodeCsts(csts: CstsRegister): number {
  const f = fieldChecker('CSTS');
  return (
    (csts.rdy ? 1 : 0) |
    (csts.cfs ? 2 : 0) |
    (f(csts.shst, 0x3) << 2) |
    (csts.nssro ? 16 : 0) |
    (csts.pp ? 32 : 0)
  );
}

function fieldChecker(what: string): (v: number, max: number) => number {
  return (v, max) => checkedField(what, v, max);
}
