/**
 * Identify Controller data (CNS 0x01, 4096 bytes): the fields a discovery host needs, decoded and
 * encoded (the DC simulator answers Identify with encodeIdentifyController()).
 *
 * Pure. Offsets are those of libnvme's `struct nvme_id_ctrl` (wire doc §4). Fields not listed here are
 * reserved or irrelevant to discovery and are written as 0. SN/MN/FR are space padded, SUBNQN NUL
 * padded; decoding trims both.
 *
 * Contract: decodeIdentifyController() throws WireError WIRE_TRUNCATED for fewer than 4096 bytes and
 * nothing else; encodeIdentifyController() throws WIRE_ENCODE_RANGE for values that do not fit.
 *
 * Used by: nvme/session/discovery-session.ts, testing/dc-sim.ts
 * Tests:   identify-ctrl.test.ts (hand-placed bytes for CNTRLTYPE/DCTYPE/…, round trip)
 */
import { LeReader } from './le-reader.js';
import { LeWriter } from './le-writer.js';

import { IDENTIFY_DATA_SIZE } from './admin-cmd.js';

export { IDENTIFY_DATA_SIZE };

/** CNTRLTYPE (byte 111). */
export const ControllerType = { NotReported: 0, Io: 1, Discovery: 2, Administrative: 3 } as const;

/** DCTYPE (byte 1806). */
export const DiscoveryControllerType = { NotReported: 0, Ddc: 1, Cdc: 2 } as const;

/** OAES bit 31: Discovery Log Page Change notices supported. */
export const OAES_DISCOVERY_LOG_CHANGE = 0x8000_0000;
/** LPA bit 2: extended data for Get Log Page (NUMDU, LPOL/LPOU). */
export const LPA_EXTENDED_DATA = 0x04;
/** CTRATT bit 6: traffic-based keep alive. */
export const CTRATT_TBKAS = 0x40;

export interface IdentifyController {
  readonly vid: number;
  readonly ssvid: number;
  /** Serial number (trimmed). */
  readonly sn: string;
  /** Model number (trimmed). */
  readonly mn: string;
  /** Firmware revision (trimmed). */
  readonly fr: string;
  readonly rab: number;
  /** IEEE OUI, 24 bits. */
  readonly ieee: number;
  readonly cmic: number;
  /** Max data transfer size, 2^MDTS × CAP.MPSMIN page; 0 = no limit. */
  readonly mdts: number;
  readonly cntlid: number;
  /** Version, VS encoding (see fabrics-cmd.ts decodeVersion). */
  readonly ver: number;
  readonly rtd3r: number;
  readonly rtd3e: number;
  /** Optional asynchronous events supported; b31 discovery log page change. */
  readonly oaes: number;
  /** Controller attributes; b6 TBKAS. */
  readonly ctratt: number;
  readonly rrls: number;
  /** Controller type: 0 not reported, 1 I/O, 2 discovery, 3 administrative. */
  readonly cntrltype: number;
  /** FRU GUID, 16 bytes. */
  readonly fguid: Uint8Array;
  readonly crdt1: number;
  readonly crdt2: number;
  readonly crdt3: number;
  readonly oacs: number;
  readonly acl: number;
  /** Asynchronous event request limit, 0's based. */
  readonly aerl: number;
  readonly frmw: number;
  /** Log page attributes; b2 extended data (offsets) for Get Log Page. */
  readonly lpa: number;
  readonly elpe: number;
  readonly npss: number;
  readonly avscc: number;
  readonly apsta: number;
  readonly wctemp: number;
  readonly cctemp: number;
  /** Keep alive support granularity in 100 ms units; 0 = not reported. */
  readonly kas: number;
  readonly sqes: number;
  readonly cqes: number;
  /** Max outstanding commands. */
  readonly maxcmd: number;
  readonly nn: number;
  readonly oncs: number;
  /** SGL support; bits 1:0 must be non-zero, b20 offset-based in-capsule data. */
  readonly sgls: number;
  readonly mnan: number;
  readonly subnqn: string;
  /** I/O queue command capsule size, 16-byte units. */
  readonly ioccsz: number;
  readonly iorcsz: number;
  /** In-capsule data offset, 16-byte units; must be 0. */
  readonly icdoff: number;
  /** Fabrics controller attributes; b0 static model. */
  readonly fcatt: number;
  /** Max SGL data block descriptors. */
  readonly msdbd: number;
  /** Optional fabrics commands; b0 Disconnect. */
  readonly ofcs: number;
  /** Discovery controller type: 0 not reported, 1 DDC, 2 CDC. */
  readonly dctype: number;
}

/** All-zero/empty Identify Controller data, to spread defaults from. */
export function emptyIdentifyController(): IdentifyController {
  return {
    vid: 0,
    ssvid: 0,
    sn: '',
    mn: '',
    fr: '',
    rab: 0,
    ieee: 0,
    cmic: 0,
    mdts: 0,
    cntlid: 0,
    ver: 0,
    rtd3r: 0,
    rtd3e: 0,
    oaes: 0,
    ctratt: 0,
    rrls: 0,
    cntrltype: 0,
    fguid: new Uint8Array(16),
    crdt1: 0,
    crdt2: 0,
    crdt3: 0,
    oacs: 0,
    acl: 0,
    aerl: 0,
    frmw: 0,
    lpa: 0,
    elpe: 0,
    npss: 0,
    avscc: 0,
    apsta: 0,
    wctemp: 0,
    cctemp: 0,
    kas: 0,
    sqes: 0,
    cqes: 0,
    maxcmd: 0,
    nn: 0,
    oncs: 0,
    sgls: 0,
    mnan: 0,
    subnqn: '',
    ioccsz: 0,
    iorcsz: 0,
    icdoff: 0,
    fcatt: 0,
    msdbd: 0,
    ofcs: 0,
    dctype: 0,
  };
}

export function decodeIdentifyController(bytes: Uint8Array): IdentifyController {
  const r = new LeReader(bytes, 'Identify Controller');
  r.bytesAt(0, IDENTIFY_DATA_SIZE);
  return {
    vid: r.u16At(0),
    ssvid: r.u16At(2),
    sn: r.textAt(4, 20),
    mn: r.textAt(24, 40),
    fr: r.textAt(64, 8),
    rab: r.u8At(72),
    ieee: r.u24At(73),
    cmic: r.u8At(76),
    mdts: r.u8At(77),
    cntlid: r.u16At(78),
    ver: r.u32At(80),
    rtd3r: r.u32At(84),
    rtd3e: r.u32At(88),
    oaes: r.u32At(92),
    ctratt: r.u32At(96),
    rrls: r.u16At(100),
    cntrltype: r.u8At(111),
    fguid: r.copyAt(112, 16),
    crdt1: r.u16At(128),
    crdt2: r.u16At(130),
    crdt3: r.u16At(132),
    oacs: r.u16At(256),
    acl: r.u8At(258),
    aerl: r.u8At(259),
    frmw: r.u8At(260),
    lpa: r.u8At(261),
    elpe: r.u8At(262),
    npss: r.u8At(263),
    avscc: r.u8At(264),
    apsta: r.u8At(265),
    wctemp: r.u16At(266),
    cctemp: r.u16At(268),
    kas: r.u16At(320),
    sqes: r.u8At(512),
    cqes: r.u8At(513),
    maxcmd: r.u16At(514),
    nn: r.u32At(516),
    oncs: r.u16At(520),
    sgls: r.u32At(536),
    mnan: r.u32At(540),
    subnqn: r.textAt(768, 256),
    ioccsz: r.u32At(1792),
    iorcsz: r.u32At(1796),
    icdoff: r.u16At(1800),
    fcatt: r.u8At(1802),
    msdbd: r.u8At(1803),
    ofcs: r.u16At(1804),
    dctype: r.u8At(1806),
  };
}

export function encodeIdentifyController(id: IdentifyController): Uint8Array {
  const w = new LeWriter(IDENTIFY_DATA_SIZE, 'Identify Controller');
  w.u16At(0, id.vid, 'VID')
    .u16At(2, id.ssvid, 'SSVID')
    .textAt(4, 20, id.sn, 'space', 'SN')
    .textAt(24, 40, id.mn, 'space', 'MN')
    .textAt(64, 8, id.fr, 'space', 'FR')
    .u8At(72, id.rab, 'RAB')
    .u24At(73, id.ieee, 'IEEE')
    .u8At(76, id.cmic, 'CMIC')
    .u8At(77, id.mdts, 'MDTS')
    .u16At(78, id.cntlid, 'CNTLID')
    .u32At(80, id.ver, 'VER')
    .u32At(84, id.rtd3r, 'RTD3R')
    .u32At(88, id.rtd3e, 'RTD3E')
    .u32At(92, id.oaes, 'OAES')
    .u32At(96, id.ctratt, 'CTRATT')
    .u16At(100, id.rrls, 'RRLS')
    .u8At(111, id.cntrltype, 'CNTRLTYPE')
    .bytesAt(112, id.fguid, 16, 'FGUID')
    .u16At(128, id.crdt1, 'CRDT1')
    .u16At(130, id.crdt2, 'CRDT2')
    .u16At(132, id.crdt3, 'CRDT3')
    .u16At(256, id.oacs, 'OACS')
    .u8At(258, id.acl, 'ACL')
    .u8At(259, id.aerl, 'AERL')
    .u8At(260, id.frmw, 'FRMW')
    .u8At(261, id.lpa, 'LPA')
    .u8At(262, id.elpe, 'ELPE')
    .u8At(263, id.npss, 'NPSS')
    .u8At(264, id.avscc, 'AVSCC')
    .u8At(265, id.apsta, 'APSTA')
    .u16At(266, id.wctemp, 'WCTEMP')
    .u16At(268, id.cctemp, 'CCTEMP')
    .u16At(320, id.kas, 'KAS')
    .u8At(512, id.sqes, 'SQES')
    .u8At(513, id.cqes, 'CQES')
    .u16At(514, id.maxcmd, 'MAXCMD')
    .u32At(516, id.nn, 'NN')
    .u16At(520, id.oncs, 'ONCS')
    .u32At(536, id.sgls, 'SGLS')
    .u32At(540, id.mnan, 'MNAN')
    .textAt(768, 256, id.subnqn, 'nul', 'SUBNQN')
    .u32At(1792, id.ioccsz, 'IOCCSZ')
    .u32At(1796, id.iorcsz, 'IORCSZ')
    .u16At(1800, id.icdoff, 'ICDOFF')
    .u8At(1802, id.fcatt, 'FCATT')
    .u8At(1803, id.msdbd, 'MSDBD')
    .u16At(1804, id.ofcs, 'OFCS')
    .u8At(1806, id.dctype, 'DCTYPE');
  return w.bytes;
}
