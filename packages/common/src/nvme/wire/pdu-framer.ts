/**
 * Streaming NVMe/TCP framer: byte chunks in (as a TCP or TLS socket delivers them), whole PDUs out.
 *
 * Pure and synchronous: no sockets, timers or logging; the session feeds it. The pg-protocol Parser
 * pattern with a length cap: one reusable buffer holds at most one partial PDU. The 8-byte common header
 * is checked (known TYPE, the HLEN of that type, HLEN <= PLEN <= maxPlen) as soon as it is complete and
 * BEFORE any byte of the PDU body is buffered, so an oversized PLEN costs nothing but the error. PDUs
 * split across chunks or coalesced in one chunk come out the same; each frame is an independent copy,
 * so views that decodePdu() returns into it stay valid.
 *
 * Contract (the pg-protocol `parse(buffer, callback)` shape): push() hands every PDU completed by the
 * chunk to the callback, in order, as soon as it is complete, then returns; or throws WireError
 * (WIRE_BAD_TYPE, WIRE_BAD_HLEN, WIRE_BAD_PLEN, WIRE_PLEN_TOO_LARGE; pushPdus() adds decodePdu()'s
 * codes) at the first bad PDU, after the callback has seen every good PDU before it. After an error
 * (including one thrown by the callback) the framer is failed for good: later calls rethrow the same
 * error, because the byte stream can no longer be resynchronised; the session sends a TermReq and
 * closes. The callback must not call push() again (WIRE_FRAMER_REENTRANT).
 *
 * Digests: pushPdus() decodes each frame with the digests current when that frame completes, so a
 * callback that accepts the ICResp and calls setDigests() affects the very next PDU of the same chunk.
 *
 * Used by: nvme/session/transport.ts, testing/dc-sim.ts
 * Tests:   pdu-framer.test.ts (split at every offset, byte by byte, oversized PLEN), wire.prop.test.ts
 */
import { WireError } from '../../errors.js';
import {
  COMMON_HEADER_SIZE,
  NO_DIGESTS,
  decodeCommonHeader,
  decodePdu,
  pduHeaderLength,
  pduTypeName,
  type Pdu,
  type PduDigests,
} from './pdu.js';

/** Keep Errors as they are; wrap anything else a callback threw. */
function asError(err: unknown): Error {
  return err instanceof Error
    ? err
    : new WireError('WIRE_FRAMER_FAILED', `PduFramer callback threw ${String(err)}`, { cause: err });
}

/** Default PLEN cap: 1 MiB, far above anything a discovery host or DC exchanges (8 KiB in-capsule data). */
export const DEFAULT_MAX_PLEN = 1024 * 1024;

/** Buffers larger than this are released after use instead of being kept for the next PDU. */
const KEEP_BUFFER_BYTES = 64 * 1024;

export interface PduFramerOptions {
  /** Largest PLEN accepted; default DEFAULT_MAX_PLEN. Must be at least 128 (ICReq/ICResp). */
  readonly maxPlen?: number;
  /** Digests used by pushPdus()/decode() until setDigests() changes them; default none. */
  readonly digests?: PduDigests;
}

export class PduFramer {
  readonly maxPlen: number;
  #digests: PduDigests;
  #buf: Uint8Array = new Uint8Array(0);
  /** Bytes of the current partial PDU held in #buf. */
  #len = 0;
  /** PLEN of the current partial PDU once its header was checked; 0 while the header is incomplete. */
  #need = 0;
  #failed: Error | undefined;
  #busy = false;

  constructor(options: PduFramerOptions = {}) {
    const maxPlen = options.maxPlen ?? DEFAULT_MAX_PLEN;
    if (!Number.isSafeInteger(maxPlen) || maxPlen < 128) {
      throw new WireError('WIRE_ENCODE_RANGE', `framer maxPlen ${maxPlen} must be an integer >= 128`);
    }
    this.maxPlen = maxPlen;
    this.#digests = options.digests ?? NO_DIGESTS;
  }

  get digests(): PduDigests {
    return this.#digests;
  }

  /** Apply the digests negotiated by ICReq/ICResp to PDUs decoded from now on. */
  setDigests(digests: PduDigests): void {
    this.#digests = { hdgst: digests.hdgst, ddgst: digests.ddgst };
  }

  /** Bytes of an incomplete PDU currently held (0 at a PDU boundary). */
  get bufferedBytes(): number {
    return this.#len;
  }

  /** The error that failed this framer, if any (a WireError, or the Error a callback threw). */
  get failure(): Error | undefined {
    return this.#failed;
  }

  /** Feed one chunk; `onFrame` receives each whole PDU it completes, as its own byte array. */
  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#busy) {
      throw new WireError('WIRE_FRAMER_REENTRANT', 'PduFramer.push() called from its own callback');
    }
    this.#busy = true;
    try {
      this.#push(chunk, onFrame);
    } catch (err) {
      this.#failed = asError(err);
      throw this.#failed;
    } finally {
      this.#busy = false;
    }
  }

  /** Decode one frame with the current digests (a WireError fails the framer, like push()). */
  decode(frame: Uint8Array): Pdu {
    if (this.#failed !== undefined) throw this.#failed;
    try {
      return decodePdu(frame, this.#digests);
    } catch (err) {
      this.#failed = asError(err);
      throw this.#failed;
    }
  }

  /** push(), decoding every frame with the digests current when it completes. */
  pushPdus(chunk: Uint8Array, onPdu: (pdu: Pdu) => void): void {
    this.push(chunk, (frame) => {
      onPdu(decodePdu(frame, this.#digests));
    });
  }

  #push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#len === 0) {
        // Nothing buffered: take whole PDUs straight from the chunk.
        const avail = chunk.length - pos;
        if (avail < COMMON_HEADER_SIZE) {
          this.#append(chunk, pos, avail);
          break;
        }
        const plen = this.#checkHeader(chunk, pos);
        if (avail >= plen) {
          const frame = chunk.slice(pos, pos + plen);
          pos += plen;
          onFrame(frame);
          continue;
        }
        this.#need = plen;
        this.#append(chunk, pos, avail);
        break;
      }
      if (this.#need === 0) {
        const take = Math.min(COMMON_HEADER_SIZE - this.#len, chunk.length - pos);
        this.#append(chunk, pos, take);
        pos += take;
        if (this.#len < COMMON_HEADER_SIZE) break;
        this.#need = this.#checkHeader(this.#buf, 0);
      }
      const take = Math.min(this.#need - this.#len, chunk.length - pos);
      this.#append(chunk, pos, take);
      pos += take;
      if (this.#len === this.#need) {
        const frame = this.#buf.slice(0, this.#need);
        this.#len = 0;
        this.#need = 0;
        if (this.#buf.length > KEEP_BUFFER_BYTES) this.#buf = new Uint8Array(0);
        onFrame(frame);
      }
    }
  }

  /** Validate a complete common header; returns PLEN. */
  #checkHeader(bytes: Uint8Array, offset: number): number {
    const ch = decodeCommonHeader(bytes, offset);
    const hlen = pduHeaderLength(ch.type);
    if (hlen === undefined) {
      throw new WireError('WIRE_BAD_TYPE', `unknown PDU type 0x${ch.type.toString(16)}`, { offset: 0 });
    }
    if (ch.hlen !== hlen) {
      throw new WireError('WIRE_BAD_HLEN', `${pduTypeName(ch.type)}: HLEN ${ch.hlen}, expected ${hlen}`, {
        offset: 2,
      });
    }
    if (ch.plen < hlen) {
      throw new WireError('WIRE_BAD_PLEN', `${pduTypeName(ch.type)}: PLEN ${ch.plen} below HLEN ${hlen}`, {
        offset: 4,
      });
    }
    if (ch.plen > this.maxPlen) {
      throw new WireError(
        'WIRE_PLEN_TOO_LARGE',
        `${pduTypeName(ch.type)}: PLEN ${ch.plen} exceeds the limit of ${this.maxPlen} bytes`,
        { offset: 4 },
      );
    }
    return ch.plen;
  }

  /** Copy n bytes of src into the partial-PDU buffer, growing it (never beyond the checked PLEN). */
  #append(src: Uint8Array, start: number, n: number): void {
    if (n === 0) return;
    const needed = this.#len + n;
    if (needed > this.#buf.length) {
      const limit = this.#need === 0 ? COMMON_HEADER_SIZE : this.#need;
      const size = Math.min(Math.max(needed, this.#buf.length * 2, 256), Math.max(limit, needed));
      const grown = new Uint8Array(size);
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(src.subarray(start, start + n), this.#len);
    this.#len = needed;
  }
}
