import { describe, expect, it } from 'vitest';
import { ByteBuilder, concatBytes, hexBytes, wireErrorCode } from '../../testing/wire-bytes.js';
import { makeCqe } from './cqe.js';
import {
  CC_DEFAULT,
  CNTLID_DYNAMIC,
  DISCOVERY_NQN,
  FabricsType,
  Property,
  connectCommand,
  connectInvalidParameterDw0,
  connectResultDw0,
  decodeCap,
  decodeCc,
  decodeConnectCommand,
  decodeConnectData,
  decodeConnectInvalidParameter,
  decodeConnectResult,
  decodeCsts,
  decodePropertyGetCommand,
  decodePropertySetCommand,
  decodeVersion,
  encodeCap,
  encodeCc,
  encodeConnectData,
  encodeCsts,
  encodeVersion,
  fabricsType,
  propertyGetCommand,
  propertySetCommand,
} from './fabrics-cmd.js';
import { PduType, capsuleCmd, decodePdu, encodePdu } from './pdu.js';
import { makeSqe, type Sqe } from './sqe.js';

const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:0f8fad5b-d9cb-469f-a165-70867728950e';
const HOSTID = hexBytes('0f 8f ad 5b d9 cb 46 9f a1 65 70 86 77 28 95 0e');

const CONNECT_HEADER = hexBytes(`
0000: 04 00 48 48 48 04 00 00 7f 40 00 00 01 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 04 00 00 00 00 00 01
0030: 00 00 00 00 1f 00 00 00 30 75 00 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00`);

const CONNECT_DATA = new ByteBuilder(1024)
  .raw(0, HOSTID)
  .raw(16, [0xff, 0xff])
  .ascii(256, DISCOVERY_NQN)
  .ascii(512, HOSTNQN).bytes;

const PROPERTY_GET_CAP = hexBytes(`
0000: 04 00 48 00 48 00 00 00 7f 40 01 00 04 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 5a
0030: 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00`);

const PROPERTY_SET_CC_EN0 = hexBytes(`
0000: 04 00 48 00 48 00 00 00 7f 40 02 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 5a
0030: 00 00 00 00 14 00 00 00 00 00 46 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00`);

const PROPERTY_SET_CC_EN1 = hexBytes(`
0000: 04 00 48 00 48 00 00 00 7f 40 03 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 5a
0030: 00 00 00 00 14 00 00 00 01 00 46 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00`);

const PROPERTY_GET_CSTS = hexBytes(`
0000: 04 00 48 00 48 00 00 00 7f 40 04 00 04 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 5a
0030: 00 00 00 00 1c 00 00 00 00 00 00 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00`);

const CONNECT_RESPONSE = hexBytes('05 00 18 00 18 00 00 00 01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00');

function sqeOf(bytes: Uint8Array): Sqe {
  const pdu = decodePdu(bytes);
  if (pdu.type !== PduType.CapsuleCmd) throw new Error('not a CapsuleCmd');
  return pdu.sqe;
}

describe('Connect', () => {
  const cmd = connectCommand({ cid: 0, sqsize: 31, katoMs: 30000 });
  const data = encodeConnectData({
    hostid: HOSTID,
    cntlid: CNTLID_DYNAMIC,
    subnqn: DISCOVERY_NQN,
    hostnqn: HOSTNQN,
  });

  it('encodes the Appendix B admin-queue Connect (CID 0, SQSIZE 31, KATO 30 s) with its 1024-byte data', () => {
    expect(data).toEqual(CONNECT_DATA);
    expect(encodePdu(capsuleCmd(cmd, data))).toEqual(concatBytes(CONNECT_HEADER, CONNECT_DATA));
  });

  it('puts the data behind the header digest at PDO 0x4C when digests are on', () => {
    const bytes = encodePdu(capsuleCmd(cmd, data), { hdgst: true, ddgst: false });
    expect(Array.from(bytes.subarray(0, 8))).toEqual([4, 1, 0x48, 0x4c, 0x4c, 0x04, 0, 0]);
    expect(bytes.subarray(76)).toEqual(CONNECT_DATA);
  });

  it('decodes the command and data for the simulator', () => {
    const pdu = decodePdu(concatBytes(CONNECT_HEADER, CONNECT_DATA));
    if (pdu.type !== PduType.CapsuleCmd) throw new Error('not a CapsuleCmd');
    expect(fabricsType(pdu.sqe)).toBe(FabricsType.Connect);
    expect(decodeConnectCommand(pdu.sqe)).toEqual({
      cid: 0,
      recfmt: 0,
      qid: 0,
      sqsize: 31,
      cattr: 0,
      katoMs: 30000,
    });
    expect(pdu.sqe.sgl).toEqual({ id: 0x01, address: 0, length: 1024 });
    expect(decodeConnectData(pdu.data)).toEqual({
      hostid: HOSTID,
      cntlid: 0xffff,
      subnqn: DISCOVERY_NQN,
      hostnqn: HOSTNQN,
    });
  });

  it('reads the Appendix B Connect response (CNTLID 1, no authentication)', () => {
    const pdu = decodePdu(CONNECT_RESPONSE);
    if (pdu.type !== PduType.CapsuleResp) throw new Error('not a CapsuleResp');
    expect(decodeConnectResult(pdu.cqe)).toEqual({ cntlid: 1, atr: false, ascr: false });
    expect(connectResultDw0({ cntlid: 1, atr: false, ascr: false })).toBe(1);
    expect(decodeConnectResult(makeCqe({ cid: 0, dw0: 0x0002_0005 }))).toEqual({
      cntlid: 5,
      atr: true,
      ascr: false,
    });
    expect(connectResultDw0({ cntlid: 5, atr: true, ascr: true })).toBe(0x0006_0005);
  });

  it('reads IPO/IATTR of an invalid-parameter completion', () => {
    expect(decodeConnectInvalidParameter({ dw0: 0x0001_0100 })).toEqual({ ipo: 256, inData: true });
    expect(connectInvalidParameterDw0({ ipo: 44, inData: false })).toBe(44);
  });

  it('refuses NQNs that leave no NUL terminator and HOSTIDs that are not 16 bytes', () => {
    const long = 'n'.repeat(256);
    expect(
      wireErrorCode(() =>
        encodeConnectData({ hostid: HOSTID, cntlid: 0xffff, subnqn: long, hostnqn: HOSTNQN }),
      ),
    ).toBe('WIRE_ENCODE_RANGE');
    expect(
      wireErrorCode(() =>
        encodeConnectData({
          hostid: new Uint8Array(15),
          cntlid: 0xffff,
          subnqn: DISCOVERY_NQN,
          hostnqn: HOSTNQN,
        }),
      ),
    ).toBe('WIRE_ENCODE_RANGE');
    expect(wireErrorCode(() => connectCommand({ cid: 0, sqsize: 0x10000 }))).toBe('WIRE_ENCODE_RANGE');
  });

  it('refuses to decode another command as Connect', () => {
    expect(wireErrorCode(() => decodeConnectCommand(sqeOf(PROPERTY_GET_CAP)))).toBe('WIRE_BAD_OPCODE');
    expect(wireErrorCode(() => decodeConnectCommand(makeSqe({ opc: 0x06, cid: 1, nsid: 1 })))).toBe(
      'WIRE_BAD_OPCODE',
    );
    expect(fabricsType(makeSqe({ opc: 0x06, cid: 1 }))).toBeUndefined();
  });
});

describe('Property Get / Set', () => {
  it('encodes the Appendix B Property Get CAP and CSTS', () => {
    expect(encodePdu(capsuleCmd(propertyGetCommand({ cid: 1, ...Property.CAP })))).toEqual(PROPERTY_GET_CAP);
    expect(encodePdu(capsuleCmd(propertyGetCommand({ cid: 4, ...Property.CSTS })))).toEqual(
      PROPERTY_GET_CSTS,
    );
  });

  it('encodes the Appendix B Property Set CC with EN=0 and EN=1', () => {
    const en0 = encodeCc(CC_DEFAULT);
    const en1 = encodeCc({ ...CC_DEFAULT, en: true });
    expect(en0).toBe(0x00460000);
    expect(en1).toBe(0x00460001);
    expect(encodePdu(capsuleCmd(propertySetCommand({ cid: 2, ...Property.CC, value: en0 })))).toEqual(
      PROPERTY_SET_CC_EN0,
    );
    expect(encodePdu(capsuleCmd(propertySetCommand({ cid: 3, ...Property.CC, value: en1 })))).toEqual(
      PROPERTY_SET_CC_EN1,
    );
  });

  it('decodes them for the simulator', () => {
    expect(decodePropertyGetCommand(sqeOf(PROPERTY_GET_CAP))).toEqual({ cid: 1, offset: 0, size: 8 });
    expect(decodePropertyGetCommand(sqeOf(PROPERTY_GET_CSTS))).toEqual({ cid: 4, offset: 0x1c, size: 4 });
    expect(decodePropertySetCommand(sqeOf(PROPERTY_SET_CC_EN1))).toEqual({
      cid: 3,
      offset: 0x14,
      size: 4,
      value: 0x00460001,
      valueHi: 0,
    });
    const odd = makeSqe({ opc: 0x7f, cid: 9, nsid: FabricsType.PropertyGet, cdw10: 3 });
    expect(decodePropertyGetCommand(odd).size).toBe(-3);
    expect(wireErrorCode(() => decodePropertySetCommand(sqeOf(PROPERTY_GET_CAP)))).toBe('WIRE_BAD_OPCODE');
  });

  it('refuses sizes other than 4 and 8, and high bits on a 4-byte set', () => {
    expect(wireErrorCode(() => propertyGetCommand({ cid: 1, offset: 0, size: 2 as 4 }))).toBe(
      'WIRE_ENCODE_RANGE',
    );
    expect(wireErrorCode(() => propertySetCommand({ cid: 1, ...Property.CC, value: 0, valueHi: 1 }))).toBe(
      'WIRE_ENCODE_RANGE',
    );
    const set8 = propertySetCommand({ cid: 1, offset: 0x30, size: 8, value: 1, valueHi: 2 });
    expect([set8.cdw10, set8.cdw12, set8.cdw13]).toEqual([1, 1, 2]);
  });
});

describe('registers', () => {
  it('decodes CAP from the two result dwords', () => {
    // nvmet-like CAP: MQES 1023, CQR, TO 15 (7.5 s), CSS NVM (b37), MPSMAX 0
    const lo = 1023 | (1 << 16) | (15 << 24);
    const hi = 1 << 5;
    const cap = decodeCap(lo >>> 0, hi);
    expect(cap).toEqual({
      mqes: 1023,
      cqr: true,
      ams: 0,
      to: 15,
      dstrd: 0,
      nssrs: false,
      css: 1,
      mpsmin: 0,
      mpsmax: 0,
      crms: 0,
    });
    expect(encodeCap(cap)).toEqual([lo >>> 0, hi]);
    const csi = decodeCap(0, (0x40 << 5) | (3 << 27) | (2 << 16) | (4 << 20) | 1 | (1 << 4));
    expect(csi).toMatchObject({ css: 0x40, crms: 3, mpsmin: 2, mpsmax: 4, dstrd: 1, nssrs: true });
  });

  it('encodes CC for shutdown (0x00464001) and CSI (0x00460061), and decodes CC', () => {
    expect(encodeCc({ ...CC_DEFAULT, en: true, shn: 1 })).toBe(0x00464001);
    expect(encodeCc({ ...CC_DEFAULT, en: true, css: 6 })).toBe(0x00460061);
    expect(decodeCc(0x01464061)).toEqual({ ...CC_DEFAULT, en: true, css: 6, shn: 1, crime: true });
    expect(wireErrorCode(() => encodeCc({ ...CC_DEFAULT, css: 8 }))).toBe('WIRE_ENCODE_RANGE');
  });

  it('decodes CSTS ready, fatal and shutdown-complete states', () => {
    expect(decodeCsts(1)).toEqual({ rdy: true, cfs: false, shst: 0, nssro: false, pp: false });
    expect(decodeCsts(0x0b)).toMatchObject({ rdy: true, cfs: true, shst: 2 });
    expect(decodeCsts(0x30)).toMatchObject({ nssro: true, pp: true });
    expect(encodeCsts({ rdy: true, cfs: false, shst: 2, nssro: false, pp: false })).toBe(0x09);
  });

  it('decodes and encodes VS (1.3.0)', () => {
    expect(decodeVersion(0x00010300)).toEqual({ mjr: 1, mnr: 3, ter: 0 });
    expect(encodeVersion({ mjr: 2, mnr: 0, ter: 1 })).toBe(0x00020001);
  });
});
