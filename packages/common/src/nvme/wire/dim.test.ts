import { describe, expect, it } from 'vitest';
import { ByteBuilder, hexBytes, wireErrorCode } from '../../testing/wire-bytes.js';
import {
  DimEntityType,
  DimTask,
  decodeDimCommand,
  decodeDimData,
  dieHostId,
  dieSymName,
  dimCommand,
  encodeDimData,
  hostRegistrationData,
  symNameAttribute,
  type DimData,
} from './dim.js';
import { PduType, capsuleCmd, decodePdu, encodePdu } from './pdu.js';
import { makeSqe } from './sqe.js';

const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:0f8fad5b-d9cb-469f-a165-70867728950e';
const HOSTID = hexBytes('0f 8f ad 5b d9 cb 46 9f a1 65 70 86 77 28 95 0e');

const DIM_REGISTER_HEADER = hexBytes(`
0000: 04 00 48 48 64 08 00 00 21 40 0b 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 1c 08 00 00 00 00 00 01
0030: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00`);

/** The registration libnvme sends, placed by hand: header, one extended DIE, HOSTID [+ SYMNAME]. */
function handBuiltRegistration(symname?: string): Uint8Array {
  const padded = symname === undefined ? 0 : Math.ceil(symname.length / 4) * 4;
  const tel = 1032 + 20 + (symname === undefined ? 0 : 4 + padded);
  const b = new ByteBuilder(1024 + tel)
    .u32(0, 1024 + tel) // TDL
    .u64(8, 1n) // NUMENT
    .u16(16, 2) // ENTFMT extended
    .u16(18, 1) // ETYPE host
    .u16(22, 0x5f) // EKTYPE
    .ascii(24, HOSTNQN) // EID
    .ascii(280, 'host1.example.com') // ENAME
    .ascii(536, 'Linux 6.8.0') // EVER
    .u8(1024, 3) // TRTYPE tcp
    .u8(1025, 1) // ADRFAM ipv4
    .ascii(1024 + 256, HOSTNQN) // NQN
    .u32(2048, tel) // TEL
    .u16(2052, symname === undefined ? 1 : 2) // NUMEXAT
    .u16(2056, 1) // EXATTYPE HOSTID
    .u16(2058, 16) // EXATLEN
    .raw(2060, HOSTID);
  if (symname !== undefined) {
    b.u16(2076, 2).u16(2078, padded).fill(2080, padded, 0x20).ascii(2080, symname);
  }
  return b.bytes;
}

const registration = (symname?: string): DimData =>
  hostRegistrationData({
    hostnqn: HOSTNQN,
    hostid: HOSTID,
    hostname: 'host1.example.com',
    version: 'Linux 6.8.0',
    adrfam: 1,
    ...(symname === undefined ? {} : { symname }),
  });

describe('DIM command', () => {
  it('encodes the Appendix B registration (TAS 0, TDL 2076 in-capsule, CID 11)', () => {
    const data = encodeDimData(registration());
    expect(data.length).toBe(2076);
    const pdu = encodePdu(capsuleCmd(dimCommand({ cid: 11, tas: DimTask.Register, tdl: data.length }), data));
    expect(pdu.subarray(0, 72)).toEqual(DIM_REGISTER_HEADER);
    expect(pdu.subarray(72)).toEqual(data);
  });

  it('decodes the command for the simulator', () => {
    const pdu = decodePdu(new Uint8Array([...DIM_REGISTER_HEADER, ...handBuiltRegistration()]));
    if (pdu.type !== PduType.CapsuleCmd) throw new Error('not a CapsuleCmd');
    expect(decodeDimCommand(pdu.sqe)).toEqual({ cid: 11, tas: 0, tdl: 2076 });
    expect(decodeDimData(pdu.data).eid).toBe(HOSTNQN);
  });

  it('refuses a TAS above 4 bits and other opcodes', () => {
    expect(wireErrorCode(() => dimCommand({ cid: 1, tas: 16, tdl: 1024 }))).toBe('WIRE_ENCODE_RANGE');
    expect(wireErrorCode(() => decodeDimCommand(makeSqe({ opc: 0x06, cid: 1 })))).toBe('WIRE_BAD_OPCODE');
  });
});

describe('DIM data', () => {
  it('lays out header, extended DIE and HOSTID exactly as libnvme (TEL 1052, TDL 2076)', () => {
    expect(encodeDimData(registration())).toEqual(handBuiltRegistration());
  });

  it('pads SYMNAME with spaces to a multiple of 4 bytes', () => {
    const bytes = encodeDimData(registration('rack-7'));
    expect(bytes).toEqual(handBuiltRegistration('rack-7'));
    expect(bytes.length).toBe(1024 + 1032 + 20 + 4 + 8);
    expect(symNameAttribute('abcd').value.length).toBe(4);
  });

  it('decodes hand-built data, with HOSTID and SYMNAME readers', () => {
    const data = decodeDimData(handBuiltRegistration('rack-7'));
    expect(data).toMatchObject({
      entfmt: 2,
      etype: DimEntityType.Host,
      portlcl: 0,
      ektype: 0x5f,
      eid: HOSTNQN,
      ename: 'host1.example.com',
      ever: 'Linux 6.8.0',
    });
    expect(data.entries).toHaveLength(1);
    const [entry] = data.entries;
    if (!entry) throw new Error('no entry');
    expect(entry).toMatchObject({ trtype: 3, adrfam: 1, subtype: 0, nqn: HOSTNQN, traddr: '', trsvcid: '' });
    expect(entry.tsas).toEqual({ kind: 'tcp', sectype: 0 });
    expect(dieHostId(entry)).toEqual(HOSTID);
    expect(dieSymName(entry)).toBe('rack-7');
    expect(dieSymName(decodeDimData(handBuiltRegistration()).entries[0] ?? entry)).toBeUndefined();
  });

  it('round-trips basic (ENTFMT 1) entries without attributes', () => {
    const [entry] = registration().entries;
    if (!entry) throw new Error('no entry');
    const basic: DimData = { ...registration(), entfmt: 1, entries: [{ ...entry, attributes: [] }] };
    const bytes = encodeDimData(basic);
    expect(bytes.length).toBe(2048);
    expect(decodeDimData(bytes)).toEqual(basic);
    expect(wireErrorCode(() => encodeDimData({ ...basic, entries: registration().entries }))).toBe(
      'WIRE_ENCODE_RANGE',
    );
  });

  it('refuses lengths and counts that do not fit', () => {
    const good = handBuiltRegistration('rack-7');
    const at = (off: number, value: number, width: 2 | 4): Uint8Array => {
      const b = new ByteBuilder(good.length).raw(0, good);
      return (width === 2 ? b.u16(off, value) : b.u32(off, value)).bytes;
    };
    expect(wireErrorCode(() => decodeDimData(at(0, 5000, 4)))).toBe('WIRE_DIM_BAD_TDL');
    expect(wireErrorCode(() => decodeDimData(at(0, 1000, 4)))).toBe('WIRE_DIM_BAD_TDL');
    expect(wireErrorCode(() => decodeDimData(at(16, 3, 2)))).toBe('WIRE_DIM_BAD_ENTFMT');
    expect(wireErrorCode(() => decodeDimData(at(8, 2, 4)))).toBe('WIRE_DIM_NUMENT_OVERFLOW');
    expect(wireErrorCode(() => decodeDimData(at(2048, 1000, 4)))).toBe('WIRE_DIM_BAD_TEL');
    expect(wireErrorCode(() => decodeDimData(at(2048, 9999, 4)))).toBe('WIRE_DIM_BAD_TEL');
    expect(wireErrorCode(() => decodeDimData(at(2052, 3, 2)))).toBe('WIRE_DIM_BAD_EXAT');
    expect(wireErrorCode(() => decodeDimData(at(2078, 400, 2)))).toBe('WIRE_DIM_BAD_EXAT');
    expect(wireErrorCode(() => decodeDimData(good.subarray(0, 1000)))).toBe('WIRE_TRUNCATED');
  });

  it('cuts an over-long host name and version to their fields', () => {
    const data = hostRegistrationData({
      hostnqn: HOSTNQN,
      hostid: HOSTID,
      hostname: 'h'.repeat(300),
      version: 'v'.repeat(100),
      adrfam: 2,
    });
    expect([data.ename.length, data.ever.length]).toEqual([255, 63]);
    expect(decodeDimData(encodeDimData(data)).entries[0]?.adrfam).toBe(2);
    const badHostId = { hostnqn: HOSTNQN, hostid: new Uint8Array(4), hostname: '', version: '', adrfam: 1 };
    expect(wireErrorCode(() => hostRegistrationData(badHostId))).toBe('WIRE_ENCODE_RANGE');
  });
});
