/**
 * CRC-32C (Castagnoli) for NVMe/TCP header and data digests.
 *
 * Pure and total: never throws, no I/O. Reflected polynomial 0x82F63B78, initial value and final XOR
 * 0xFFFFFFFF; check value crc32c("123456789") = 0xE3069283. Table-driven slice-by-8 (8 KiB of tables
 * built once at module load). Not node:zlib's crc32, which is the IEEE polynomial.
 *
 * Incremental: crc32cUpdate(crc32c(a), b) === crc32c(a ++ b), starting from crc 0 (zlib convention).
 *
 * Used by: pdu.ts (HDGST/DDGST).
 * Tests:   crc32c.test.ts (check value, bitwise reference from testing/wire-bytes.ts, incremental splits)
 */

const POLY = 0x82f63b78;

function buildTables(): Uint32Array[] {
  const tables: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[i] = c >>> 0;
  }
  tables.push(t0);
  for (let t = 1; t < 8; t++) {
    const prev = tables[t - 1] as Uint32Array;
    const cur = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      const p = prev[i] as number;
      cur[i] = ((p >>> 8) ^ (t0[p & 0xff] as number)) >>> 0;
    }
    tables.push(cur);
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = buildTables() as [
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
];

/**
 * Continue a CRC-32C: `crc` is a previous result (0 to start), `bytes[start, end)` the next data.
 * Returns the finished CRC of everything so far as an unsigned 32-bit number.
 */
export function crc32cUpdate(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = ~crc >>> 0;
  let i = Math.max(0, start);
  const stop = Math.min(end, bytes.length);
  // Typed-array reads inside bounds are numbers; the `as number` casts only satisfy noUncheckedIndexedAccess.
  for (; i + 8 <= stop; i += 8) {
    c ^=
      (bytes[i] as number) |
      ((bytes[i + 1] as number) << 8) |
      ((bytes[i + 2] as number) << 16) |
      ((bytes[i + 3] as number) << 24);
    c =
      (T7[c & 0xff] as number) ^
      (T6[(c >>> 8) & 0xff] as number) ^
      (T5[(c >>> 16) & 0xff] as number) ^
      (T4[c >>> 24] as number) ^
      (T3[bytes[i + 4] as number] as number) ^
      (T2[bytes[i + 5] as number] as number) ^
      (T1[bytes[i + 6] as number] as number) ^
      (T0[bytes[i + 7] as number] as number);
  }
  for (; i < stop; i++) {
    c = (T0[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  }
  return ~c >>> 0;
}

/** CRC-32C of bytes[start, end). */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32cUpdate(0, bytes, start, end);
}
