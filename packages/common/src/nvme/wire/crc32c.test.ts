import { describe, expect, it } from 'vitest';
import { crc32cBitwise, hexBytes } from '../../testing/wire-bytes.js';
import { crc32c, crc32cUpdate } from './crc32c.js';

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

function pseudoRandomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('crc32c', () => {
  it('gives the published check value for "123456789"', () => {
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
  });

  it('gives 0 for no data', () => {
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('agrees with the bit-at-a-time reference on buffers of every length 0..300', () => {
    const data = pseudoRandomBytes(300, 7);
    for (let n = 0; n <= 300; n++) {
      expect(crc32c(data.subarray(0, n))).toBe(crc32cBitwise(data.subarray(0, n)));
    }
  });

  it('is incremental: crc32cUpdate(crc32c(a), b) equals crc32c(a ++ b) at every split', () => {
    const data = pseudoRandomBytes(97, 3);
    const whole = crc32c(data);
    for (let i = 0; i <= data.length; i++) {
      expect(crc32cUpdate(crc32c(data.subarray(0, i)), data.subarray(i))).toBe(whole);
    }
  });

  it('honours start and end offsets', () => {
    const data = pseudoRandomBytes(64, 11);
    expect(crc32c(data, 5, 50)).toBe(crc32cBitwise(data.subarray(5, 50)));
  });

  it('reproduces the header digest of the wire doc Keep Alive examples (CID 5 and CID 10)', () => {
    const ka = (cid: number): Uint8Array =>
      hexBytes(`04 01 48 00 4c 00 00 00 18 40 ${cid.toString(16).padStart(2, '0')} 00`);
    const header = (cid: number): Uint8Array => {
      const h = new Uint8Array(72);
      h.set(ka(cid));
      h[47] = 0x5a;
      return h;
    };
    const le = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
    expect(le(crc32c(header(5)))).toEqual([0x2b, 0x87, 0xc1, 0x94]);
    expect(le(crc32c(header(10)))).toEqual([0x69, 0xe8, 0x91, 0xd5]);
  });
});
