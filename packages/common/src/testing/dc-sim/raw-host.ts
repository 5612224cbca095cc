/**
 * A deliberately tiny NVMe/TCP host for the simulator's own tests: one socket, the wire codec, a CID →
 * completion map, and every received PDU recorded. It is not a host session (no retries, no policy);
 * tests drive each PDU themselves, so they do not depend on nvme/session/.
 *
 * Touches one TCP socket and per-call timeout timers, all released when the call settles or the socket
 * closes. Calls reject with plain Errors (timeout, closed, framing error); a framing/decoding error of
 * an incoming PDU is recorded in `wireError`, fails everything pending and closes the socket, as a
 * host would.
 *
 * Used by: dc-simulator.test.ts, dc-sim-faults.test.ts
 * Tests:   exercised by those tests.
 */
import { connect, type Socket } from 'node:net';
import { getLogPageCommand } from '../../nvme/wire/admin-cmd.js';
import { makeCqe, statusValue, type Cqe } from '../../nvme/wire/cqe.js';
import {
  CC_DEFAULT,
  CNTLID_DYNAMIC,
  DISCOVERY_NQN,
  Property,
  connectCommand,
  encodeCc,
  encodeConnectData,
  propertyGetCommand,
  propertySetCommand,
} from '../../nvme/wire/fabrics-cmd.js';
import { PduFramer } from '../../nvme/wire/pdu-framer.js';
import {
  NO_DIGESTS,
  PduType,
  capsuleCmd,
  encodePdu,
  type C2HDataPdu,
  type ICRespPdu,
  type Pdu,
  type PduDigests,
} from '../../nvme/wire/pdu.js';
import type { Sqe } from '../../nvme/wire/sqe.js';

export const HOST_NQN = 'nqn.2014-08.org.nvmexpress:uuid:0b9a9f4e-7f0c-4d1f-9b3c-2a1d3c4e5f60';
export const HOST_ID = Uint8Array.from([
  0x0b, 0x9a, 0x9f, 0x4e, 0x7f, 0x0c, 0x4d, 0x1f, 0x9b, 0x3c, 0x2a, 0x1d, 0x3c, 0x4e, 0x5f, 0x60,
]);
export const HOST_ID_TEXT = '0b9a9f4e-7f0c-4d1f-9b3c-2a1d3c4e5f60';

/** What a command produced. */
export interface CommandResult {
  readonly cqe: Cqe;
  /** 16-bit status value. */
  readonly status: number;
  /** C2HData payloads concatenated in arrival order. */
  readonly data: Uint8Array;
  readonly c2h: readonly C2HDataPdu[];
}

interface Pending {
  readonly chunks: C2HDataPdu[];
  resolve(result: CommandResult): void;
  reject(err: Error): void;
}

interface PduWaiter {
  readonly match: (pdu: Pdu) => boolean;
  resolve(pdu: Pdu): void;
  reject(err: Error): void;
}

const DEFAULT_TIMEOUT_MS = 3000;

export class RawHost {
  readonly socket: Socket;
  /** Every PDU received, in order. */
  readonly received: Pdu[] = [];
  /** The framing/decoding error that ended the connection, if any. */
  wireError: Error | undefined;
  digests: PduDigests = NO_DIGESTS;
  readonly #framer = new PduFramer();
  readonly #pending = new Map<number, Pending>();
  readonly #waiters = new Set<PduWaiter>();
  #nextCid = 1;
  #closed = false;
  /** Settles when the socket has closed. */
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.#closed = true;
        this.#failAll(new Error('connection closed'));
        resolve();
      });
    });
    socket.on('error', () => {
      // 'close' follows.
    });
    socket.on('data', (chunk: Buffer) => {
      this.#onData(chunk);
    });
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawHost> {
    const socket = connect({ port, host, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve();
      });
      socket.once('error', reject);
    });
    return new RawHost(socket);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** A fresh CID (1, 2, …). */
  cid(): number {
    return this.#nextCid++;
  }

  sendBytes(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  sendPdu(pdu: Pdu, pda = 0): void {
    this.sendBytes(encodePdu(pdu, this.digests, pda));
  }

  /** ICReq → ICResp; adopts the digests the ICResp enables. */
  async icreq(
    req: { hdgst?: boolean; ddgst?: boolean; hpda?: number; pfv?: number } = {},
  ): Promise<ICRespPdu> {
    const wait = this.nextPdu((p) => p.type === PduType.ICResp);
    this.sendPdu({
      type: PduType.ICReq,
      pfv: req.pfv ?? 0,
      hpda: req.hpda ?? 0,
      hdgst: req.hdgst ?? false,
      ddgst: req.ddgst ?? false,
      maxr2t: 0,
    });
    const resp = (await wait) as ICRespPdu;
    this.digests = { hdgst: resp.hdgst, ddgst: resp.ddgst };
    this.#framer.setDigests(this.digests);
    return resp;
  }

  /** Send a command capsule and wait for its completion (with any C2HData). */
  command(sqe: Sqe, data?: Uint8Array, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<CommandResult> {
    const result = this.expect(sqe.cid, timeoutMs);
    this.sendPdu(capsuleCmd(sqe, data));
    return result;
  }

  /** Wait for the completion of `cid` without sending anything (e.g. a held AER). */
  expect(cid: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new Error('connection closed'));
        return;
      }
      const timer = setTimeout(() => {
        this.#pending.delete(cid);
        reject(new Error(`no completion for CID ${cid} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(cid, {
        chunks: [],
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  /** The next received PDU that is not a command's data or completion and matches `match`. */
  nextPdu(match: (pdu: Pdu) => boolean = () => true, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Pdu> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new Error('connection closed'));
        return;
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`no matching PDU within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: PduWaiter = {
        match,
        resolve: (p) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(p);
        },
        reject: (e) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          reject(e);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  // Convenience steps of a discovery session (each one round trip).

  async connectAdmin(
    opts: { katoMs?: number; subnqn?: string; hostnqn?: string; cattr?: number; sqsize?: number } = {},
  ): Promise<CommandResult> {
    const sqe = connectCommand({
      cid: this.cid(),
      katoMs: opts.katoMs ?? 0,
      cattr: opts.cattr ?? 0,
      sqsize: opts.sqsize ?? 31,
    });
    const data = encodeConnectData({
      hostid: HOST_ID,
      cntlid: CNTLID_DYNAMIC,
      subnqn: opts.subnqn ?? DISCOVERY_NQN,
      hostnqn: opts.hostnqn ?? HOST_NQN,
    });
    return this.command(sqe, data);
  }

  propertyGet(prop: { offset: number; size: 4 | 8 }): Promise<CommandResult> {
    return this.command(propertyGetCommand({ cid: this.cid(), offset: prop.offset, size: prop.size }));
  }

  propertySet(offset: number, value: number): Promise<CommandResult> {
    return this.command(propertySetCommand({ cid: this.cid(), offset, size: 4, value }));
  }

  /** ICReq, Connect, CC.EN=1; returns the Connect completion. */
  async open(
    opts: { katoMs?: number; hdgst?: boolean; ddgst?: boolean; subnqn?: string } = {},
  ): Promise<CommandResult> {
    await this.icreq({ hdgst: opts.hdgst ?? false, ddgst: opts.ddgst ?? false });
    const connected = await this.connectAdmin(opts);
    if (connected.status !== 0) throw new Error(`Connect failed: 0x${connected.status.toString(16)}`);
    const enabled = await this.propertySet(Property.CC.offset, encodeCc({ ...CC_DEFAULT, en: true }));
    if (enabled.status !== 0) throw new Error('CC write failed');
    return connected;
  }

  getLogPage(req: {
    lid?: number;
    offset?: number;
    length: number;
    rae?: boolean;
    lsp?: number;
  }): Promise<CommandResult> {
    return this.command(
      getLogPageCommand({
        cid: this.cid(),
        lid: req.lid ?? 0x70,
        offset: req.offset ?? 0,
        length: req.length,
        rae: req.rae ?? false,
        lsp: req.lsp ?? 0,
      }),
    );
  }

  /** End the connection and wait for the socket to close. */
  async close(): Promise<void> {
    this.socket.destroy();
    await this.closed;
  }

  #onData(chunk: Uint8Array): void {
    if (this.wireError !== undefined) return;
    try {
      this.#framer.pushPdus(chunk, (pdu) => {
        this.#onPdu(pdu);
      });
    } catch (err) {
      this.wireError = err instanceof Error ? err : new Error(String(err));
      this.#failAll(this.wireError);
      this.socket.destroy();
    }
  }

  #onPdu(pdu: Pdu): void {
    this.received.push(pdu);
    if (pdu.type === PduType.C2HData) {
      const p = this.#pending.get(pdu.cccid);
      p?.chunks.push(pdu);
      if (p !== undefined && pdu.success) {
        this.#settle(pdu.cccid, makeCqe({ cid: pdu.cccid }));
      }
      return;
    }
    if (pdu.type === PduType.CapsuleResp && this.#pending.has(pdu.cqe.cid)) {
      this.#settle(pdu.cqe.cid, pdu.cqe);
      return;
    }
    for (const w of this.#waiters) {
      if (w.match(pdu)) {
        w.resolve(pdu);
        return;
      }
    }
  }

  #settle(cid: number, cqe: Cqe): void {
    const p = this.#pending.get(cid);
    if (p === undefined) return;
    this.#pending.delete(cid);
    const total = p.chunks.reduce((n, c) => n + c.data.length, 0);
    const data = new Uint8Array(total);
    let off = 0;
    for (const c of p.chunks) {
      data.set(c.data, off);
      off += c.data.length;
    }
    p.resolve({ cqe, status: statusValue(cqe.status), data, c2h: p.chunks });
  }

  #failAll(err: Error): void {
    for (const [cid, p] of this.#pending) {
      this.#pending.delete(cid);
      p.reject(err);
    }
    for (const w of [...this.#waiters]) w.reject(err);
  }
}
