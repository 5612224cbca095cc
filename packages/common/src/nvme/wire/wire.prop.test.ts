// Fixed-seed fuzzing of the wire decoders and the framer: valid encodings of every PDU type (with and
// without digests) and of discovery log pages, DIM data and Identify data are mutated (bit flips, byte
// sets, truncations, extensions, length-field tampering, re-digesting so deeper checks are reached) and
// fed to the decoders. Properties: nothing but WireError is ever thrown, every call returns (no hang),
// and the heap stays bounded.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireError } from '../../errors.js';
import { retainedHeapBytes } from '../../testing/heap.js';
import {
  decodeAsyncEvent,
  decodeGetFeaturesCommand,
  decodeGetLogPageCommand,
  decodeIdentifyCommand,
  decodeSetFeaturesCommand,
  getLogPageCommand,
  identifyCommand,
} from './admin-cmd.js';
import { makeCqe } from './cqe.js';
import { crc32c } from './crc32c.js';
import {
  decodeDimCommand,
  decodeDimData,
  dieHostId,
  dieSymName,
  encodeDimData,
  hostRegistrationData,
} from './dim.js';
import {
  decodeDiscoveryLog,
  decodeDiscoveryLogEntries,
  decodeDiscoveryLogHeader,
  encodeDiscoveryLog,
  sanitizeEntries,
  type DiscoveryLogEntry,
} from './discovery-log.js';
import {
  connectCommand,
  decodeConnectCommand,
  decodeConnectData,
  decodePropertyGetCommand,
  decodePropertySetCommand,
  encodeConnectData,
} from './fabrics-cmd.js';
import {
  decodeIdentifyController,
  emptyIdentifyController,
  encodeIdentifyController,
} from './identify-ctrl.js';
import { PduFramer } from './pdu-framer.js';
import {
  PduType,
  capsuleCmd,
  capsuleResp,
  decodePdu,
  encodePdu,
  pduHeaderLength,
  type Pdu,
  type PduDigests,
} from './pdu.js';
import { makeSqe, sglInCapsule } from './sqe.js';

const DIGESTS: PduDigests[] = [
  { hdgst: false, ddgst: false },
  { hdgst: true, ddgst: false },
  { hdgst: false, ddgst: true },
  { hdgst: true, ddgst: true },
];

const HOSTID = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
const data = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);

const SEED_PDUS: Pdu[] = [
  { type: PduType.ICReq, pfv: 0, hpda: 0, hdgst: true, ddgst: false, maxr2t: 0 },
  { type: PduType.ICResp, pfv: 0, cpda: 0, hdgst: false, ddgst: true, maxh2cdata: 0x400000 },
  { type: PduType.H2CTermReq, fes: 1, fei: 4, offendingHeader: data(24) },
  { type: PduType.C2HTermReq, fes: 3, fei: 0, offendingHeader: data(72) },
  capsuleCmd(makeSqe({ opc: 0x18, cid: 10 })),
  capsuleCmd(
    connectCommand({ cid: 0, katoMs: 30000 }),
    encodeConnectData({ hostid: HOSTID, cntlid: 0xffff, subnqn: 'nqn.a', hostnqn: 'nqn.b' }),
  ),
  capsuleCmd(makeSqe({ opc: 0x21, cid: 11, sgl: sglInCapsule(40) }), data(40)),
  capsuleCmd(getLogPageCommand({ cid: 8, lid: 0x70, length: 20 })),
  capsuleCmd(identifyCommand({ cid: 5 })),
  capsuleResp(makeCqe({ cid: 7, sqhd: 12, dw0: 0x0070f002 })),
  { type: PduType.H2CData, cccid: 3, ttag: 9, datao: 0, last: true, data: data(33) },
  { type: PduType.C2HData, cccid: 8, datao: 0, last: true, success: false, data: data(20) },
  { type: PduType.C2HData, cccid: 8, datao: 20, last: true, success: true, data: data(5) },
  { type: PduType.R2T, cccid: 3, ttag: 9, r2to: 0, r2tl: 8192 },
];

interface Seed {
  readonly bytes: Uint8Array;
  readonly digests: PduDigests;
}

const SEEDS: Seed[] = DIGESTS.flatMap((digests) =>
  SEED_PDUS.map((pdu, i) => ({ bytes: encodePdu(pdu, digests, i % 3 === 0 ? 3 : 0), digests })),
);

type Mutation =
  | { kind: 'flip'; pos: number; bit: number }
  | { kind: 'set'; pos: number; value: number }
  | { kind: 'truncate'; len: number }
  | { kind: 'extend'; bytes: Uint8Array }
  | { kind: 'header'; pos: number; value: number }
  | { kind: 'u32'; pos: number; value: number }
  | { kind: 'plen'; delta: number }
  | { kind: 'redigest' };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), pos: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), len: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }) }),
  // TYPE, FLAGS, HLEN or PDO
  fc.record({
    kind: fc.constant('header' as const),
    pos: fc.integer({ min: 0, max: 3 }),
    value: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 8, 24, 28, 72, 76, 128)),
  }),
  // PLEN (4), DATAO (12), DATAL / R2TL (16), SGL length (32), CDW10..13
  fc.record({
    kind: fc.constant('u32' as const),
    pos: fc.constantFrom(4, 12, 16, 32, 48, 52, 56, 60),
    value: fc.oneof(fc.nat(), fc.constantFrom(0, 1, 0xffffffff, 0x7fffffff, 24, 72, 128, 152, 153)),
  }),
  fc.record({ kind: fc.constant('plen' as const), delta: fc.integer({ min: -8, max: 8 }) }),
  fc.constant({ kind: 'redigest' as const }),
);

function setU32(b: Uint8Array, pos: number, value: number): void {
  if (pos + 4 > b.length) return;
  b[pos] = value & 0xff;
  b[pos + 1] = (value >>> 8) & 0xff;
  b[pos + 2] = (value >>> 16) & 0xff;
  b[pos + 3] = (value >>> 24) & 0xff;
}

function mutate(src: Uint8Array, ops: readonly Mutation[]): Uint8Array {
  let b = src.slice();
  for (const op of ops) {
    switch (op.kind) {
      case 'flip':
        if (b.length > 0) b[op.pos % b.length] = (b[op.pos % b.length] as number) ^ (1 << op.bit);
        break;
      case 'set':
        if (b.length > 0) b[op.pos % b.length] = op.value;
        break;
      case 'truncate':
        b = b.slice(0, op.len % (b.length + 1));
        break;
      case 'extend': {
        const out = new Uint8Array(b.length + op.bytes.length);
        out.set(b);
        out.set(op.bytes, b.length);
        b = out;
        break;
      }
      case 'header':
        if (b.length > op.pos) b[op.pos] = op.value;
        break;
      case 'u32':
        setU32(b, op.pos, op.value);
        break;
      case 'plen':
        setU32(b, 4, Math.max(0, b.length + op.delta));
        break;
      case 'redigest': {
        // Recompute the header digest so the decoder gets past it and checks the fields behind it.
        const hlen = b.length > 2 ? (b[2] as number) : 0;
        if (b.length >= 8 && ((b[1] as number) & 1) === 1 && hlen > 0 && b.length >= hlen + 4) {
          setU32(b, hlen, crc32c(b, 0, hlen));
        }
        break;
      }
    }
  }
  return b;
}

/** Run fn; a WireError is an acceptable outcome, anything else fails the property. */
function onlyWireErrors(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
  }
}

/** Everything a receiver would do with a decoded PDU: the command and data decoders on top. */
function exercise(pdu: Pdu): void {
  if (pdu.type === PduType.CapsuleCmd) {
    for (const decode of [
      decodeConnectCommand,
      decodePropertyGetCommand,
      decodePropertySetCommand,
      decodeIdentifyCommand,
      decodeGetLogPageCommand,
      decodeSetFeaturesCommand,
      decodeGetFeaturesCommand,
      decodeDimCommand,
    ]) {
      onlyWireErrors(() => decode(pdu.sqe));
    }
    onlyWireErrors(() => decodeConnectData(pdu.data));
    onlyWireErrors(() => decodeDimData(pdu.data));
  } else if (pdu.type === PduType.CapsuleResp) {
    decodeAsyncEvent(pdu.cqe.dw0);
  } else if (pdu.type === PduType.C2HData) {
    onlyWireErrors(() => decodeDiscoveryLog(pdu.data));
  }
}

let pdusDecoded = 0;
let pdusFramed = 0;
let pagesDecoded = 0;
let heapBefore = 0;

const pduProperty = fc.property(
  fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
  fc.integer({ min: 1, max: 300 }),
  fc.constantFrom(...DIGESTS),
  fc.nat(),
  (ops, chunkSize, framerDigests, victim) => {
    const mutants = SEEDS.map((seed) => ({ bytes: mutate(seed.bytes, ops), digests: seed.digests }));
    for (const m of mutants) {
      onlyWireErrors(() => {
        exercise(decodePdu(m.bytes, m.digests));
      });
      pdusDecoded++;
    }
    // Each mutant alone through a fresh framer, in chunks of chunkSize bytes.
    for (const m of mutants) {
      const framer = new PduFramer({ maxPlen: 16 * 1024, digests: m.digests });
      onlyWireErrors(() => {
        for (let i = 0; i < m.bytes.length; i += chunkSize) {
          framer.pushPdus(m.bytes.subarray(i, i + chunkSize), exercise);
        }
      });
      pdusFramed++;
    }
    // One mutant in the middle of a stream of valid PDUs: those before it always come out.
    const group = SEEDS.filter((s) => s.digests === framerDigests);
    const at = victim % group.length;
    const parts = group.map((s, i) => (i === at ? mutate(s.bytes, ops) : s.bytes));
    const stream = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) {
      stream.set(p, off);
      off += p.length;
    }
    const framer = new PduFramer({ maxPlen: 16 * 1024, digests: framerDigests });
    let out = 0;
    onlyWireErrors(() => {
      for (let i = 0; i < stream.length; i += chunkSize) {
        framer.pushPdus(stream.subarray(i, i + chunkSize), (pdu) => {
          exercise(pdu);
          out++;
        });
      }
    });
    expect(out).toBeGreaterThanOrEqual(at);
    expect(framer.bufferedBytes).toBeLessThanOrEqual(16 * 1024);
  },
);

const ENTRY: DiscoveryLogEntry = {
  trtype: 3,
  adrfam: 1,
  subtype: 2,
  treq: 0,
  portid: 1,
  cntlid: 0xffff,
  asqsz: 32,
  eflags: 0,
  trsvcid: '4420',
  subnqn: 'nqn.2014-08.com.example:subsys',
  traddr: '192.168.1.2',
  tsas: { kind: 'tcp', sectype: 0 },
};
const RDMA_ENTRY: DiscoveryLogEntry = {
  ...ENTRY,
  trtype: 1,
  subtype: 1,
  tsas: { kind: 'rdma', qptype: 1, prtype: 2, cms: 1, pkey: 0 },
};

const LOG_SEEDS = [
  encodeDiscoveryLog({ genctr: 1n, entries: [] }).subarray(0, 20),
  encodeDiscoveryLog({ genctr: 2n, entries: [ENTRY] }),
  encodeDiscoveryLog({
    genctr: 3n,
    entries: [ENTRY, RDMA_ENTRY, { ...ENTRY, trtype: 2, traddr: 'nn-0x1,pn-0x2' }],
  }),
];

const logMutationArb: fc.Arbitrary<Mutation | { kind: 'numrec'; value: bigint }> = fc.oneof(
  mutationArb,
  fc.record({
    kind: fc.constant('numrec' as const),
    value: fc.oneof(fc.bigInt({ min: 0n, max: 8n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
  }),
);

const logProperty = fc.property(fc.array(logMutationArb, { minLength: 1, maxLength: 4 }), (ops) => {
  for (const seed of LOG_SEEDS) {
    let bytes = seed;
    for (const op of ops) {
      if (op.kind === 'numrec') {
        bytes = bytes.slice();
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        if (bytes.length >= 16) view.setBigUint64(8, op.value, true);
      } else {
        bytes = mutate(bytes, [op]);
      }
    }
    onlyWireErrors(() => {
      const log = decodeDiscoveryLog(bytes);
      sanitizeEntries(log.entries, { sessionTransport: 3 });
    });
    onlyWireErrors(() => {
      const header = decodeDiscoveryLogHeader(bytes);
      decodeDiscoveryLogEntries(bytes.subarray(1024), header.numrec);
    });
    pagesDecoded++;
  }
});

const DIM_SEED = encodeDimData(
  hostRegistrationData({
    hostnqn: 'nqn.h',
    hostid: HOSTID,
    hostname: 'h',
    version: 'v',
    symname: 'sym',
    adrfam: 1,
  }),
);
const IDENTIFY_SEED = encodeIdentifyController({
  ...emptyIdentifyController(),
  sn: 'SN',
  subnqn: 'nqn.x',
  dctype: 2,
});

const dataProperty = fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (ops) => {
  onlyWireErrors(() => {
    for (const entry of decodeDimData(mutate(DIM_SEED, ops)).entries) {
      dieHostId(entry);
      dieSymName(entry);
    }
  });
  onlyWireErrors(() => decodeIdentifyController(mutate(IDENTIFY_SEED, ops)));
});

describe('wire decoders under fuzzing', () => {
  beforeAll(() => {
    heapBefore = retainedHeapBytes();
  });

  afterAll(() => {
    const growthMb = (retainedHeapBytes() - heapBefore) / (1024 * 1024);
    expect(growthMb).toBeLessThan(32);
  });

  it('starts from valid encodings of every PDU type under all four digest settings', () => {
    expect(SEEDS.every((s) => pduHeaderLength(s.bytes[0] as number) !== undefined)).toBe(true);
    expect(SEEDS).toHaveLength(56);
  });

  it('throws only WireError for 50,000 mutated PDUs (first half), decoded and framed', () => {
    fc.assert(pduProperty, { seed: 42, numRuns: 900 });
    expect(pdusDecoded).toBeGreaterThanOrEqual(50_000);
  }, 30_000);

  it('throws only WireError for 50,000 more mutated PDUs (second half)', () => {
    fc.assert(pduProperty, { seed: 4242, numRuns: 900 });
    expect(pdusDecoded).toBeGreaterThanOrEqual(100_000);
    expect(pdusFramed).toBeGreaterThanOrEqual(100_000);
  }, 30_000);

  it('throws only WireError for 20,000 mutated discovery log pages, never allocating by NUMREC', () => {
    fc.assert(logProperty, { seed: 7, numRuns: 7000 });
    expect(pagesDecoded).toBeGreaterThanOrEqual(20_000);
  }, 30_000);

  it('throws only WireError for mutated DIM and Identify data', () => {
    fc.assert(dataProperty, { seed: 99, numRuns: 3000 });
  }, 30_000);

  it('keeps the heap bounded while fuzzing', () => {
    expect((retainedHeapBytes() - heapBefore) / (1024 * 1024)).toBeLessThan(32);
  });
});
