import { describe, expect, it } from 'vitest';
import { ByteBuilder, wireErrorCode } from '../../testing/wire-bytes.js';
import {
  ControllerType,
  DiscoveryControllerType,
  LPA_EXTENDED_DATA,
  OAES_DISCOVERY_LOG_CHANGE,
  decodeIdentifyController,
  emptyIdentifyController,
  encodeIdentifyController,
  type IdentifyController,
} from './identify-ctrl.js';

const SUBNQN = 'nqn.2014-08.org.nvmexpress.discovery';

/** A CDC-like Identify Controller image, every field placed by hand at its spec offset. */
function handBuilt(): Uint8Array {
  return new ByteBuilder(4096)
    .u16(0, 0x1b96) // VID
    .u16(2, 0x1b97) // SSVID
    .ascii(4, 'SN-0001')
    .fill(11, 13, 0x20) // SN, space padded to 20
    .ascii(24, 'Central Discovery Ctrl')
    .fill(46, 18, 0x20) // MN, 40
    .ascii(64, '6.8.0')
    .fill(69, 3, 0x20) // FR, 8
    .u8(72, 6) // RAB
    .raw(73, [0x11, 0x22, 0x33]) // IEEE OUI 0x332211
    .u8(77, 5) // MDTS
    .u16(78, 0x0042) // CNTLID
    .u32(80, 0x00020000) // VER 2.0
    .u32(88, 5_000_000) // RTD3E
    .u32(92, 0x80000000) // OAES b31
    .u32(96, 0x40) // CTRATT TBKAS
    .u8(111, 2) // CNTRLTYPE discovery
    .raw(
      112,
      Array.from({ length: 16 }, (_, i) => 0xa0 + i),
    ) // FGUID
    .u16(128, 10) // CRDT1
    .u8(259, 3) // AERL
    .u8(261, 0x04) // LPA b2
    .u16(320, 100) // KAS 10 s
    .u16(514, 128) // MAXCMD
    .u32(536, 0x00100001) // SGLS
    .ascii(768, SUBNQN)
    .u32(1792, 4) // IOCCSZ
    .u32(1796, 1) // IORCSZ
    .u8(1803, 1) // MSDBD
    .u8(1806, 2).bytes; // DCTYPE CDC
}

const EXPECTED: IdentifyController = {
  ...emptyIdentifyController(),
  vid: 0x1b96,
  ssvid: 0x1b97,
  sn: 'SN-0001',
  mn: 'Central Discovery Ctrl',
  fr: '6.8.0',
  rab: 6,
  ieee: 0x332211,
  mdts: 5,
  cntlid: 0x42,
  ver: 0x00020000,
  rtd3e: 5_000_000,
  oaes: OAES_DISCOVERY_LOG_CHANGE,
  ctratt: 0x40,
  cntrltype: ControllerType.Discovery,
  fguid: Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i),
  crdt1: 10,
  aerl: 3,
  lpa: LPA_EXTENDED_DATA,
  kas: 100,
  maxcmd: 128,
  sgls: 0x00100001,
  subnqn: SUBNQN,
  ioccsz: 4,
  iorcsz: 1,
  msdbd: 1,
  dctype: DiscoveryControllerType.Cdc,
};

describe('Identify Controller data', () => {
  it('decodes hand-placed fields, trimming SN/MN/FR padding', () => {
    expect(decodeIdentifyController(handBuilt())).toEqual(EXPECTED);
  });

  it('encodes exactly the hand-built image (CNTRLTYPE at byte 111, DCTYPE at byte 1806)', () => {
    const bytes = encodeIdentifyController(EXPECTED);
    expect(bytes).toEqual(handBuilt());
    expect(bytes[111]).toBe(2);
    expect(bytes[1806]).toBe(2);
  });

  it('round-trips an nvmet-like DC (DCTYPE 0, KAS 0, MDTS 0)', () => {
    const nvmet: IdentifyController = {
      ...emptyIdentifyController(),
      fr: '6.1.0',
      mn: 'Linux',
      sn: '8f3a1b2c4d5e6f70',
      cntrltype: 2,
      oaes: 0x80000000,
      lpa: 4,
      aerl: 3,
      maxcmd: 0xffff,
      sgls: 0x100005,
      subnqn: SUBNQN,
    };
    expect(decodeIdentifyController(encodeIdentifyController(nvmet))).toEqual(nvmet);
  });

  it('needs all 4096 bytes', () => {
    expect(wireErrorCode(() => decodeIdentifyController(new Uint8Array(4095)))).toBe('WIRE_TRUNCATED');
  });

  it('refuses a serial number longer than its 20-byte field', () => {
    expect(wireErrorCode(() => encodeIdentifyController({ ...EXPECTED, sn: 'x'.repeat(21) }))).toBe(
      'WIRE_ENCODE_RANGE',
    );
  });
});
