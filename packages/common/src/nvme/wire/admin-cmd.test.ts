import { describe, expect, it } from 'vitest';
import { ByteBuilder, hexBytes, wireErrorCode } from '../../testing/wire-bytes.js';
import {
  AEN_DISCOVERY_LOG_CHANGE,
  AdminOpcode,
  AsyncEventConfig,
  AsyncEventType,
  DiscoveryLsp,
  DiscoveryLspSupport,
  FeatureId,
  LogPageId,
  asyncEventDw0,
  asyncEventRequestCommand,
  decodeAsyncEvent,
  decodeGetFeaturesCommand,
  decodeGetLogPageCommand,
  decodeIdentifyCommand,
  decodeSetFeaturesCommand,
  decodeSupportedLogPages,
  encodeSupportedLogPages,
  getFeaturesCommand,
  getLogPageCommand,
  identifyCommand,
  isDiscoveryLogChange,
  keepAliveCommand,
  setAsyncEventConfigCommand,
  setFeaturesCommand,
} from './admin-cmd.js';
import { PduType, capsuleCmd, decodePdu, encodePdu } from './pdu.js';
import { makeSqe, type Sqe } from './sqe.js';

const IDENTIFY_CID5 = hexBytes(`
0000: 04 00 48 00 48 00 00 00 06 40 05 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 10 00 00 00 00 00 5a
0030: 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00`);

const SET_FEATURES_AEC_CID6 = hexBytes(`
0000: 04 00 48 00 48 00 00 00 09 40 06 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 5a
0030: 0b 00 00 00 00 00 00 80 00 00 00 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00`);

const AER_CID7 = hexBytes(`
0000: 04 00 48 00 48 00 00 00 0c 40 07 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 5a
0030: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00`);

const GET_LOG_HEADER_CID8 = hexBytes(`
0000: 04 00 48 00 48 00 00 00 02 40 08 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 14 00 00 00 00 00 00 5a
0030: 70 00 04 00 00 00 00 00 00 00 00 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00`);

const GET_LOG_ENTRIES_CID9 = hexBytes(`
0000: 04 00 48 00 48 00 00 00 02 40 09 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 10 00 00 00 00 00 5a
0030: 70 80 ff 03 00 00 00 00 00 04 00 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00`);

const KEEP_ALIVE_CID10 = hexBytes(`
0000: 04 00 48 00 48 00 00 00 18 40 0a 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 5a
0030: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00`);

const AER_COMPLETION = hexBytes('05 00 18 00 18 00 00 00 02 f0 70 00 00 00 00 00 0c 00 00 00 07 00 00 00');

function sqeOf(bytes: Uint8Array): Sqe {
  const pdu = decodePdu(bytes);
  if (pdu.type !== PduType.CapsuleCmd) throw new Error('not a CapsuleCmd');
  return pdu.sqe;
}

const wire = (sqe: Sqe): Uint8Array => encodePdu(capsuleCmd(sqe));

describe('Appendix B admin commands', () => {
  it('Identify Controller, CID 5, 4096 bytes', () => {
    expect(wire(identifyCommand({ cid: 5 }))).toEqual(IDENTIFY_CID5);
    expect(decodeIdentifyCommand(sqeOf(IDENTIFY_CID5))).toEqual({ cid: 5, cns: 1, cntid: 0, nsid: 0 });
  });

  it('Set Features AEC = 0x80000000, CID 6', () => {
    expect(wire(setAsyncEventConfigCommand({ cid: 6, mask: AsyncEventConfig.DLPCN }))).toEqual(
      SET_FEATURES_AEC_CID6,
    );
    expect(decodeSetFeaturesCommand(sqeOf(SET_FEATURES_AEC_CID6))).toEqual({
      cid: 6,
      fid: FeatureId.AsyncEventConfiguration,
      save: false,
      cdw11: 0x80000000,
    });
  });

  it('Asynchronous Event Request, CID 7, and Keep Alive, CID 10', () => {
    expect(wire(asyncEventRequestCommand({ cid: 7 }))).toEqual(AER_CID7);
    expect(wire(keepAliveCommand({ cid: 10 }))).toEqual(KEEP_ALIVE_CID10);
    expect(sqeOf(AER_CID7).opc).toBe(AdminOpcode.AsyncEventRequest);
  });

  it('Get Log Page 0x70 header: 20 bytes at LPO 0, RAE 0, CID 8', () => {
    const sqe = getLogPageCommand({ cid: 8, lid: LogPageId.Discovery, length: 20 });
    expect(sqe.cdw10).toBe(0x00040070);
    expect(wire(sqe)).toEqual(GET_LOG_HEADER_CID8);
    expect(decodeGetLogPageCommand(sqeOf(GET_LOG_HEADER_CID8))).toMatchObject({
      cid: 8,
      lid: 0x70,
      lsp: 0,
      rae: false,
      offset: 0,
      length: 20,
    });
  });

  it('Get Log Page 0x70 entries: 4096 bytes at LPO 1024, RAE 1, CID 9', () => {
    const sqe = getLogPageCommand({
      cid: 9,
      lid: LogPageId.Discovery,
      length: 4096,
      offset: 1024,
      rae: true,
    });
    expect(wire(sqe)).toEqual(GET_LOG_ENTRIES_CID9);
    expect(decodeGetLogPageCommand(sqeOf(GET_LOG_ENTRIES_CID9))).toEqual({
      cid: 9,
      lid: 0x70,
      lsp: 0,
      rae: true,
      offset: 1024,
      length: 4096,
      lsi: 0,
      uuidIndex: 0,
      ot: false,
      csi: 0,
      nsid: 0,
    });
  });

  it('Get Log Page with PLEO and RAE gives CDW10 0x03FF8270', () => {
    const sqe = getLogPageCommand({
      cid: 1,
      lid: 0x70,
      lsp: DiscoveryLsp.PLEO,
      rae: true,
      length: 4096,
      offset: 1024,
    });
    expect(sqe.cdw10).toBe(0x03ff8270);
    expect(sqe.cdw12).toBe(0x400);
  });
});

describe('Get Log Page', () => {
  it('splits NUMD into NUMDL/NUMDU and the offset into LPOL/LPOU', () => {
    const sqe = getLogPageCommand({ cid: 1, lid: 0x70, length: 0x40000 * 4, offset: 2 ** 33 + 8 });
    expect(sqe.cdw10 >>> 16).toBe(0xffff);
    expect(sqe.cdw11 & 0xffff).toBe(0x3);
    expect([sqe.cdw12, sqe.cdw13]).toEqual([8, 2]);
    expect(decodeGetLogPageCommand(sqe)).toMatchObject({ length: 0x40000 * 4, offset: 2 ** 33 + 8 });
  });

  it('refuses lengths and offsets that are not dword multiples', () => {
    expect(wireErrorCode(() => getLogPageCommand({ cid: 1, lid: 0x70, length: 18 }))).toBe(
      'WIRE_ENCODE_RANGE',
    );
    expect(wireErrorCode(() => getLogPageCommand({ cid: 1, lid: 0x70, length: 0 }))).toBe(
      'WIRE_ENCODE_RANGE',
    );
    expect(wireErrorCode(() => getLogPageCommand({ cid: 1, lid: 0x70, length: 4, offset: 2 }))).toBe(
      'WIRE_ENCODE_RANGE',
    );
    expect(wireErrorCode(() => getLogPageCommand({ cid: 1, lid: 0x70, length: 4, lsp: 0x80 }))).toBe(
      'WIRE_ENCODE_RANGE',
    );
  });

  it('refuses an LPOU that makes the offset larger than 2^53 when decoding', () => {
    const sqe = makeSqe({ opc: AdminOpcode.GetLogPage, cid: 1, cdw13: 0xffffffff });
    expect(wireErrorCode(() => decodeGetLogPageCommand(sqe))).toBe('WIRE_FIELD_RANGE');
    expect(wireErrorCode(() => decodeGetLogPageCommand(makeSqe({ opc: 0x06, cid: 1 })))).toBe(
      'WIRE_BAD_OPCODE',
    );
  });
});

describe('Supported Log Pages (LID 0x00)', () => {
  it('decodes the LID 0x70 dword with EXTDLPES and PLEOS', () => {
    const page = new ByteBuilder(1024).u32(0, 1).u32(0x70 * 4, 0x00030001).bytes;
    const pages = decodeSupportedLogPages(page);
    expect(pages).toEqual([
      { lid: 0, lsupp: true, ios: false, lidsp: 0 },
      { lid: 0x70, lsupp: true, ios: false, lidsp: DiscoveryLspSupport.EXTDLPES | DiscoveryLspSupport.PLEOS },
    ]);
    expect(encodeSupportedLogPages(pages)).toEqual(page);
  });

  it('needs the whole 1024 bytes', () => {
    expect(wireErrorCode(() => decodeSupportedLogPages(new Uint8Array(1020)))).toBe('WIRE_TRUNCATED');
  });
});

describe('asynchronous events', () => {
  it('decodes the Appendix B AER completion as a discovery log page change', () => {
    const pdu = decodePdu(AER_COMPLETION);
    if (pdu.type !== PduType.CapsuleResp) throw new Error('not a CapsuleResp');
    const ev = decodeAsyncEvent(pdu.cqe.dw0);
    expect(ev).toEqual({ type: AsyncEventType.Notice, info: 0xf0, lid: 0x70 });
    expect(isDiscoveryLogChange(ev)).toBe(true);
    expect(asyncEventDw0(ev)).toBe(AEN_DISCOVERY_LOG_CHANGE);
    expect(isDiscoveryLogChange(decodeAsyncEvent(0x00000002))).toBe(false);
  });
});

describe('Set / Get Features', () => {
  it('sets KATO (FID 0x0F) with save and reads features with SEL', () => {
    const set = setFeaturesCommand({ cid: 2, fid: FeatureId.KeepAliveTimer, cdw11: 30000, save: true });
    expect(set.cdw10).toBe(0x8000000f);
    expect(decodeSetFeaturesCommand(set)).toEqual({ cid: 2, fid: 0x0f, save: true, cdw11: 30000 });
    const get = getFeaturesCommand({ cid: 3, fid: FeatureId.AsyncEventConfiguration, sel: 3 });
    expect(get.cdw10).toBe(0x30b);
    expect(decodeGetFeaturesCommand(get)).toEqual({ cid: 3, fid: 0x0b, sel: 3 });
    expect(wireErrorCode(() => decodeGetFeaturesCommand(set))).toBe('WIRE_BAD_OPCODE');
  });
});
