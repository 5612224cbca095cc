import { describe, expect, it } from 'vitest';
import { WireError } from '../../errors.js';
import {
  ByteBuilder,
  concatBytes,
  crc32cBitwise,
  hexBytes,
  le32,
  wireErrorCode,
} from '../../testing/wire-bytes.js';
import { makeCqe } from './cqe.js';
import {
  PduType,
  capsuleCmd,
  capsuleResp,
  dataOffset,
  decodeCommonHeader,
  decodePdu,
  encodePdu,
  pduHeaderLength,
  pduTypeName,
  type Pdu,
} from './pdu.js';
import { makeSqe, sglInCapsule } from './sqe.js';

const BOTH = { hdgst: true, ddgst: true };
const HD = { hdgst: true, ddgst: false };
const DD = { hdgst: false, ddgst: true };

function withZeros(head: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(head);
  return out;
}

// Appendix B, typed independently of the encoder.
const KEEP_ALIVE_CID10 = hexBytes(`
0000: 04 00 48 00 48 00 00 00 18 40 0a 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 5a
0030: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00`);

const KEEP_ALIVE_CID10_HDGST = hexBytes(`
0000: 04 01 48 00 4c 00 00 00 18 40 0a 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 5a
0030: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00 69 e8 91 d5`);

const C2H_DATA_CID8 = hexBytes(`
0000: 07 04 18 18 2c 00 00 00 08 00 00 00 00 00 00 00
0010: 14 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00
0020: 03 00 00 00 00 00 00 00 00 00 00 00`);

const CAPSULE_RESP_CID8 = hexBytes(`
0000: 05 00 18 00 18 00 00 00 00 00 00 00 00 00 00 00
0010: 09 00 00 00 08 00 00 00`);

const AER_COMPLETION = hexBytes(`
0000: 05 00 18 00 18 00 00 00 02 f0 70 00 00 00 00 00
0010: 0c 00 00 00 07 00 00 00`);

const ICRESP_NVMET = withZeros(hexBytes('0000: 01 00 80 00 80 00 00 00 00 00 00 00 00 00 40 00'), 128);

const ICREQ_BOTH_DIGESTS = withZeros(hexBytes('00 00 80 00 80 00 00 00 | 00 00 00 03 00 00 00 00'), 128);

describe('common header', () => {
  it('reads TYPE, FLAGS, HLEN, PDO and PLEN', () => {
    expect(decodeCommonHeader(C2H_DATA_CID8)).toEqual({ type: 7, flags: 4, hlen: 24, pdo: 24, plen: 44 });
  });

  it('knows the fixed HLEN of every type and names types', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 9].map((t) => pduHeaderLength(t))).toEqual([
      128, 128, 24, 24, 72, 24, 24, 24, 24,
    ]);
    expect(pduHeaderLength(8)).toBeUndefined();
    expect(pduTypeName(PduType.CapsuleResp)).toBe('CapsuleResp');
    expect(pduTypeName(8)).toBe('type 0x08');
  });
});

describe('ICReq / ICResp', () => {
  it('encodes the wire doc ICReq asking for both digests', () => {
    const pdu: Pdu = { type: PduType.ICReq, pfv: 0, hpda: 0, hdgst: true, ddgst: true, maxr2t: 0 };
    expect(encodePdu(pdu, BOTH)).toEqual(ICREQ_BOTH_DIGESTS);
    expect(decodePdu(ICREQ_BOTH_DIGESTS)).toEqual(pdu);
  });

  it('decodes the ICResp nvmet sends (CPDA 0, no digests, MAXH2CDATA 4 MiB)', () => {
    expect(decodePdu(ICRESP_NVMET)).toEqual({
      type: PduType.ICResp,
      pfv: 0,
      cpda: 0,
      hdgst: false,
      ddgst: false,
      maxh2cdata: 0x400000,
    });
  });

  it('never digests ICReq/ICResp, even when digests are on', () => {
    const pdu: Pdu = {
      type: PduType.ICResp,
      pfv: 0,
      cpda: 0,
      hdgst: false,
      ddgst: false,
      maxh2cdata: 0x400000,
    };
    expect(encodePdu(pdu, BOTH)).toEqual(ICRESP_NVMET);
    expect(decodePdu(ICRESP_NVMET, BOTH)).toEqual(pdu);
  });

  it('rejects a wrong PLEN, a PDO or digest flags', () => {
    const longer = concatBytes(ICRESP_NVMET, [0, 0, 0, 0]);
    longer[4] = 132;
    expect(wireErrorCode(() => decodePdu(longer))).toBe('WIRE_BAD_PLEN');
    const pdo = ICRESP_NVMET.slice();
    pdo[3] = 8;
    expect(wireErrorCode(() => decodePdu(pdo))).toBe('WIRE_BAD_PDO');
    const flags = ICRESP_NVMET.slice();
    flags[1] = 1;
    expect(wireErrorCode(() => decodePdu(flags))).toBe('WIRE_BAD_FLAGS');
  });
});

describe('CapsuleCmd', () => {
  const keepAlive = makeSqe({ opc: 0x18, cid: 10 });

  it('encodes Keep Alive CID 10 exactly as Appendix B, with and without header digest', () => {
    expect(encodePdu(capsuleCmd(keepAlive))).toEqual(KEEP_ALIVE_CID10);
    expect(encodePdu(capsuleCmd(keepAlive), HD)).toEqual(KEEP_ALIVE_CID10_HDGST);
    // A data digest alone changes nothing for a capsule without data.
    expect(encodePdu(capsuleCmd(keepAlive), DD)).toEqual(KEEP_ALIVE_CID10);
  });

  it('decodes Appendix B Keep Alive, verifying the header digest', () => {
    const pdu = decodePdu(KEEP_ALIVE_CID10_HDGST, BOTH);
    expect(pdu.type).toBe(PduType.CapsuleCmd);
    if (pdu.type !== PduType.CapsuleCmd) return;
    expect(pdu.sqe).toEqual(keepAlive);
    expect(pdu.data.length).toBe(0);
  });

  it('puts in-capsule data at PDO 72, or 76 behind a header digest, with the data digest after it', () => {
    const data = Uint8Array.from({ length: 10 }, (_, i) => i + 1);
    const sqe = makeSqe({ opc: 0x21, cid: 3, sgl: sglInCapsule(10) });
    const plain = encodePdu(capsuleCmd(sqe, data));
    expect(Array.from(plain.subarray(0, 8))).toEqual([4, 0, 72, 72, 82, 0, 0, 0]);
    expect(plain.subarray(72)).toEqual(data);

    const both = encodePdu(capsuleCmd(sqe, data), BOTH);
    const header = plain.slice(0, 72);
    header.set([4, 3, 72, 76, 90, 0, 0, 0]);
    const expected = concatBytes(header, le32(crc32cBitwise(header)), data, le32(crc32cBitwise(data)));
    expect(both).toEqual(expected);
    const decoded = decodePdu(expected, BOTH);
    expect(decoded).toEqual({ type: PduType.CapsuleCmd, sqe, data });
  });

  it('pads to the requested data alignment (CPDA)', () => {
    const data = Uint8Array.of(9, 9, 9, 9);
    const sqe = makeSqe({ opc: 0x21, cid: 3, sgl: sglInCapsule(4) });
    const bytes = encodePdu(capsuleCmd(sqe, data), undefined, 3); // (3+1)*4 = 16-byte alignment
    expect(bytes[3]).toBe(80);
    expect(bytes.length).toBe(84);
    expect(Array.from(bytes.subarray(72, 80))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(decodePdu(bytes)).toMatchObject({ data });
    expect(dataOffset(72, true, 31)).toBe(128);
    expect(wireErrorCode(() => dataOffset(72, false, 32))).toBe('WIRE_ENCODE_RANGE');
  });

  it('rejects a header digest mismatch before looking at the SQE', () => {
    const bad = KEEP_ALIVE_CID10_HDGST.slice();
    bad[20] = 1;
    expect(wireErrorCode(() => decodePdu(bad, HD))).toBe('WIRE_HDGST_MISMATCH');
  });

  it('rejects digest flags that disagree with the negotiated digests', () => {
    expect(wireErrorCode(() => decodePdu(KEEP_ALIVE_CID10_HDGST))).toBe('WIRE_BAD_FLAGS');
    expect(wireErrorCode(() => decodePdu(KEEP_ALIVE_CID10, HD))).toBe('WIRE_BAD_FLAGS');
    const ddgstf = KEEP_ALIVE_CID10.slice();
    ddgstf[1] = 2;
    expect(wireErrorCode(() => decodePdu(ddgstf, DD))).toBe('WIRE_BAD_FLAGS');
  });

  it('rejects a PDO without data, data before the header end, and a PDO past PLEN', () => {
    const pdo = KEEP_ALIVE_CID10.slice();
    pdo[3] = 72;
    expect(wireErrorCode(() => decodePdu(pdo))).toBe('WIRE_BAD_PDO');
    const data = concatBytes(KEEP_ALIVE_CID10, [1, 2, 3, 4]);
    data[4] = 76;
    data[3] = 64;
    expect(wireErrorCode(() => decodePdu(data))).toBe('WIRE_BAD_PDO');
    data[3] = 76;
    expect(wireErrorCode(() => decodePdu(data))).toBe('WIRE_BAD_PLEN');
  });

  it('reports a data digest mismatch with the CID of the command', () => {
    const sqe = makeSqe({ opc: 0x21, cid: 0x1234, sgl: sglInCapsule(4) });
    const bytes = encodePdu(capsuleCmd(sqe, Uint8Array.of(1, 2, 3, 4)), DD);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    try {
      decodePdu(bytes, DD);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(WireError);
      expect((err as WireError).code).toBe('WIRE_DDGST_MISMATCH');
      expect((err as WireError).cid).toBe(0x1234);
    }
  });
});

describe('CapsuleResp', () => {
  it('decodes Appendix B completions (SQHD 9 for CID 8, the AER completion)', () => {
    expect(decodePdu(CAPSULE_RESP_CID8)).toEqual({
      type: PduType.CapsuleResp,
      cqe: makeCqe({ cid: 8, sqhd: 9 }),
    });
    expect(decodePdu(AER_COMPLETION)).toEqual({
      type: PduType.CapsuleResp,
      cqe: makeCqe({ cid: 7, sqhd: 12, dw0: 0x0070f002 }),
    });
  });

  it('encodes them back byte for byte', () => {
    expect(encodePdu(capsuleResp(makeCqe({ cid: 8, sqhd: 9 })))).toEqual(CAPSULE_RESP_CID8);
    expect(encodePdu(capsuleResp(makeCqe({ cid: 7, sqhd: 12, dw0: 0x0070f002 })))).toEqual(AER_COMPLETION);
  });

  it('carries a header digest when negotiated and never a data digest', () => {
    const bytes = encodePdu(capsuleResp(makeCqe({ cid: 8, sqhd: 9 })), BOTH);
    const header = CAPSULE_RESP_CID8.slice();
    header[1] = 1;
    header[4] = 28;
    expect(bytes).toEqual(concatBytes(header, le32(crc32cBitwise(header))));
    expect(decodePdu(bytes, BOTH).type).toBe(PduType.CapsuleResp);
  });

  it('rejects a wrong PLEN, a PDO and DDGSTF', () => {
    const longer = concatBytes(CAPSULE_RESP_CID8, [0, 0, 0, 0]);
    longer[4] = 28;
    expect(wireErrorCode(() => decodePdu(longer))).toBe('WIRE_BAD_PLEN');
    const pdo = CAPSULE_RESP_CID8.slice();
    pdo[3] = 24;
    expect(wireErrorCode(() => decodePdu(pdo))).toBe('WIRE_BAD_PDO');
    const dd = CAPSULE_RESP_CID8.slice();
    dd[1] = 2;
    expect(wireErrorCode(() => decodePdu(dd, DD))).toBe('WIRE_BAD_FLAGS');
  });
});

describe('C2HData / H2CData / R2T', () => {
  it('decodes the Appendix B C2HData (CID 8, LAST_PDU, the 20-byte log header)', () => {
    const pdu = decodePdu(C2H_DATA_CID8);
    expect(pdu).toEqual({
      type: PduType.C2HData,
      cccid: 8,
      datao: 0,
      last: true,
      success: false,
      data: C2H_DATA_CID8.subarray(24),
    });
    expect(encodePdu(pdu)).toEqual(C2H_DATA_CID8);
  });

  it('verifies header and data digests of C2HData', () => {
    const data = C2H_DATA_CID8.subarray(24);
    const header = C2H_DATA_CID8.slice(0, 24);
    header.set([7, 7, 24, 28, 52]);
    const wire = concatBytes(header, le32(crc32cBitwise(header)), data, le32(crc32cBitwise(data)));
    const pdu = decodePdu(wire, BOTH);
    expect(pdu).toMatchObject({ type: PduType.C2HData, cccid: 8, last: true, data });
    expect(encodePdu(pdu, BOTH)).toEqual(wire);
    const corrupt = wire.slice();
    corrupt[40] = (corrupt[40] ?? 0) ^ 1;
    expect(wireErrorCode(() => decodePdu(corrupt, BOTH))).toBe('WIRE_DDGST_MISMATCH');
  });

  it('rejects SUCCESS without LAST_PDU, DATAL 0 and a DATAL that disagrees with PLEN', () => {
    const success = C2H_DATA_CID8.slice();
    success[1] = 0x08;
    expect(wireErrorCode(() => decodePdu(success))).toBe('WIRE_BAD_FLAGS');
    success[1] = 0x0c;
    expect(decodePdu(success)).toMatchObject({ success: true, last: true });
    const zero = C2H_DATA_CID8.slice();
    zero[16] = 0;
    expect(wireErrorCode(() => decodePdu(zero))).toBe('WIRE_BAD_DATAL');
    const mismatch = C2H_DATA_CID8.slice();
    mismatch[16] = 0x10;
    expect(wireErrorCode(() => decodePdu(mismatch))).toBe('WIRE_BAD_DATAL');
    const pdo = C2H_DATA_CID8.slice();
    pdo[3] = 20;
    expect(wireErrorCode(() => decodePdu(pdo))).toBe('WIRE_BAD_PDO');
  });

  it('round-trips H2CData (TTAG, DATAO) and R2T against hand-built bytes', () => {
    const h2c = new ByteBuilder(28).raw(0, [6, 4, 24, 24]).u32(4, 28).u16(8, 3).u16(10, 0x77).u32(12, 4096);
    h2c.u32(16, 4).raw(24, [0xaa, 0xbb, 0xcc, 0xdd]);
    const pdu = decodePdu(h2c.bytes);
    expect(pdu).toEqual({
      type: PduType.H2CData,
      cccid: 3,
      ttag: 0x77,
      datao: 4096,
      last: true,
      data: Uint8Array.of(0xaa, 0xbb, 0xcc, 0xdd),
    });
    expect(encodePdu(pdu)).toEqual(h2c.bytes);

    const r2t = new ByteBuilder(24).raw(0, [9, 0, 24, 0]).u32(4, 24).u16(8, 3).u16(10, 0x77).u32(12, 0);
    r2t.u32(16, 8192);
    const r2tPdu = decodePdu(r2t.bytes);
    expect(r2tPdu).toEqual({ type: PduType.R2T, cccid: 3, ttag: 0x77, r2to: 0, r2tl: 8192 });
    expect(encodePdu(r2tPdu)).toEqual(r2t.bytes);
  });

  it('refuses to encode an empty data PDU or SUCCESS without LAST', () => {
    const base = { cccid: 1, datao: 0, data: new Uint8Array(0), last: true, success: false } as const;
    expect(wireErrorCode(() => encodePdu({ type: PduType.C2HData, ...base }))).toBe('WIRE_ENCODE_RANGE');
    expect(
      wireErrorCode(() =>
        encodePdu({ type: PduType.C2HData, ...base, data: Uint8Array.of(1), last: false, success: true }),
      ),
    ).toBe('WIRE_ENCODE_RANGE');
  });
});

describe('TermReq', () => {
  it('round-trips a C2HTermReq carrying the offending header, never digested', () => {
    const copy = KEEP_ALIVE_CID10.subarray(0, 72);
    const wire = new ByteBuilder(96)
      .raw(0, [3, 0, 24, 0])
      .u32(4, 96)
      .u16(8, 1)
      .u32(10, 2)
      .raw(24, copy).bytes;
    const pdu = decodePdu(wire, BOTH);
    expect(pdu).toEqual({ type: PduType.C2HTermReq, fes: 1, fei: 2, offendingHeader: copy });
    expect(encodePdu(pdu, BOTH)).toEqual(wire);
  });

  it('rejects more than 128 copied bytes', () => {
    const wire = new ByteBuilder(153).raw(0, [2, 0, 24, 0]).u32(4, 153).bytes;
    expect(wireErrorCode(() => decodePdu(wire))).toBe('WIRE_BAD_PLEN');
    expect(
      wireErrorCode(() =>
        encodePdu({ type: PduType.H2CTermReq, fes: 1, fei: 0, offendingHeader: new Uint8Array(129) }),
      ),
    ).toBe('WIRE_ENCODE_RANGE');
  });
});

describe('decodePdu framing checks', () => {
  it('rejects fewer than 8 bytes, unknown types, a wrong HLEN and PLEN ≠ frame length', () => {
    expect(wireErrorCode(() => decodePdu(new Uint8Array(7)))).toBe('WIRE_TRUNCATED');
    const type8 = CAPSULE_RESP_CID8.slice();
    type8[0] = 8;
    expect(wireErrorCode(() => decodePdu(type8))).toBe('WIRE_BAD_TYPE');
    const hlen = CAPSULE_RESP_CID8.slice();
    hlen[2] = 25;
    expect(wireErrorCode(() => decodePdu(hlen))).toBe('WIRE_BAD_HLEN');
    expect(wireErrorCode(() => decodePdu(CAPSULE_RESP_CID8.subarray(0, 20)))).toBe('WIRE_BAD_PLEN');
    const shortPlen = CAPSULE_RESP_CID8.slice(0, 16);
    shortPlen[4] = 16;
    expect(wireErrorCode(() => decodePdu(shortPlen))).toBe('WIRE_BAD_PLEN');
  });
});
