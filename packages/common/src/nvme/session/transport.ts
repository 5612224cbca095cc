/**
 * One NVMe/TCP connection: a node:net socket, the ICReq/ICResp exchange, the PDU framer with the
 * negotiated digests, backpressure-aware writes and one typed close report.
 *
 * I/O edge: owns exactly one socket and the connect/ICResp timers (on the injected clock); nothing
 * else. It knows PDUs, not commands: the admin queue interprets them.
 *
 * Failure contract:
 * - connect() rejects with ConnectError ('refused' | 'unreachable' | 'timeout'), TimeoutError phase
 *   'icresp', StasError NVME_PROTOCOL_ERROR (bad ICResp: not an ICResp, PFV ≠ 0, digests other than
 *   asked for, as the Linux host refuses them; MAXH2CDATA below 4 after rounding down to a dword
 *   multiple), StasError NVME_PEER_TERMINATED (a C2HTermReq), or the abort signal's reason. The socket
 *   is gone when it rejects.
 * - After that, `handlers.onClose(err)` is called exactly once, with ClosedError (FIN/reset by the peer,
 *   byPeer; or end()/destroy() here), NVME_PEER_TERMINATED (C2HTermReq: no TermReq is sent back), or
 *   the WireError of a malformed PDU, after an H2CTermReq naming it (FES 3 for a header digest, 1 with
 *   the field offset otherwise). A data-digest mismatch carrying a CID is not fatal: it goes to
 *   `onDataDigestError` and the connection lives on (the command fails with Data Transfer Error).
 * - `closed` resolves (never rejects) once the socket is fully closed, with the same error.
 * Every message names the peer ("192.0.2.1:8009").
 *
 * Writes: send() encodes (digests, CPDA padding) and writes; it resolves at once unless the socket
 * buffer is over its high-water mark, then after 'drain'. The admin queue's outstanding-command window
 * bounds what can be queued. Reads: the framer caps PLEN (maxPlen) before buffering anything.
 *
 * Used by: discovery-session.ts (via admin-queue.ts)
 * Tests:   transport.test.ts (scripted peers), discovery-session.test.ts
 */
import { connect as netConnect, type Socket } from 'node:net';
import {
  ClosedError,
  ConnectError,
  StasError,
  TimeoutError,
  WireError,
  isErrnoException,
} from '../../errors.js';
import { DEFAULT_MAX_PLEN, PduFramer } from '../wire/pdu-framer.js';
import {
  NO_DIGESTS,
  PduType,
  TERM_REQ_MAX_COPY,
  TermReqFes,
  decodeCommonHeader,
  decodePdu,
  encodePdu,
  pduTypeName,
  type Pdu,
  type PduDigests,
} from '../wire/pdu.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import type { Endpoint } from './endpoint.js';

export interface TransportOptions {
  readonly endpoint: Endpoint;
  /** Ask for header / data digests. */
  readonly hdgst?: boolean;
  readonly ddgst?: boolean;
  /** TCP handshake deadline; default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** ICResp deadline after ICReq; default 10000 ms (Linux). */
  readonly icrespTimeoutMs?: number;
  /** Largest PDU accepted; default 1 MiB. */
  readonly maxPlen?: number;
  readonly clock?: Clock;
}

export interface TransportHandlers {
  /** Every PDU after the ICResp, in order. Throwing a WireError fails the connection with a TermReq. */
  onPdu(pdu: Pdu): void;
  /** A C2HData whose data digest is wrong (the error carries its CID); `flags` is its FLAGS byte. */
  onDataDigestError(err: WireError, flags: number): void;
  /** Once, when the connection is lost or closed. */
  onClose(err: StasError): void;
}

/** What ICResp set up. */
export interface Negotiated {
  readonly digests: PduDigests;
  /** Alignment of data in PDUs we send (0's based dwords). */
  readonly cpda: number;
  /** Largest DATAL of one H2CData. */
  readonly maxh2cdata: number;
}

/** A WireError the session found in a well-framed PDU: what to put in the H2CTermReq. */
export interface TermReqInfo {
  readonly fes: number;
  readonly fei: number;
  readonly header?: Uint8Array;
}

const CONNECT_TIMEOUT_MS = 5000;
const ICRESP_TIMEOUT_MS = 10_000;
/** How long end() waits for the peer to close after our FIN before destroying the socket. */
const END_GRACE_MS = 1000;

function connectErrorKind(err: unknown): 'refused' | 'unreachable' | 'timeout' {
  const code = isErrnoException(err) ? err.code : undefined;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET') return 'refused';
  if (code === 'ETIMEDOUT') return 'timeout';
  return 'unreachable';
}

function describe(err: unknown): string {
  if (isErrnoException(err) && err.code !== undefined) {
    return err.message.includes(err.code) ? err.message : `${err.code}: ${err.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** The H2CTermReq fields for a WireError found while framing/decoding. */
export function termReqFor(err: WireError): TermReqInfo {
  if (err.code === 'WIRE_HDGST_MISMATCH') return { fes: TermReqFes.HeaderDigestError, fei: 0 };
  if (err.code === 'WIRE_DATA_OUT_OF_RANGE') return { fes: TermReqFes.DataTransferOutOfRange, fei: 0 };
  if (err.code === 'WIRE_UNEXPECTED_PDU') return { fes: TermReqFes.PduSequenceError, fei: 0 };
  return { fes: TermReqFes.InvalidHeaderField, fei: err.offset ?? 0 };
}

export class Transport {
  readonly peer: string;
  readonly #opts: TransportOptions;
  readonly #clock: Clock;
  readonly #handlers: TransportHandlers;
  readonly #framer: PduFramer;
  #socket: Socket | undefined;
  #negotiated: Negotiated = { digests: NO_DIGESTS, cpda: 0, maxh2cdata: 0 };
  #ready = false;
  #error: StasError | undefined;
  #timer: TimerHandle | undefined;
  #resolveClosed: ((err: StasError) => void) | undefined;
  #drainWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  /** The frame being handled, for the TermReq copy of its header. */
  #frame: Uint8Array | undefined;
  readonly closed: Promise<StasError>;

  private constructor(opts: TransportOptions, handlers: TransportHandlers) {
    this.#opts = opts;
    this.peer = opts.endpoint.peer;
    this.#clock = opts.clock ?? systemClock;
    this.#handlers = handlers;
    this.#framer = new PduFramer({ maxPlen: opts.maxPlen ?? DEFAULT_MAX_PLEN });
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** TCP connect, then ICReq → ICResp. Resolves when PDUs can flow. */
  static async connect(
    opts: TransportOptions,
    handlers: TransportHandlers,
    options: { signal?: AbortSignal } = {},
  ): Promise<Transport> {
    const t = new Transport(opts, handlers);
    await t.#open(options.signal);
    return t;
  }

  get negotiated(): Negotiated {
    return this.#negotiated;
  }

  get bytesIn(): number {
    return this.#socket?.bytesRead ?? 0;
  }

  get bytesOut(): number {
    return this.#socket?.bytesWritten ?? 0;
  }

  /** The error the connection ended with, once it has. */
  get error(): StasError | undefined {
    return this.#error;
  }

  #open(signal: AbortSignal | undefined): Promise<void> {
    const { endpoint } = this.#opts;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (err === undefined) resolve();
        // Reject only once the socket is closed, so a failed connect leaves nothing behind.
        else {
          void this.closed.then(() => {
            reject(err);
          });
        }
      };
      const onAbort = (): void => {
        const reason = signal?.reason as Error;
        this.#fail(
          reason instanceof StasError
            ? reason
            : new ClosedError(this.peer, `${this.peer}: aborted`, { cause: reason }),
        );
        settle(reason);
      };
      if (signal?.aborted === true) {
        settle(signal.reason as Error);
        this.#resolveClosed?.(new ClosedError(this.peer, `${this.peer}: aborted`));
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pendingOpen = settle;

      const socket = netConnect({
        host: endpoint.host,
        port: endpoint.port,
        family: endpoint.family,
        ...(endpoint.localAddress !== undefined ? { localAddress: endpoint.localAddress } : {}),
        noDelay: true,
      });
      this.#socket = socket;
      this.#arm(this.#opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, () => {
        const ms = this.#opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
        this.#fail(
          new ConnectError(
            'timeout',
            this.peer,
            `${this.peer}: no answer to the TCP connect within ${ms} ms`,
          ),
        );
      });
      socket.once('connect', () => {
        this.#disarm();
        const icreq = encodePdu({
          type: PduType.ICReq,
          pfv: 0,
          hpda: 0,
          hdgst: this.#opts.hdgst === true,
          ddgst: this.#opts.ddgst === true,
          maxr2t: 0,
        });
        socket.write(icreq);
        const ms = this.#opts.icrespTimeoutMs ?? ICRESP_TIMEOUT_MS;
        this.#arm(ms, () => {
          this.#fail(new TimeoutError('icresp', this.peer, `${this.peer}: no ICResp within ${ms} ms`));
        });
      });
      socket.on('data', (chunk: Buffer) => {
        this.#onData(chunk);
      });
      socket.on('error', (err) => {
        if (this.#connected()) {
          this.#fail(
            new ClosedError(this.peer, `${this.peer}: connection lost: ${describe(err)}`, {
              byPeer: true,
              cause: err,
            }),
          );
        } else {
          this.#fail(
            new ConnectError(connectErrorKind(err), this.peer, `${this.peer}: ${describe(err)}`, {
              cause: err,
            }),
          );
        }
      });
      socket.on('end', () => {
        this.#fail(
          new ClosedError(this.peer, `${this.peer}: connection closed by the peer`, { byPeer: true }),
        );
      });
      socket.on('close', () => {
        this.#disarm();
        this.#fail(new ClosedError(this.peer, `${this.peer}: connection closed`, { byPeer: true }));
        const err = this.#error as StasError;
        for (const w of this.#drainWaiters.splice(0)) w.reject(err);
        this.#socket?.removeAllListeners();
        this.#resolveClosed?.(err);
      });
      socket.on('drain', () => {
        for (const w of this.#drainWaiters.splice(0)) w.resolve();
      });
    });
  }

  #pendingOpen: ((err?: Error) => void) | undefined;

  #connected(): boolean {
    const s = this.#socket;
    return s !== undefined && !s.connecting && s.remoteAddress !== undefined;
  }

  #arm(ms: number, fn: () => void): void {
    this.#disarm();
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      fn();
    }, ms);
  }

  #disarm(): void {
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #onData(chunk: Uint8Array): void {
    if (this.#error !== undefined) return;
    try {
      this.#framer.push(chunk, (frame) => {
        this.#frame = frame;
        if (this.#ready) this.#onFrame(frame);
        else this.#onIcResp(frame);
        this.#frame = undefined;
      });
    } catch (err) {
      const frame = this.#frame;
      this.#frame = undefined;
      if (err instanceof WireError) this.protocolError(err, termReqFor(err), frame);
      else if (err instanceof StasError) this.#fail(err);
      else this.#fail(new StasError('NVME_INTERNAL', `${this.peer}: ${describe(err)}`, { cause: err }));
    }
  }

  #onIcResp(frame: Uint8Array): void {
    const pdu = decodePdu(frame, NO_DIGESTS);
    if (pdu.type === PduType.C2HTermReq) throw this.#terminated(pdu.fes, pdu.fei);
    if (pdu.type !== PduType.ICResp) {
      throw new WireError(
        'WIRE_UNEXPECTED_PDU',
        `${this.peer}: expected ICResp, got ${pduTypeName(pdu.type)}`,
      );
    }
    const bad = (why: string): StasError =>
      new StasError('NVME_PROTOCOL_ERROR', `${this.peer}: unusable ICResp: ${why}`);
    if (pdu.pfv !== 0) throw bad(`PFV ${pdu.pfv}, expected 0`);
    const want = { hdgst: this.#opts.hdgst === true, ddgst: this.#opts.ddgst === true };
    if (pdu.hdgst !== want.hdgst || pdu.ddgst !== want.ddgst) {
      const show = (d: PduDigests): string =>
        `header ${d.hdgst ? 'on' : 'off'}, data ${d.ddgst ? 'on' : 'off'}`;
      throw bad(`digests ${show(pdu)} but this host asked for ${show(want)}`);
    }
    if (pdu.cpda > 31) throw bad(`CPDA ${pdu.cpda} above 31`);
    const maxh2cdata = pdu.maxh2cdata - (pdu.maxh2cdata % 4);
    if (maxh2cdata < 4) throw bad(`MAXH2CDATA ${pdu.maxh2cdata}`);
    this.#negotiated = { digests: want, cpda: pdu.cpda, maxh2cdata };
    this.#framer.setDigests(want);
    this.#ready = true;
    this.#disarm();
    const open = this.#pendingOpen;
    this.#pendingOpen = undefined;
    open?.();
  }

  #onFrame(frame: Uint8Array): void {
    let pdu: Pdu;
    try {
      pdu = decodePdu(frame, this.#negotiated.digests);
    } catch (err) {
      if (err instanceof WireError && err.code === 'WIRE_DDGST_MISMATCH' && err.cid !== undefined) {
        this.#handlers.onDataDigestError(err, decodeCommonHeader(frame).flags);
        return;
      }
      throw err;
    }
    if (pdu.type === PduType.C2HTermReq) throw this.#terminated(pdu.fes, pdu.fei);
    this.#handlers.onPdu(pdu);
  }

  #terminated(fes: number, fei: number): StasError {
    return new StasError(
      'NVME_PEER_TERMINATED',
      `${this.peer}: the controller terminated the connection (C2HTermReq FES 0x${fes.toString(16)}, FEI 0x${fei.toString(16)})`,
    );
  }

  /**
   * Send one PDU. Resolves when the socket accepted it (after 'drain' if its buffer is full); rejects
   * with the close error once the connection is gone.
   */
  send(pdu: Pdu): Promise<void> {
    const socket = this.#socket;
    if (this.#error !== undefined || socket === undefined) {
      return Promise.reject(this.#error ?? new ClosedError(this.peer, `${this.peer}: not connected`));
    }
    const bytes = encodePdu(pdu, this.#negotiated.digests, this.#negotiated.cpda);
    if (socket.write(bytes)) return Promise.resolve();
    return new Promise((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  /** A protocol violation: send an H2CTermReq (once connected), then drop the connection with `err`. */
  protocolError(err: StasError, info: TermReqInfo, frame?: Uint8Array): void {
    if (this.#error !== undefined) return;
    const socket = this.#socket;
    if (socket !== undefined && this.#ready) {
      const header =
        info.header ?? frame?.subarray(0, Math.min(frame.length, TERM_REQ_MAX_COPY)) ?? new Uint8Array(0);
      socket.write(
        encodePdu({ type: PduType.H2CTermReq, fes: info.fes, fei: info.fei, offendingHeader: header }),
      );
    }
    this.#fail(err, true);
  }

  /** FIN after pending writes; resolves when the socket is closed (destroyed after a short grace). */
  async end(): Promise<StasError> {
    const socket = this.#socket;
    if (this.#error === undefined && socket !== undefined) {
      this.#error = new ClosedError(this.peer, `${this.peer}: connection closed by this host`);
      this.#notifyClose(this.#error);
      socket.end();
      this.#arm(END_GRACE_MS, () => socket.destroy());
    }
    return this.closed;
  }

  /** Drop the connection at once (RST-free destroy), reporting `err` (default ClosedError). */
  destroy(err?: StasError): void {
    this.#fail(err ?? new ClosedError(this.peer, `${this.peer}: connection closed by this host`));
  }

  #fail(err: StasError, flush = false): void {
    if (this.#error !== undefined) return;
    this.#error = err;
    this.#disarm();
    const open = this.#pendingOpen;
    this.#pendingOpen = undefined;
    const socket = this.#socket;
    if (socket === undefined) {
      this.#resolveClosed?.(err);
    } else if (flush) {
      // Let the TermReq leave before the socket goes.
      socket.end();
      this.#arm(END_GRACE_MS, () => socket.destroy());
    } else {
      socket.destroy();
    }
    if (open !== undefined) open(err);
    else this.#notifyClose(err);
  }

  #closeNotified = false;

  #notifyClose(err: StasError): void {
    if (this.#closeNotified) return;
    this.#closeNotified = true;
    this.#handlers.onClose(err);
  }
}
