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
import { DEFAULT_MAX_PLEN, PduFramer } from './pdu-framer.js';
import { PduType } from './pdu.js';

// Independently typed PDUs (Appendix B): ICResp, C2HData, CapsuleResp, AER completion, Keep Alive.
const ICRESP = concatBytes(hexBytes('01 00 80 00 80 00 00 00 00 00 00 00 00 00 40 00'), new Uint8Array(112));
const C2H = hexBytes(`
07 04 18 18 2c 00 00 00 08 00 00 00 00 00 00 00
14 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00
03 00 00 00 00 00 00 00 00 00 00 00`);
const RESP = hexBytes('05 00 18 00 18 00 00 00 00 00 00 00 00 00 00 00 09 00 00 00 08 00 00 00');
const AER = hexBytes('05 00 18 00 18 00 00 00 02 f0 70 00 00 00 00 00 0c 00 00 00 07 00 00 00');
const KA = new ByteBuilder(72)
  .raw(0, [4, 0, 72, 0])
  .u32(4, 72)
  .raw(8, [0x18, 0x40, 10, 0])
  .u8(47, 0x5a).bytes;

const PDUS = [ICRESP, C2H, RESP, AER, KA];
const STREAM = concatBytes(...PDUS);

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Push chunks and collect the frames handed to the callback. */
function feed(framer: PduFramer, chunks: Uint8Array[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (const c of chunks) framer.push(c, (f) => frames.push(f));
  return frames;
}

const frames1 = (framer: PduFramer, chunk: Uint8Array): Uint8Array[] => feed(framer, [chunk]);

describe('PduFramer', () => {
  it('returns each PDU of a stream delivered in one chunk', () => {
    expect(frames1(new PduFramer(), STREAM)).toEqual(PDUS);
  });

  it('returns the same PDUs for a split at every offset of the stream', () => {
    for (let i = 0; i <= STREAM.length; i++) {
      const framer = new PduFramer();
      const frames = feed(framer, [STREAM.subarray(0, i), STREAM.subarray(i)]);
      expect(frames).toEqual(PDUS);
      expect(framer.bufferedBytes).toBe(0);
    }
  });

  it('returns the same PDUs for every pair of split points inside the first 60 bytes after a boundary', () => {
    for (let i = 120; i < 190; i++) {
      for (let j = i; j < i + 60; j += 11) {
        const frames = feed(new PduFramer(), [
          STREAM.subarray(0, i),
          STREAM.subarray(i, j),
          STREAM.subarray(j),
        ]);
        expect(frames).toEqual(PDUS);
      }
    }
  });

  it('returns the same PDUs fed byte by byte, each exactly when its last byte arrives', () => {
    const framer = new PduFramer();
    const completedAt: number[] = [];
    const frames: Uint8Array[] = [];
    for (let i = 0; i < STREAM.length; i++) {
      const out = frames1(framer, STREAM.subarray(i, i + 1));
      if (out.length > 0) completedAt.push(i + 1);
      frames.push(...out);
    }
    expect(frames).toEqual(PDUS);
    let end = 0;
    expect(completedAt).toEqual(PDUS.map((p) => (end += p.length)));
  });

  it('hands out independent copies that survive later pushes', () => {
    const framer = new PduFramer();
    const chunk = STREAM.slice();
    const [first] = frames1(framer, chunk.subarray(0, 130));
    chunk.fill(0xee);
    expect(first).toEqual(ICRESP);
  });

  it('refuses an oversized PLEN as soon as the 8-byte header is complete, before buffering the body', () => {
    const header = new ByteBuilder(8).raw(0, [7, 4, 24, 24]).u32(4, 0xffffffff).bytes;
    const framer = new PduFramer({ maxPlen: 4096 });
    expect(frames1(framer, header.subarray(0, 7))).toEqual([]);
    expect(wireErrorCode(() => frames1(framer, header.subarray(7)))).toBe('WIRE_PLEN_TOO_LARGE');
    expect(framer.bufferedBytes).toBeLessThanOrEqual(8);

    const big = new PduFramer({ maxPlen: 4096 });
    const chunk = concatBytes(header, new Uint8Array(64 * 1024));
    expect(wireErrorCode(() => frames1(big, chunk))).toBe('WIRE_PLEN_TOO_LARGE');
    expect(big.bufferedBytes).toBe(0);
  });

  it('accepts a PLEN equal to the limit and refuses one byte more', () => {
    const ok = new ByteBuilder(8).raw(0, [7, 4, 24, 24]).u32(4, 200).bytes;
    expect(frames1(new PduFramer({ maxPlen: 200 }), ok)).toEqual([]);
    const over = new ByteBuilder(8).raw(0, [7, 4, 24, 24]).u32(4, 201).bytes;
    expect(wireErrorCode(() => frames1(new PduFramer({ maxPlen: 200 }), over))).toBe('WIRE_PLEN_TOO_LARGE');
    expect(DEFAULT_MAX_PLEN).toBe(1024 * 1024);
  });

  it('refuses an unknown TYPE, a wrong HLEN and PLEN below HLEN from the header alone', () => {
    const bad = (hex: string): string | undefined =>
      wireErrorCode(() => frames1(new PduFramer(), hexBytes(hex)));
    expect(bad('08 00 18 00 18 00 00 00')).toBe('WIRE_BAD_TYPE');
    expect(bad('05 00 19 00 18 00 00 00')).toBe('WIRE_BAD_HLEN');
    expect(bad('05 00 18 00 10 00 00 00')).toBe('WIRE_BAD_PLEN');
  });

  it('stays failed after an error and rethrows the same error', () => {
    const framer = new PduFramer();
    const caught = (fn: () => void): unknown => {
      try {
        fn();
      } catch (err) {
        return err;
      }
      return undefined;
    };
    const first = caught(() => frames1(framer, hexBytes('08 00 18 00 18 00 00 00')));
    expect(first).toBeInstanceOf(WireError);
    expect(framer.failure).toBe(first);
    expect(caught(() => frames1(framer, RESP))).toBe(first);
    expect(caught(() => framer.decode(RESP))).toBe(first);
  });

  it('hands over every good PDU before the bad one in the same chunk, then throws', () => {
    const framer = new PduFramer();
    const seen: Uint8Array[] = [];
    const chunk = concatBytes(RESP, AER, hexBytes('08 00 18 00 18 00 00 00'), KA);
    expect(
      wireErrorCode(() => {
        framer.push(chunk, (f) => seen.push(f));
      }),
    ).toBe('WIRE_BAD_TYPE');
    expect(seen).toEqual([RESP, AER]);
  });

  it('fails when the callback throws, and refuses re-entrant pushes', () => {
    const framer = new PduFramer();
    const boom = new Error('consumer failed');
    expect(() => {
      framer.push(STREAM, () => {
        throw boom;
      });
    }).toThrow(boom);
    expect(framer.failure).toBe(boom);
    const inner = new PduFramer();
    let code: string | undefined;
    inner.push(RESP, () => {
      code = wireErrorCode(() => {
        inner.push(AER, () => undefined);
      });
    });
    expect(code).toBe('WIRE_FRAMER_REENTRANT');
  });

  it('decodes PDUs with the digests a callback sets on ICResp, from the next PDU of the same chunk on', () => {
    const framer = new PduFramer();
    const header = RESP.slice();
    header[1] = 1;
    header[4] = 28;
    const digested = concatBytes(header, le32(crc32cBitwise(header)));
    const types: number[] = [];
    framer.pushPdus(concatBytes(ICRESP, digested, digested), (pdu) => {
      types.push(pdu.type);
      if (pdu.type === PduType.ICResp) framer.setDigests({ hdgst: true, ddgst: false });
    });
    expect(types).toEqual([PduType.ICResp, PduType.CapsuleResp, PduType.CapsuleResp]);
    expect(framer.digests).toEqual({ hdgst: true, ddgst: false });
    expect(framer.decode(digested).type).toBe(PduType.CapsuleResp);
    // The undigested form is now a protocol error, and it fails the framer.
    expect(
      wireErrorCode(() => {
        framer.pushPdus(RESP, () => undefined);
      }),
    ).toBe('WIRE_BAD_FLAGS');
    expect(wireErrorCode(() => framer.decode(digested))).toBe('WIRE_BAD_FLAGS');
  });

  it('fails when decode() meets a bad frame', () => {
    const framer = new PduFramer();
    expect(wireErrorCode(() => framer.decode(RESP.subarray(0, 20)))).toBe('WIRE_BAD_PLEN');
    expect(wireErrorCode(() => framer.decode(RESP))).toBe('WIRE_BAD_PLEN');
  });

  it('rejects a maxPlen below 128', () => {
    expect(wireErrorCode(() => new PduFramer({ maxPlen: 100 }))).toBe('WIRE_ENCODE_RANGE');
  });

  it('reassembles a PDU larger than its 64 KiB buffer-keeping threshold and then continues', () => {
    const data = Uint8Array.from({ length: 100_000 }, (_, i) => i & 0xff);
    const big = concatBytes(
      new ByteBuilder(24)
        .raw(0, [7, 4, 24, 24])
        .u32(4, 24 + data.length)
        .u8(8, 1)
        .u32(16, data.length).bytes,
      data,
    );
    const framer = new PduFramer();
    const frames = feed(framer, [
      big.subarray(0, 3),
      big.subarray(3, 50_000),
      concatBytes(big.subarray(50_000), RESP),
    ]);
    expect(frames.map((f) => f.length)).toEqual([big.length, RESP.length]);
    expect(sameBytes(frames[0], big)).toBe(true);
    expect(frames[1]).toEqual(RESP);
    const pdu = framer.decode(big);
    expect(pdu.type === PduType.C2HData && sameBytes(pdu.data, data)).toBe(true);
  });
});
