/**
 * TP8010 Discovery Information Management (admin opcode 0x21): the command, its data (a 1024-byte DIM
 * header followed by Discovery Information Entries, basic or extended with HOSTID/SYMNAME attributes),
 * and the host registration libnvme sends.
 *
 * Pure. Host side: `hostRegistrationData()` + `encodeDimData()` + `dimCommand()`. Simulator (CDC) side:
 * `decodeDimCommand()` + `decodeDimData()` and the attribute readers `dieHostId()`/`dieSymName()`.
 * NUMENT (64-bit on the wire) is a checked number.
 *
 * Contract: decodeDimData() returns every entry or throws WireError: WIRE_TRUNCATED,
 * WIRE_DIM_BAD_TDL (TDL < 1024 or beyond the bytes supplied), WIRE_DIM_BAD_ENTFMT (not 1 or 2),
 * WIRE_DIM_NUMENT_OVERFLOW (NUMENT entries cannot fit TDL), WIRE_DIM_BAD_TEL (an extended entry's TEL
 * below 1032 or past TDL), WIRE_DIM_BAD_EXAT (an attribute past its entry). Loops are bounded by the
 * bytes, never by NUMENT/NUMEXAT. Encoders throw WIRE_ENCODE_RANGE.
 *
 * Used by: nvme/session/discovery-session.ts, testing/dc-sim.ts
 * Tests:   dim.test.ts (Appendix B command, hand-placed header/DIE/attribute bytes)
 */
import { WireError } from '../../errors.js';
import { AdminOpcode } from './admin-cmd.js';
import { Trtype, readTsas, writeTsas, type Tsas } from './discovery-log.js';
import { LeReader } from './le-reader.js';
import { LeWriter } from './le-writer.js';
import { makeSqe, sglInCapsule, type Sqe } from './sqe.js';

/** Task (CDW10 3:0). */
export const DimTask = { Register: 0, Deregister: 1, Update: 2 } as const;
/** ETYPE. */
export const DimEntityType = { Host: 1, Ddc: 2, Cdc: 3 } as const;
/** ENTFMT. */
export const DimEntryFormat = { Basic: 1, Extended: 2 } as const;
/** EXATTYPE values used by libnvme. */
export const ExtAttrType = { HostId: 1, SymName: 2 } as const;

export const DIM_HEADER_SIZE = 1024;
/** Size of a basic DIE, and of the base part of an extended one. */
export const DIE_BASE_SIZE = 1024;
/** Base + TEL (4) + NUMEXAT (2) + reserved (2). */
export const DIE_EXTENDED_HEADER_SIZE = 1032;
/** EKTYPE libnvme sends ("must be 0x5F per specs"). */
export const EKTYPE_DEFAULT = 0x5f;

// ---------------------------------------------------------------------------------------------------
// Command

export interface DimCommand {
  readonly cid: number;
  /** Task: 0 register, 1 deregister, 2 registration update. */
  readonly tas: number;
  /** Total data length = SGL length (in-capsule). */
  readonly tdl: number;
}

export function dimCommand(cmd: DimCommand): Sqe {
  if (!Number.isInteger(cmd.tas) || cmd.tas < 0 || cmd.tas > 0xf) {
    throw new WireError('WIRE_ENCODE_RANGE', `DIM TAS ${cmd.tas} does not fit 4 bits`);
  }
  return makeSqe({
    opc: AdminOpcode.DiscoveryInformationManagement,
    cid: cmd.cid,
    sgl: sglInCapsule(cmd.tdl),
    cdw10: cmd.tas,
  });
}

export function decodeDimCommand(sqe: Sqe): DimCommand {
  if (sqe.opc !== AdminOpcode.DiscoveryInformationManagement) {
    throw new WireError('WIRE_BAD_OPCODE', `not a DIM command (opcode 0x${sqe.opc.toString(16)})`);
  }
  return { cid: sqe.cid, tas: sqe.cdw10 & 0xf, tdl: sqe.sgl.length };
}

// ---------------------------------------------------------------------------------------------------
// Data model

export interface ExtendedAttribute {
  /** EXATTYPE. */
  readonly type: number;
  /** The value as carried (EXATLEN bytes, padding included). */
  readonly value: Uint8Array;
}

/** One Discovery Information Entry (basic entries have no attributes). */
export interface DiscoveryInformationEntry {
  readonly trtype: number;
  readonly adrfam: number;
  readonly subtype: number;
  readonly treq: number;
  readonly portid: number;
  readonly cntlid: number;
  readonly asqsz: number;
  readonly trsvcid: string;
  readonly nqn: string;
  /** Empty: the DC takes the host address from the connection. */
  readonly traddr: string;
  readonly tsas: Tsas;
  readonly attributes: readonly ExtendedAttribute[];
}

export interface DimData {
  /** 1 basic, 2 extended. */
  readonly entfmt: number;
  /** 1 host, 2 DDC, 3 CDC. */
  readonly etype: number;
  readonly portlcl: number;
  readonly ektype: number;
  /** Entity identifier (the host NQN). */
  readonly eid: string;
  /** Entity name (host name). */
  readonly ename: string;
  /** Entity version (OS and version). */
  readonly ever: string;
  readonly entries: readonly DiscoveryInformationEntry[];
}

// ---------------------------------------------------------------------------------------------------
// Attributes

/** HOSTID attribute: the 16-byte host identifier. */
export function hostIdAttribute(hostid: Uint8Array): ExtendedAttribute {
  if (hostid.length !== 16) {
    throw new WireError('WIRE_ENCODE_RANGE', `HOSTID attribute: ${hostid.length} bytes, expected 16`);
  }
  return { type: ExtAttrType.HostId, value: hostid.slice() };
}

/** SYMNAME attribute: ASCII padded with spaces to a multiple of 4 bytes. */
export function symNameAttribute(symname: string): ExtendedAttribute {
  const text = new TextEncoder().encode(symname);
  const value = new Uint8Array(Math.ceil(text.length / 4) * 4).fill(0x20);
  value.set(text);
  return { type: ExtAttrType.SymName, value };
}

function findAttribute(entry: DiscoveryInformationEntry, type: number): ExtendedAttribute | undefined {
  return entry.attributes.find((a) => a.type === type);
}

/** The HOSTID attribute's 16 bytes, if present and long enough. */
export function dieHostId(entry: DiscoveryInformationEntry): Uint8Array | undefined {
  const a = findAttribute(entry, ExtAttrType.HostId);
  return a && a.value.length >= 16 ? a.value.slice(0, 16) : undefined;
}

/** The SYMNAME attribute with padding (trailing blanks/NULs) removed, if present. */
export function dieSymName(entry: DiscoveryInformationEntry): string | undefined {
  const a = findAttribute(entry, ExtAttrType.SymName);
  return a ? new LeReader(a.value).textAt(0, a.value.length) : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Host registration (libnvme nvmf_register_ctrl values)

export interface HostRegistration {
  readonly hostnqn: string;
  /** 16-byte host identifier. */
  readonly hostid: Uint8Array;
  /** Entity name: the host name (cut to 255 bytes). */
  readonly hostname: string;
  /** Entity version: OS and version (cut to 63 bytes). */
  readonly version: string;
  readonly symname?: string;
  /** ADRFAM of the DC's address (1 IPv4, 2 IPv6). */
  readonly adrfam: number;
}

/** Cut a string to at most maxBytes of UTF-8 without splitting a character. */
function fitText(text: string, maxBytes: number): string {
  let out = text;
  const enc = new TextEncoder();
  while (enc.encode(out).length > maxBytes) out = out.slice(0, -1);
  return out;
}

/** The DIM data a host registers with: one extended entry, TCP, empty TRADDR, HOSTID [+ SYMNAME]. */
export function hostRegistrationData(reg: HostRegistration): DimData {
  const attributes = [hostIdAttribute(reg.hostid)];
  if (reg.symname !== undefined && reg.symname !== '') attributes.push(symNameAttribute(reg.symname));
  return {
    entfmt: DimEntryFormat.Extended,
    etype: DimEntityType.Host,
    portlcl: 0,
    ektype: EKTYPE_DEFAULT,
    eid: reg.hostnqn,
    ename: fitText(reg.hostname, 255),
    ever: fitText(reg.version, 63),
    entries: [
      {
        trtype: Trtype.Tcp,
        adrfam: reg.adrfam,
        subtype: 0,
        treq: 0,
        portid: 0,
        cntlid: 0,
        asqsz: 0,
        trsvcid: '',
        nqn: reg.hostnqn,
        traddr: '',
        tsas: { kind: 'tcp', sectype: 0 },
        attributes,
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------------
// Encode / decode

function entryLength(entfmt: number, e: DiscoveryInformationEntry): number {
  if (entfmt === DimEntryFormat.Basic) return DIE_BASE_SIZE;
  return e.attributes.reduce((n, a) => n + 4 + a.value.length, DIE_EXTENDED_HEADER_SIZE);
}

/** Encode DIM data; TDL, NUMENT, TEL, NUMEXAT and EXATLEN are computed. */
export function encodeDimData(data: DimData): Uint8Array {
  if (data.entfmt !== DimEntryFormat.Basic && data.entfmt !== DimEntryFormat.Extended) {
    throw new WireError('WIRE_ENCODE_RANGE', `DIM ENTFMT ${data.entfmt} is not 1 or 2`);
  }
  const lengths = data.entries.map((e) => entryLength(data.entfmt, e));
  const tdl = lengths.reduce((n, l) => n + l, DIM_HEADER_SIZE);
  const w = new LeWriter(tdl, 'DIM data');
  w.u32At(0, tdl, 'TDL')
    .u64At(8, data.entries.length, 'NUMENT')
    .u16At(16, data.entfmt, 'ENTFMT')
    .u16At(18, data.etype, 'ETYPE')
    .u8At(20, data.portlcl, 'PORTLCL')
    .u16At(22, data.ektype, 'EKTYPE')
    .textAt(24, 256, data.eid, 'nul', 'EID')
    .textAt(280, 256, data.ename, 'nul', 'ENAME')
    .textAt(536, 64, data.ever, 'nul', 'EVER');
  let base = DIM_HEADER_SIZE;
  data.entries.forEach((e, i) => {
    const tel = lengths[i] as number;
    w.u8At(base + 0, e.trtype, 'TRTYPE')
      .u8At(base + 1, e.adrfam, 'ADRFAM')
      .u8At(base + 2, e.subtype, 'SUBTYPE')
      .u8At(base + 3, e.treq, 'TREQ')
      .u16At(base + 4, e.portid, 'PORTID')
      .u16At(base + 6, e.cntlid, 'CNTLID')
      .u16At(base + 8, e.asqsz, 'ASQSZ')
      .textAt(base + 32, 32, e.trsvcid, 'nul', 'TRSVCID')
      .textAt(base + 256, 256, e.nqn, 'nul', 'NQN')
      .textAt(base + 512, 256, e.traddr, 'nul', 'TRADDR');
    writeTsas(w, base + 768, e.tsas);
    if (data.entfmt === DimEntryFormat.Basic) {
      if (e.attributes.length > 0) {
        throw new WireError('WIRE_ENCODE_RANGE', 'DIM: basic entries (ENTFMT 1) cannot carry attributes');
      }
    } else {
      w.u32At(base + 1024, tel, 'TEL').u16At(base + 1028, e.attributes.length, 'NUMEXAT');
      let off = base + DIE_EXTENDED_HEADER_SIZE;
      for (const a of e.attributes) {
        w.u16At(off, a.type, 'EXATTYPE')
          .u16At(off + 2, a.value.length, 'EXATLEN')
          .bytesAt(off + 4, a.value);
        off += 4 + a.value.length;
      }
    }
    base += tel;
  });
  return w.bytes;
}

function dimError(code: `WIRE_DIM_${string}`, message: string, offset: number): never {
  throw new WireError(code, `DIM data: ${message}`, { offset });
}

export function decodeDimData(bytes: Uint8Array): DimData {
  const r = new LeReader(bytes, 'DIM data');
  r.bytesAt(0, DIM_HEADER_SIZE);
  const tdl = r.u32At(0);
  if (tdl < DIM_HEADER_SIZE || tdl > bytes.length) {
    dimError('WIRE_DIM_BAD_TDL', `TDL ${tdl} outside ${DIM_HEADER_SIZE}..${bytes.length}`, 0);
  }
  const entfmt = r.u16At(16);
  if (entfmt !== DimEntryFormat.Basic && entfmt !== DimEntryFormat.Extended) {
    dimError('WIRE_DIM_BAD_ENTFMT', `ENTFMT ${entfmt} is not 1 or 2`, 16);
  }
  const minEntry = entfmt === DimEntryFormat.Basic ? DIE_BASE_SIZE : DIE_EXTENDED_HEADER_SIZE;
  const nument = r.u64At(8);
  if (nument > BigInt(Math.floor((tdl - DIM_HEADER_SIZE) / minEntry))) {
    dimError('WIRE_DIM_NUMENT_OVERFLOW', `NUMENT ${nument} entries cannot fit TDL ${tdl}`, 8);
  }
  const count = Number(nument);
  const entries: DiscoveryInformationEntry[] = [];
  let base = DIM_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    let end = base + DIE_BASE_SIZE;
    const attributes: ExtendedAttribute[] = [];
    if (entfmt === DimEntryFormat.Extended) {
      if (base + DIE_EXTENDED_HEADER_SIZE > tdl) dimError('WIRE_DIM_BAD_TEL', `entry ${i} passes TDL`, base);
      const tel = r.u32At(base + 1024);
      if (tel < DIE_EXTENDED_HEADER_SIZE || base + tel > tdl) {
        dimError(
          'WIRE_DIM_BAD_TEL',
          `entry ${i} TEL ${tel} outside ${DIE_EXTENDED_HEADER_SIZE}..${tdl - base}`,
          base + 1024,
        );
      }
      end = base + tel;
      const numexat = r.u16At(base + 1028);
      let off = base + DIE_EXTENDED_HEADER_SIZE;
      for (let k = 0; k < numexat; k++) {
        if (off + 4 > end) dimError('WIRE_DIM_BAD_EXAT', `entry ${i} attribute ${k} passes TEL`, off);
        const len = r.u16At(off + 2);
        if (off + 4 + len > end)
          dimError('WIRE_DIM_BAD_EXAT', `entry ${i} attribute ${k} length ${len} passes TEL`, off + 2);
        attributes.push({ type: r.u16At(off), value: r.copyAt(off + 4, len) });
        off += 4 + len;
      }
    }
    const trtype = r.u8At(base);
    entries.push({
      trtype,
      adrfam: r.u8At(base + 1),
      subtype: r.u8At(base + 2),
      treq: r.u8At(base + 3),
      portid: r.u16At(base + 4),
      cntlid: r.u16At(base + 6),
      asqsz: r.u16At(base + 8),
      trsvcid: r.textAt(base + 32, 32),
      nqn: r.textAt(base + 256, 256),
      traddr: r.textAt(base + 512, 256),
      tsas: readTsas(r, base + 768, trtype),
      attributes,
    });
    base = end;
  }
  return {
    entfmt,
    etype: r.u16At(18),
    portlcl: r.u8At(20),
    ektype: r.u16At(22),
    eid: r.textAt(24, 256),
    ename: r.textAt(280, 256),
    ever: r.textAt(536, 64),
    entries,
  };
}
