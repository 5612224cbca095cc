import { describe, expect, it } from 'vitest';
import { ByteBuilder, concatBytes, wireErrorCode } from '../../testing/wire-bytes.js';
import {
  DLP_HEADER_READ_LENGTH,
  Subtype,
  Trtype,
  adrfamName,
  cmsName,
  decodeDiscoveryLog,
  decodeDiscoveryLogEntries,
  decodeDiscoveryLogEntry,
  decodeDiscoveryLogHeader,
  decodeEflags,
  decodeTreq,
  encodeDiscoveryLog,
  encodeEflags,
  isWildcardAddress,
  prtypeName,
  qptypeName,
  sanitizeEntries,
  sectypeName,
  subtypeName,
  treqName,
  trtypeName,
  type DiscoveryLogEntry,
} from './discovery-log.js';

const DISC_NQN = 'nqn.2014-08.org.nvmexpress.discovery';
const SUB_NQN = 'nqn.1988-11.com.dell:powerstore:00:1234';

interface RawEntry {
  trtype: number;
  adrfam: number;
  subtype: number;
  treq: number;
  portid: number;
  cntlid: number;
  asqsz: number;
  eflags: number;
  trsvcid: string;
  subnqn: string;
  traddr: string;
  tsas?: number[];
}

/** Place one entry by hand at `base` (ASCII written verbatim, padding included in the strings). */
function putEntry(b: ByteBuilder, base: number, e: RawEntry): void {
  b.u8(base, e.trtype)
    .u8(base + 1, e.adrfam)
    .u8(base + 2, e.subtype)
    .u8(base + 3, e.treq);
  b.u16(base + 4, e.portid)
    .u16(base + 6, e.cntlid)
    .u16(base + 8, e.asqsz)
    .u16(base + 10, e.eflags);
  b.ascii(base + 32, e.trsvcid)
    .ascii(base + 256, e.subnqn)
    .ascii(base + 512, e.traddr);
  if (e.tsas) b.raw(base + 768, e.tsas);
}

function page(genctr: bigint, numrec: bigint, entries: RawEntry[], recfmt = 0): Uint8Array {
  const b = new ByteBuilder(1024 + 1024 * entries.length).u64(0, genctr).u64(8, numrec).u16(16, recfmt);
  entries.forEach((e, i) => {
    putEntry(b, 1024 + 1024 * i, e);
  });
  return b.bytes;
}

const CURRENT_DC: RawEntry = {
  trtype: 3,
  adrfam: 1,
  subtype: 3,
  treq: 2,
  portid: 1,
  cntlid: 0xffff,
  asqsz: 32,
  eflags: 3,
  trsvcid: '8009',
  subnqn: DISC_NQN,
  traddr: '192.168.1.10',
  tsas: [0],
};

const SUBSYSTEM: RawEntry = {
  trtype: 3,
  adrfam: 2,
  subtype: 2,
  treq: 4,
  portid: 2,
  cntlid: 0xffff,
  asqsz: 32,
  eflags: 4,
  trsvcid: '4420    ', // space padded, as some targets do
  subnqn: SUB_NQN,
  traddr: 'fd00::1   \0\0  junk', // blanks, then NUL: C string ends at the NUL
  tsas: [2],
};

const RDMA_REFERRAL: RawEntry = {
  trtype: 1,
  adrfam: 1,
  subtype: 1,
  treq: 0,
  portid: 3,
  cntlid: 0xffff,
  asqsz: 32,
  eflags: 0,
  trsvcid: '4420',
  subnqn: DISC_NQN,
  traddr: '10.0.0.7',
  tsas: [1, 4, 1, 0, 0, 0, 0, 0, 0xff, 0xff],
};

const DECODED_CURRENT_DC: DiscoveryLogEntry = {
  trtype: 3,
  adrfam: 1,
  subtype: 3,
  treq: 2,
  portid: 1,
  cntlid: 0xffff,
  asqsz: 32,
  eflags: 3,
  trsvcid: '8009',
  subnqn: DISC_NQN,
  traddr: '192.168.1.10',
  tsas: { kind: 'tcp', sectype: 0 },
};

describe('decodeDiscoveryLog', () => {
  it('decodes an empty log (NUMREC 0), also from the 20-byte header read', () => {
    const empty = page(7n, 0n, []);
    expect(decodeDiscoveryLog(empty)).toEqual({
      header: { genctr: 7n, numrec: 0n, recfmt: 0, dlpf: 0 },
      entries: [],
    });
    expect(decodeDiscoveryLog(empty.subarray(0, DLP_HEADER_READ_LENGTH)).entries).toEqual([]);
  });

  it('decodes a log with one entry', () => {
    const log = decodeDiscoveryLog(page(1n, 1n, [CURRENT_DC]));
    expect(log.header).toEqual({ genctr: 1n, numrec: 1n, recfmt: 0, dlpf: 0 });
    expect(log.entries).toEqual([DECODED_CURRENT_DC]);
  });

  it('decodes three entries with trimmed text fields and per-transport TSAS', () => {
    const log = decodeDiscoveryLog(page(0x1_0000_0005n, 3n, [CURRENT_DC, SUBSYSTEM, RDMA_REFERRAL], 1));
    expect(log.header.genctr).toBe(0x1_0000_0005n);
    expect(log.header.recfmt).toBe(1);
    expect(log.entries).toHaveLength(3);
    expect(log.entries[1]).toEqual({
      trtype: 3,
      adrfam: 2,
      subtype: 2,
      treq: 4,
      portid: 2,
      cntlid: 0xffff,
      asqsz: 32,
      eflags: 4,
      trsvcid: '4420',
      subnqn: SUB_NQN,
      traddr: 'fd00::1',
      tsas: { kind: 'tcp', sectype: 2 },
    });
    expect(log.entries[2]?.tsas).toEqual({ kind: 'rdma', qptype: 1, prtype: 4, cms: 1, pkey: 0xffff });
  });

  it('rewrites FC addresses with "," to ":" and has no TSAS for FC', () => {
    const fc: RawEntry = {
      ...SUBSYSTEM,
      trtype: 2,
      adrfam: 4,
      trsvcid: '',
      traddr: 'nn-0x20000090fa000001,pn-0x10000090fa000001',
    };
    const [entry] = decodeDiscoveryLog(page(1n, 1n, [fc])).entries;
    expect(entry?.traddr).toBe('nn-0x20000090fa000001:pn-0x10000090fa000001');
    expect(entry?.tsas).toEqual({ kind: 'none' });
  });

  it('refuses a NUMREC that does not fit the bytes supplied, without allocating for it', () => {
    expect(
      wireErrorCode(() => decodeDiscoveryLog(page(1n, 4n, [CURRENT_DC, SUBSYSTEM, RDMA_REFERRAL]))),
    ).toBe('WIRE_DLP_NUMREC_OVERFLOW');
    expect(wireErrorCode(() => decodeDiscoveryLog(page(1n, 0xffff_ffff_ffff_ffffn, [CURRENT_DC])))).toBe(
      'WIRE_DLP_NUMREC_OVERFLOW',
    );
    expect(wireErrorCode(() => decodeDiscoveryLog(page(1n, 1n, []).subarray(0, 20)))).toBe(
      'WIRE_DLP_NUMREC_OVERFLOW',
    );
    // A truncated last entry is an overflow too: 1023 bytes are not an entry.
    expect(wireErrorCode(() => decodeDiscoveryLog(page(1n, 1n, [CURRENT_DC]).subarray(0, 2047)))).toBe(
      'WIRE_DLP_NUMREC_OVERFLOW',
    );
  });

  it('ignores bytes after the last entry', () => {
    const bytes = concatBytes(page(1n, 1n, [CURRENT_DC]), new Uint8Array(1024).fill(0x41));
    expect(decodeDiscoveryLog(bytes).entries).toEqual([DECODED_CURRENT_DC]);
  });

  it('needs at least the 18-byte header', () => {
    expect(wireErrorCode(() => decodeDiscoveryLog(new Uint8Array(17)))).toBe('WIRE_TRUNCATED');
    expect(decodeDiscoveryLogHeader(page(9n, 2n, []).subarray(0, 18))).toEqual({
      genctr: 9n,
      numrec: 2n,
      recfmt: 0,
      dlpf: 0,
    });
  });
});

describe('decodeDiscoveryLogEntries (the chunked entries read)', () => {
  const entries = page(1n, 3n, [CURRENT_DC, SUBSYSTEM, RDMA_REFERRAL]).subarray(1024);

  it('decodes the requested number of entries', () => {
    expect(decodeDiscoveryLogEntries(entries, 3n)).toHaveLength(3);
    expect(decodeDiscoveryLogEntries(entries, 1)).toEqual([DECODED_CURRENT_DC]);
    expect(decodeDiscoveryLogEntry(entries, 0)).toEqual(DECODED_CURRENT_DC);
  });

  it('refuses more entries than bytes', () => {
    expect(wireErrorCode(() => decodeDiscoveryLogEntries(entries, 4))).toBe('WIRE_DLP_NUMREC_OVERFLOW');
    expect(wireErrorCode(() => decodeDiscoveryLogEntries(entries, -1))).toBe('WIRE_DLP_NUMREC_OVERFLOW');
  });
});

describe('encodeDiscoveryLog', () => {
  it('produces the hand-built page for the decoded entries', () => {
    const decoded = decodeDiscoveryLog(page(5n, 2n, [CURRENT_DC, RDMA_REFERRAL]));
    const encoded = encodeDiscoveryLog({ genctr: 5n, entries: decoded.entries });
    expect(encoded).toEqual(page(5n, 2n, [CURRENT_DC, RDMA_REFERRAL]));
  });

  it('round-trips entries of every TSAS kind', () => {
    const entries = decodeDiscoveryLog(page(1n, 3n, [CURRENT_DC, SUBSYSTEM, RDMA_REFERRAL])).entries;
    expect(decodeDiscoveryLog(encodeDiscoveryLog({ genctr: 1n, entries })).entries).toEqual(entries);
  });

  it('can write an inconsistent NUMREC for negative tests', () => {
    const bytes = encodeDiscoveryLog({ genctr: 1n, numrec: 9n, entries: [DECODED_CURRENT_DC] });
    expect(wireErrorCode(() => decodeDiscoveryLog(bytes))).toBe('WIRE_DLP_NUMREC_OVERFLOW');
  });

  it('refuses a TRADDR that leaves no NUL terminator', () => {
    expect(
      wireErrorCode(() =>
        encodeDiscoveryLog({ genctr: 1n, entries: [{ ...DECODED_CURRENT_DC, traddr: 'a'.repeat(256) }] }),
      ),
    ).toBe('WIRE_ENCODE_RANGE');
  });
});

describe('names (nvme-stas DLPE dict strings)', () => {
  it('names transports, address families, subtypes and TREQ', () => {
    expect([0, 1, 2, 3, 254, 9].map(trtypeName)).toEqual(['unspecified', 'rdma', 'fc', 'tcp', 'loop', '9']);
    expect([0, 1, 2, 3, 4, 254].map(adrfamName)).toEqual(['pci', 'ipv4', 'ipv6', 'infiniband', 'fc', '254']);
    expect([1, 2, 3, 0].map(subtypeName)).toEqual(['referral', 'nvme', 'discovery', '0']);
    expect([0, 1, 2, 4, 5].map(treqName)).toEqual([
      'not specified',
      'required',
      'not required',
      'disable sqflow',
      '5',
    ]);
  });

  it('names TSAS values', () => {
    expect([0, 1, 2, 3].map(sectypeName)).toEqual(['none', 'tls', 'tls1.3', 'reserved']);
    expect([1, 2, 0].map(qptypeName)).toEqual(['connected', 'datagram', 'reserved']);
    expect([1, 2, 3, 4, 5, 0, 6].map(prtypeName)).toEqual([
      'not specified',
      'infiniband',
      'roce',
      'rocev2',
      'iwarp',
      'reserved',
      'reserved',
    ]);
    expect([1, 2].map(cmsName)).toEqual(['cm', 'reserved']);
  });

  it('decodes EFLAGS and TREQ bits', () => {
    expect(decodeEflags(3)).toEqual({ dupretinfo: true, epcsd: true, ncc: false });
    expect(decodeEflags(4)).toEqual({ dupretinfo: false, epcsd: false, ncc: true });
    expect(encodeEflags({ dupretinfo: true, epcsd: false, ncc: true })).toBe(5);
    expect(decodeTreq(5)).toEqual({ secureChannel: 'required', disableSqflow: true });
    expect(decodeTreq(2)).toEqual({ secureChannel: 'not-required', disableSqflow: false });
    expect(decodeTreq(3).secureChannel).toBe('reserved');
    expect(decodeTreq(0).secureChannel).toBe('not-specified');
  });
});

describe('sanitizeEntries', () => {
  const entry = (over: Partial<DiscoveryLogEntry>): DiscoveryLogEntry => ({ ...DECODED_CURRENT_DC, ...over });

  it('drops empty and wildcard addresses with a reason, keeping order', () => {
    const a = entry({ traddr: '10.0.0.1', subtype: Subtype.Nvme });
    const empty = entry({ traddr: '' });
    const any4 = entry({ traddr: '0.0.0.0' });
    const any6 = entry({ traddr: '::' });
    const b = entry({ traddr: '10.0.0.2', subtype: Subtype.Nvme });
    expect(sanitizeEntries([a, empty, any4, any6, b])).toEqual({
      kept: [a, b],
      dropped: [
        { entry: empty, reason: 'empty-address' },
        { entry: any4, reason: 'wildcard-address' },
        { entry: any6, reason: 'wildcard-address' },
      ],
    });
  });

  it('drops discovery entries of another transport only when the session transport is given', () => {
    const rdmaReferral = entry({ trtype: Trtype.Rdma, subtype: Subtype.Referral, traddr: '10.0.0.3' });
    const rdmaSubsystem = entry({ trtype: Trtype.Rdma, subtype: Subtype.Nvme, traddr: '10.0.0.4' });
    const tcpReferral = entry({ subtype: Subtype.Referral, traddr: '10.0.0.5' });
    const all = [rdmaReferral, rdmaSubsystem, tcpReferral];
    expect(sanitizeEntries(all).kept).toEqual(all);
    expect(sanitizeEntries(all, { sessionTransport: Trtype.Tcp })).toEqual({
      kept: [rdmaSubsystem, tcpReferral],
      dropped: [{ entry: rdmaReferral, reason: 'transport-mismatch' }],
    });
  });

  it('recognises wildcard spellings', () => {
    expect(['0.0.0.0', ' :: ', '0:0:0:0:0:0:0:0', '::0', '000.0.0.00'].every(isWildcardAddress)).toBe(true);
    expect(['10.0.0.0', '::1', 'fe80::', 'nn-0x0:pn-0x0', ''].some(isWildcardAddress)).toBe(false);
  });
});
