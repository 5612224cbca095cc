/**
 * Admin commands a discovery host sends (Identify, Get Log Page, Set/Get Features, Asynchronous Event
 * Request, Keep Alive), the AEN completion value and the Supported Log Pages log (LID 0x00).
 *
 * Pure. Host side: `…Command()` builders return SQE models with the exact SGL the Linux target checks
 * (null SGL for no data, transport data block of the transfer length for C2H data). Simulator side:
 * `decode…Command()` read them back. The Identify Controller data lives in identify-ctrl.ts, DIM in
 * dim.ts, the Discovery Log Page in discovery-log.ts.
 *
 * Contract: decoders throw WireError WIRE_BAD_OPCODE for another opcode (and WIRE_FIELD_RANGE for a log
 * page offset above 2^53); builders throw WIRE_ENCODE_RANGE for values that do not fit (Get Log Page
 * offsets and lengths must be dword multiples, length 4 B..16 GiB). Offsets are numbers, not bigint.
 *
 * Used by: nvme/session/*, testing/dc-sim.ts
 * Tests:   admin-cmd.test.ts (Appendix B vectors)
 */
import { WireError } from '../../errors.js';
import { LeReader } from './le-reader.js';
import { LeWriter, checkedField } from './le-writer.js';
import { SGL_NULL, makeSqe, sglTransportData, type Sqe } from './sqe.js';

export const AdminOpcode = {
  GetLogPage: 0x02,
  Identify: 0x06,
  SetFeatures: 0x09,
  GetFeatures: 0x0a,
  AsyncEventRequest: 0x0c,
  KeepAlive: 0x18,
  DiscoveryInformationManagement: 0x21,
  Fabrics: 0x7f,
} as const;

function expectOpcode(sqe: Sqe, opc: number, what: string): void {
  if (sqe.opc !== opc) {
    throw new WireError('WIRE_BAD_OPCODE', `not a ${what} command (opcode 0x${sqe.opc.toString(16)})`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Identify

/** Identify CNS values used here. */
export const IdentifyCns = { Controller: 0x01 } as const;

export const IDENTIFY_DATA_SIZE = 4096;

export interface IdentifyCommand {
  readonly cid: number;
  /** Controller or Namespace Structure; 1 = Identify Controller. */
  readonly cns: number;
  /** Controller identifier (CDW10 31:16), 0. */
  readonly cntid: number;
  readonly nsid: number;
}

export function identifyCommand(cmd: Partial<IdentifyCommand> & Pick<IdentifyCommand, 'cid'>): Sqe {
  const c = { cns: IdentifyCns.Controller, cntid: 0, nsid: 0, ...cmd };
  return makeSqe({
    opc: AdminOpcode.Identify,
    cid: c.cid,
    nsid: c.nsid,
    sgl: sglTransportData(IDENTIFY_DATA_SIZE),
    cdw10:
      (checkedField('Identify CNS', c.cns, 0xff) |
        (checkedField('Identify CNTID', c.cntid, 0xffff) << 16)) >>>
      0,
  });
}

export function decodeIdentifyCommand(sqe: Sqe): IdentifyCommand {
  expectOpcode(sqe, AdminOpcode.Identify, 'Identify');
  return { cid: sqe.cid, cns: sqe.cdw10 & 0xff, cntid: sqe.cdw10 >>> 16, nsid: sqe.nsid };
}

// ---------------------------------------------------------------------------------------------------
// Get Log Page

/** Log page identifiers a discovery host uses. */
export const LogPageId = {
  SupportedLogPages: 0x00,
  Discovery: 0x70,
  HostDiscovery: 0x71,
  AveDiscovery: 0x72,
  PullModelDdcRequest: 0x73,
} as const;

/** LSP bits for LID 0x70. */
export const DiscoveryLsp = {
  /** Extended discovery log page entries. */
  EXTDLPE: 0x1,
  /** Port-local entries only. */
  PLEO: 0x2,
  /** All NVM subsystem entries. */
  ALLSUBE: 0x4,
} as const;

export interface GetLogPageCommand {
  readonly cid: number;
  readonly lid: number;
  /** Log specific parameter, 7 bits. */
  readonly lsp: number;
  /** Retain asynchronous event. */
  readonly rae: boolean;
  /** Byte offset into the log (LPOL/LPOU), a multiple of 4. */
  readonly offset: number;
  /** Bytes to read, a multiple of 4 (NUMD = length/4 − 1). */
  readonly length: number;
  /** Log specific identifier (CDW11 31:16). */
  readonly lsi: number;
  /** UUID index (CDW14 6:0). */
  readonly uuidIndex: number;
  /** Offset type (CDW14 b23): false = byte offset. */
  readonly ot: boolean;
  /** Command set identifier (CDW14 31:24). */
  readonly csi: number;
  /** NSID, 0. */
  readonly nsid: number;
}

/** Largest Get Log Page transfer: NUMD is 32 bits of dwords. */
const MAX_LOG_LENGTH = 0x1_0000_0000 * 4;

export function getLogPageCommand(
  cmd: Partial<GetLogPageCommand> & Pick<GetLogPageCommand, 'cid' | 'lid' | 'length'>,
): Sqe {
  const c = { lsp: 0, rae: false, offset: 0, lsi: 0, uuidIndex: 0, ot: false, csi: 0, nsid: 0, ...cmd };
  if (!Number.isSafeInteger(c.length) || c.length < 4 || c.length > MAX_LOG_LENGTH || c.length % 4 !== 0) {
    throw new WireError(
      'WIRE_ENCODE_RANGE',
      `Get Log Page length ${c.length} is not a dword multiple in 4..16 GiB`,
    );
  }
  if (!Number.isSafeInteger(c.offset) || c.offset < 0 || c.offset % 4 !== 0) {
    throw new WireError('WIRE_ENCODE_RANGE', `Get Log Page offset ${c.offset} is not a dword multiple`);
  }
  const numd = c.length / 4 - 1;
  const numdl = numd % 0x10000;
  const numdu = Math.floor(numd / 0x10000);
  return makeSqe({
    opc: AdminOpcode.GetLogPage,
    cid: c.cid,
    nsid: c.nsid,
    sgl: sglTransportData(c.length),
    cdw10:
      (checkedField('LID', c.lid, 0xff) |
        (checkedField('LSP', c.lsp, 0x7f) << 8) |
        (c.rae ? 0x8000 : 0) |
        (numdl << 16)) >>>
      0,
    cdw11: (numdu | (checkedField('LSI', c.lsi, 0xffff) << 16)) >>> 0,
    cdw12: c.offset % 0x1_0000_0000,
    cdw13: Math.floor(c.offset / 0x1_0000_0000),
    cdw14:
      (checkedField('UUID index', c.uuidIndex, 0x7f) |
        (c.ot ? 1 << 23 : 0) |
        (checkedField('CSI', c.csi, 0xff) << 24)) >>>
      0,
  });
}

export function decodeGetLogPageCommand(sqe: Sqe): GetLogPageCommand {
  expectOpcode(sqe, AdminOpcode.GetLogPage, 'Get Log Page');
  const numd = (sqe.cdw10 >>> 16) + (sqe.cdw11 & 0xffff) * 0x10000;
  const offset = sqe.cdw12 + sqe.cdw13 * 0x1_0000_0000;
  if (!Number.isSafeInteger(offset)) {
    throw new WireError(
      'WIRE_FIELD_RANGE',
      `Get Log Page offset (LPOU 0x${sqe.cdw13.toString(16)}) above 2^53`,
      {
        offset: 52,
      },
    );
  }
  return {
    cid: sqe.cid,
    lid: sqe.cdw10 & 0xff,
    lsp: (sqe.cdw10 >>> 8) & 0x7f,
    rae: ((sqe.cdw10 >>> 15) & 1) === 1,
    offset,
    length: (numd + 1) * 4,
    lsi: sqe.cdw11 >>> 16,
    uuidIndex: sqe.cdw14 & 0x7f,
    ot: ((sqe.cdw14 >>> 23) & 1) === 1,
    csi: sqe.cdw14 >>> 24,
    nsid: sqe.nsid,
  };
}

/** Supported Log Pages (LID 0x00): 1024 bytes, one dword per LID. */
export const SUPPORTED_LOG_PAGES_SIZE = 1024;

export interface SupportedLogPage {
  readonly lid: number;
  /** LID supported (b0). */
  readonly lsupp: boolean;
  /** Index offset supported (b1). */
  readonly ios: boolean;
  /** LID-specific parameter (bits 31:16); for LID 0x70 see DiscoveryLspSupport. */
  readonly lidsp: number;
}

/** LID-specific parameter bits of LID 0x70's dword (already shifted down by 16). */
export const DiscoveryLspSupport = { EXTDLPES: 0x1, PLEOS: 0x2, ALLSUBES: 0x4 } as const;

/** Decode LID 0x00; only LIDs whose dword is non-zero are listed, in LID order. */
export function decodeSupportedLogPages(bytes: Uint8Array): SupportedLogPage[] {
  const r = new LeReader(bytes, 'Supported Log Pages');
  r.bytesAt(0, SUPPORTED_LOG_PAGES_SIZE);
  const pages: SupportedLogPage[] = [];
  for (let lid = 0; lid < 256; lid++) {
    const d = r.u32At(lid * 4);
    if (d !== 0) pages.push({ lid, lsupp: (d & 1) === 1, ios: ((d >>> 1) & 1) === 1, lidsp: d >>> 16 });
  }
  return pages;
}

export function encodeSupportedLogPages(pages: readonly SupportedLogPage[]): Uint8Array {
  const w = new LeWriter(SUPPORTED_LOG_PAGES_SIZE, 'Supported Log Pages');
  for (const p of pages) {
    const d = (p.lsupp ? 1 : 0) | (p.ios ? 2 : 0) | (checkedField('LIDSP', p.lidsp, 0xffff) << 16);
    w.u32At(checkedField('LID', p.lid, 0xff) * 4, d >>> 0, `LID 0x${p.lid.toString(16)}`);
  }
  return w.bytes;
}

// ---------------------------------------------------------------------------------------------------
// Keep Alive, Asynchronous Event Request and its completion

export function keepAliveCommand(cmd: { readonly cid: number }): Sqe {
  return makeSqe({ opc: AdminOpcode.KeepAlive, cid: cmd.cid, sgl: SGL_NULL });
}

export function asyncEventRequestCommand(cmd: { readonly cid: number }): Sqe {
  return makeSqe({ opc: AdminOpcode.AsyncEventRequest, cid: cmd.cid, sgl: SGL_NULL });
}

/** Asynchronous Event Type (completion DW0 2:0). */
export const AsyncEventType = {
  Error: 0,
  SmartHealth: 1,
  Notice: 2,
  Immediate: 3,
  OneShot: 4,
  IoCommandSetSpecific: 6,
  VendorSpecific: 7,
} as const;

/** Asynchronous Event Information values for AsyncEventType.Notice. */
export const NoticeEventInfo = {
  NamespaceAttributeChanged: 0x00,
  FirmwareActivationStarting: 0x01,
  TelemetryLogChanged: 0x02,
  AnaChange: 0x03,
  PredictableLatencyAggregate: 0x04,
  LbaStatusAlert: 0x05,
  EnduranceGroupAggregate: 0x06,
  DiscoveryLogPageChange: 0xf0,
} as const;

/** DW0 of the AER completion for "Discovery Log Page Change" (notice 0xF0, LID 0x70). */
export const AEN_DISCOVERY_LOG_CHANGE = 0x0070f002;

export interface AsyncEvent {
  /** Async Event Type (bits 2:0). */
  readonly type: number;
  /** Async Event Information (bits 15:8). */
  readonly info: number;
  /** Log page to read (bits 23:16). */
  readonly lid: number;
}

export function decodeAsyncEvent(dw0: number): AsyncEvent {
  return { type: dw0 & 0x7, info: (dw0 >>> 8) & 0xff, lid: (dw0 >>> 16) & 0xff };
}

export function asyncEventDw0(ev: AsyncEvent): number {
  return (
    (checkedField('AEN type', ev.type, 0x7) |
      (checkedField('AEN info', ev.info, 0xff) << 8) |
      (checkedField('AEN LID', ev.lid, 0xff) << 16)) >>>
    0
  );
}

export function isDiscoveryLogChange(ev: AsyncEvent): boolean {
  return (
    ev.type === AsyncEventType.Notice &&
    ev.info === NoticeEventInfo.DiscoveryLogPageChange &&
    ev.lid === LogPageId.Discovery
  );
}

// ---------------------------------------------------------------------------------------------------
// Set / Get Features

export const FeatureId = {
  AsyncEventConfiguration: 0x0b,
  KeepAliveTimer: 0x0f,
} as const;

/** Asynchronous Event Configuration (FID 0x0B) CDW11 notice-enable bits. */
export const AsyncEventConfig = {
  NamespaceAttribute: 0x0000_0100,
  FirmwareActivation: 0x0000_0200,
  TelemetryLog: 0x0000_0400,
  AnaChange: 0x0000_0800,
  /** Pull Model DDC Request log page change (LID 0x73). */
  PMDRLPCN: 0x1000_0000,
  /** AVE Discovery log page change (LID 0x72). */
  ADLPCN: 0x2000_0000,
  /** Host Discovery log page change (LID 0x71). */
  HDLPCN: 0x4000_0000,
  /** Discovery Log Page Change (LID 0x70). */
  DLPCN: 0x8000_0000,
} as const;

export interface SetFeaturesCommand {
  readonly cid: number;
  readonly fid: number;
  /** Save (CDW10 b31). */
  readonly save: boolean;
  readonly cdw11: number;
}

export function setFeaturesCommand(
  cmd: Partial<SetFeaturesCommand> & Pick<SetFeaturesCommand, 'cid' | 'fid' | 'cdw11'>,
): Sqe {
  return makeSqe({
    opc: AdminOpcode.SetFeatures,
    cid: cmd.cid,
    sgl: SGL_NULL,
    cdw10: (checkedField('FID', cmd.fid, 0xff) | (cmd.save === true ? 0x8000_0000 : 0)) >>> 0,
    cdw11: cmd.cdw11,
  });
}

export function decodeSetFeaturesCommand(sqe: Sqe): SetFeaturesCommand {
  expectOpcode(sqe, AdminOpcode.SetFeatures, 'Set Features');
  return { cid: sqe.cid, fid: sqe.cdw10 & 0xff, save: sqe.cdw10 >>> 31 === 1, cdw11: sqe.cdw11 };
}

/** Set Features Asynchronous Event Configuration (FID 0x0B) with the given enable mask. */
export function setAsyncEventConfigCommand(cmd: { readonly cid: number; readonly mask: number }): Sqe {
  return setFeaturesCommand({ cid: cmd.cid, fid: FeatureId.AsyncEventConfiguration, cdw11: cmd.mask });
}

export interface GetFeaturesCommand {
  readonly cid: number;
  readonly fid: number;
  /** Select (CDW10 10:8): 0 current, 1 default, 2 saved, 3 supported capabilities. */
  readonly sel: number;
}

export function getFeaturesCommand(
  cmd: Partial<GetFeaturesCommand> & Pick<GetFeaturesCommand, 'cid' | 'fid'>,
): Sqe {
  return makeSqe({
    opc: AdminOpcode.GetFeatures,
    cid: cmd.cid,
    sgl: SGL_NULL,
    cdw10: (checkedField('FID', cmd.fid, 0xff) | (checkedField('SEL', cmd.sel ?? 0, 0x7) << 8)) >>> 0,
  });
}

export function decodeGetFeaturesCommand(sqe: Sqe): GetFeaturesCommand {
  expectOpcode(sqe, AdminOpcode.GetFeatures, 'Get Features');
  return { cid: sqe.cid, fid: sqe.cdw10 & 0xff, sel: (sqe.cdw10 >>> 8) & 0x7 };
}
