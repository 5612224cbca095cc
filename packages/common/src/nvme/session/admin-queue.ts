/**
 * The admin queue of one NVMe/TCP association: command identifiers, the outstanding-command map, a
 * window of pipelined commands, per-command deadlines and cancellation, C2HData reassembly, R2T
 * answers, completions turned into results or NvmeStatusError, and the Asynchronous Event Request.
 *
 * I/O: none of its own. It sends PDUs through the `QueueLink` it is given and is fed PDUs by the
 * session (handlePdu). Its only timers are command deadlines on the injected clock; every one is
 * cleared when its command settles or failAll() runs.
 *
 * Contract:
 * - submit() resolves with the CQE and the command's data buffer (exactly `dataLength` bytes; a short
 *   transfer is zero-filled and `received` says how much came, §10 #18), or rejects with
 *   NvmeStatusError (SCT/SC named, peer in the message), TimeoutError (the command's `phase`; the
 *   queue then reports it through `onTimeout` so the owner can drop the association, as Linux resets on
 *   an admin timeout), the caller's `signal.reason`, or the error given to failAll().
 * - A command that timed out or was cancelled keeps its CID until the controller completes it; the
 *   late completion (and its data) is consumed silently.
 * - handlePdu() throws WireError for a protocol violation (C2HData or a completion for a CID that is not
 *   outstanding: WIRE_UNEXPECTED_PDU; data past the command's own length: WIRE_DATA_OUT_OF_RANGE);
 *   the transport answers it with an H2CTermReq and closes.
 * - At most `maxOutstanding` ordinary commands are on the wire (SQSIZE/MAXCMD minus the AER's slot);
 *   more wait in FIFO order. The AER uses a reserved CID (§10 #27) and never times out.
 * - `roundTrips` counts the times the queue went from "nothing outstanding" to "waiting for a
 *   completion": commands sent together (pipelined) count once.
 *
 * Used by: discovery-session.ts, keep-alive.ts (through the session)
 * Tests:   admin-queue.test.ts (fake link and clock)
 */
import {
  ClosedError,
  NvmeStatusError,
  StasError,
  TimeoutError,
  WireError,
  type TimeoutPhase,
} from '../../errors.js';
import type { Cqe } from '../wire/cqe.js';
import { asyncEventRequestCommand } from '../wire/admin-cmd.js';
import { PduFlag, PduType, capsuleCmd, pduTypeName, type Pdu } from '../wire/pdu.js';
import { sglTransportData, type Sqe } from '../wire/sqe.js';
import { StatusCode, describeStatus, statusError } from '../wire/status.js';
import { statusFromValue } from '../wire/cqe.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';

/** CID reserved for the Asynchronous Event Request; ordinary commands use 0..AER_CID-1. */
export const AER_CID = 0xfffe;
/** Host-to-controller data up to this size travels in-capsule (Linux NVME_TCP_ADMIN_CCSZ). */
export const IN_CAPSULE_LIMIT = 8192;
/** Linux's admin command timeout. */
export const DEFAULT_ADMIN_TIMEOUT_MS = 60_000;

export interface AdminCommand {
  /** For messages: "Identify", "Get Log Page 0x70". */
  readonly name: string;
  /** The SQE for the CID the queue assigns. */
  readonly build: (cid: number) => Sqe;
  /** Bytes the controller sends back (C2HData); default 0. */
  readonly dataLength?: number;
  /** Bytes for the controller: in-capsule up to IN_CAPSULE_LIMIT, else through R2T/H2CData. */
  readonly hostData?: Uint8Array;
  /** Deadline from submission; default the queue's; 0 = none. */
  readonly timeoutMs?: number;
  /** Phase named by a TimeoutError; default 'admin'. */
  readonly phase?: TimeoutPhase;
  readonly signal?: AbortSignal;
}

export interface CommandResult {
  readonly cqe: Cqe;
  /** The command's data buffer, `dataLength` bytes. */
  readonly data: Uint8Array;
  /** Bytes the controller actually sent. */
  readonly received: number;
}

/** How the queue reaches the wire. */
export interface QueueLink {
  send(pdu: Pdu): Promise<void>;
  /** Largest H2CData payload (ICResp MAXH2CDATA). */
  readonly maxh2cdata: number;
}

export interface AdminQueueOptions {
  readonly peer: string;
  readonly clock?: Clock;
  readonly defaultTimeoutMs?: number;
  /** Ordinary commands on the wire at once; default 30 (SQSIZE 31 → 31 slots, one kept for the AER). */
  readonly maxOutstanding?: number;
  /** A command deadline passed (after the command was rejected with it). */
  readonly onTimeout?: (err: TimeoutError) => void;
  /** Every completion (for traffic-based keep-alive). */
  readonly onCompletion?: () => void;
  /** The AER completed successfully: DW0 of its completion. */
  readonly onAsyncEvent?: (dw0: number) => void;
  /** The AER completed with an error status (it is not re-armed by the queue). */
  readonly onAsyncEventError?: (err: NvmeStatusError) => void;
}

interface Entry {
  readonly cid: number;
  readonly cmd: AdminCommand;
  readonly buffer: Uint8Array;
  readonly resolve: (r: CommandResult) => void;
  readonly reject: (err: unknown) => void;
  received: number;
  /** Rejected already (timeout/cancel): waiting only for the controller to release the CID. */
  abandoned: boolean;
  /** Host data not sent in-capsule (R2T expected). */
  r2tData: Uint8Array | undefined;
  dataError: WireError | undefined;
  cleanup: () => void;
  sent: boolean;
}

export class AdminQueue {
  readonly peer: string;
  readonly #link: QueueLink;
  readonly #clock: Clock;
  readonly #opts: AdminQueueOptions;
  readonly #active = new Map<number, Entry>();
  readonly #waiting: Entry[] = [];
  #maxOutstanding: number;
  #nextCid = 0;
  #busy = 0;
  #failed: Error | undefined;
  #aerArmed = false;
  #commands = 0;
  #roundTrips = 0;

  constructor(link: QueueLink, opts: AdminQueueOptions) {
    this.#link = link;
    this.#opts = opts;
    this.peer = opts.peer;
    this.#clock = opts.clock ?? systemClock;
    this.#maxOutstanding = Math.max(1, opts.maxOutstanding ?? 30);
  }

  /** Commands transmitted (the AER included). */
  get commands(): number {
    return this.#commands;
  }

  get roundTrips(): number {
    return this.#roundTrips;
  }

  /** Ordinary commands on the wire or waiting for a slot (abandoned ones included). */
  get outstanding(): number {
    return this.#busy + this.#waiting.length;
  }

  get aerArmed(): boolean {
    return this.#aerArmed;
  }

  get maxOutstanding(): number {
    return this.#maxOutstanding;
  }

  setMaxOutstanding(n: number): void {
    this.#maxOutstanding = Math.max(1, Math.floor(n));
    this.#pump();
  }

  submit(cmd: AdminCommand): Promise<CommandResult> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    const signal = cmd.signal;
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    return new Promise<CommandResult>((resolve, reject) => {
      const entry: Entry = {
        cid: -1,
        cmd,
        buffer: new Uint8Array(cmd.dataLength ?? 0),
        resolve,
        reject,
        received: 0,
        abandoned: false,
        r2tData: undefined,
        dataError: undefined,
        cleanup: () => undefined,
        sent: false,
      };
      this.#armDeadline(entry);
      this.#waiting.push(entry);
      this.#pump();
    });
  }

  #armDeadline(entry: Entry): void {
    const cmd = entry.cmd;
    const ms = cmd.timeoutMs ?? this.#opts.defaultTimeoutMs ?? DEFAULT_ADMIN_TIMEOUT_MS;
    const deadline = new AbortController();
    let timer: TimerHandle | undefined;
    if (ms > 0) {
      timer = this.#clock.setTimeout(() => {
        timer = undefined;
        const phase = cmd.phase ?? 'admin';
        deadline.abort(
          new TimeoutError(phase, this.peer, `${this.peer}: ${cmd.name} got no completion within ${ms} ms`),
        );
      }, ms);
    }
    const signal =
      cmd.signal === undefined ? deadline.signal : AbortSignal.any([cmd.signal, deadline.signal]);
    const onAbort = (): void => {
      this.#abandon(entry, signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    (entry as { cleanup: () => void }).cleanup = () => {
      if (timer !== undefined) this.#clock.clearTimeout(timer);
      timer = undefined;
      signal.removeEventListener('abort', onAbort);
    };
  }

  /** Reject a command before its completion (deadline or caller's signal). */
  #abandon(entry: Entry, reason: unknown): void {
    if (entry.abandoned) return;
    entry.abandoned = true;
    entry.cleanup();
    const i = this.#waiting.indexOf(entry);
    if (i !== -1) this.#waiting.splice(i, 1);
    entry.reject(reason);
    if (reason instanceof TimeoutError) this.#opts.onTimeout?.(reason);
  }

  #allocCid(): number {
    for (let tries = 0; tries < AER_CID; tries++) {
      const cid = this.#nextCid;
      this.#nextCid = (this.#nextCid + 1) % AER_CID;
      if (!this.#active.has(cid)) return cid;
    }
    throw new StasError('NVME_INTERNAL', `${this.peer}: no free command identifier`);
  }

  #pump(): void {
    while (this.#failed === undefined && this.#busy < this.#maxOutstanding && this.#waiting.length > 0) {
      const entry = this.#waiting.shift() as Entry;
      this.#transmit(entry);
    }
  }

  #transmit(entry: Entry): void {
    const cid = this.#allocCid();
    (entry as { cid: number }).cid = cid;
    let sqe: Sqe;
    try {
      sqe = entry.cmd.build(cid);
    } catch (err) {
      entry.cleanup();
      entry.reject(err);
      return;
    }
    const hostData = entry.cmd.hostData;
    let data: Uint8Array | undefined;
    if (hostData !== undefined && hostData.length > 0) {
      if (hostData.length <= IN_CAPSULE_LIMIT) data = hostData;
      else {
        entry.r2tData = hostData;
        sqe = { ...sqe, sgl: sglTransportData(hostData.length) };
      }
    }
    if (this.#busy === 0) this.#roundTrips++;
    this.#busy++;
    this.#commands++;
    entry.sent = true;
    this.#active.set(cid, entry);
    this.#link.send(capsuleCmd(sqe, data)).catch(() => {
      // The connection is gone; failAll() rejects the command with the close error.
    });
  }

  /** Submit the Asynchronous Event Request (one at a time; a no-op while one is outstanding). */
  armAer(): void {
    if (this.#failed !== undefined || this.#aerArmed) return;
    this.#aerArmed = true;
    this.#commands++;
    this.#link.send(capsuleCmd(asyncEventRequestCommand({ cid: AER_CID }))).catch(() => undefined);
  }

  /** Handle a CapsuleResp, C2HData or R2T. Throws WireError for protocol violations. */
  handlePdu(pdu: Pdu): void {
    switch (pdu.type) {
      case PduType.CapsuleResp:
        this.#onCompletion(pdu.cqe);
        return;
      case PduType.C2HData: {
        const entry = this.#active.get(pdu.cccid);
        if (entry === undefined) {
          throw new WireError(
            'WIRE_UNEXPECTED_PDU',
            `${this.peer}: C2HData for CID ${pdu.cccid}, which is not outstanding`,
            {
              offset: 8,
            },
          );
        }
        const end = pdu.datao + pdu.data.length;
        if (end > entry.buffer.length) {
          throw new WireError(
            'WIRE_DATA_OUT_OF_RANGE',
            `${this.peer}: C2HData for ${entry.cmd.name} (CID ${pdu.cccid}) carries bytes ${pdu.datao}..${end} of a ${entry.buffer.length}-byte transfer`,
            { offset: 12, cid: pdu.cccid },
          );
        }
        entry.buffer.set(pdu.data, pdu.datao);
        entry.received += pdu.data.length;
        if (pdu.success)
          this.#complete(entry, {
            dw0: 0,
            dw1: 0,
            sqhd: 0,
            sqid: 0,
            cid: entry.cid,
            phase: false,
            status: statusFromValue(0),
          });
        return;
      }
      case PduType.R2T: {
        const entry = this.#active.get(pdu.cccid);
        const data = entry?.r2tData;
        if (entry === undefined || data === undefined) {
          throw new WireError(
            'WIRE_UNEXPECTED_PDU',
            `${this.peer}: R2T for CID ${pdu.cccid}, which has no data to send`,
            {
              offset: 8,
            },
          );
        }
        if (pdu.r2tl === 0 || pdu.r2to + pdu.r2tl > data.length) {
          throw new WireError(
            'WIRE_DATA_OUT_OF_RANGE',
            `${this.peer}: R2T asks for bytes ${pdu.r2to}..${pdu.r2to + pdu.r2tl} of ${data.length}`,
            { offset: 12, cid: pdu.cccid },
          );
        }
        const max = Math.max(4, this.#link.maxh2cdata);
        for (let off = pdu.r2to; off < pdu.r2to + pdu.r2tl; off += max) {
          const len = Math.min(max, pdu.r2to + pdu.r2tl - off);
          this.#link
            .send({
              type: PduType.H2CData,
              cccid: pdu.cccid,
              ttag: pdu.ttag,
              datao: off,
              last: off + len === pdu.r2to + pdu.r2tl,
              data: data.subarray(off, off + len),
            })
            .catch(() => undefined);
        }
        return;
      }
      default:
        throw new WireError(
          'WIRE_UNEXPECTED_PDU',
          `${this.peer}: unexpected ${pduTypeName(pdu.type)} from a controller`,
        );
    }
  }

  /** A C2HData failed its data digest: the command fails with Data Transfer Error. */
  handleDataDigestError(err: WireError, flags: number): void {
    const entry = err.cid === undefined ? undefined : this.#active.get(err.cid);
    if (entry === undefined) throw err;
    entry.dataError = err;
    if ((flags & PduFlag.SUCCESS) !== 0) {
      this.#complete(entry, {
        dw0: 0,
        dw1: 0,
        sqhd: 0,
        sqid: 0,
        cid: entry.cid,
        phase: false,
        status: statusFromValue(0),
      });
    }
  }

  #onCompletion(cqe: Cqe): void {
    this.#opts.onCompletion?.();
    if (cqe.cid === AER_CID && this.#aerArmed) {
      this.#aerArmed = false;
      const err = statusError(cqe.status, `${this.peer}: Asynchronous Event Request`);
      if (err === undefined) this.#opts.onAsyncEvent?.(cqe.dw0);
      else this.#opts.onAsyncEventError?.(err);
      return;
    }
    const entry = this.#active.get(cqe.cid);
    if (entry === undefined) {
      throw new WireError(
        'WIRE_UNEXPECTED_PDU',
        `${this.peer}: completion for CID ${cqe.cid}, which is not outstanding`,
        {
          offset: 20,
        },
      );
    }
    this.#complete(entry, cqe);
  }

  #complete(entry: Entry, cqe: Cqe): void {
    this.#active.delete(entry.cid);
    this.#busy--;
    entry.cleanup();
    if (!entry.abandoned) {
      entry.abandoned = true;
      if (entry.dataError !== undefined) {
        const status = statusFromValue(StatusCode.DataTransferError);
        entry.reject(
          new NvmeStatusError(
            status,
            `${this.peer}: ${entry.cmd.name} failed: ${describeStatus(status)} (data digest)`,
            {
              cause: entry.dataError,
            },
          ),
        );
      } else {
        const err = statusError(cqe.status, `${this.peer}: ${entry.cmd.name}`);
        if (err !== undefined) entry.reject(err);
        else entry.resolve({ cqe, data: entry.buffer, received: entry.received });
      }
    }
    this.#pump();
  }

  /** Reject every command (waiting, outstanding, later ones) with `err`; clear every deadline. Idempotent. */
  failAll(err: Error = new ClosedError(this.peer, `${this.peer}: admin queue closed`)): void {
    if (this.#failed !== undefined) return;
    this.#failed = err;
    this.#aerArmed = false;
    const entries = [...this.#waiting.splice(0), ...this.#active.values()];
    this.#active.clear();
    this.#busy = 0;
    for (const entry of entries) {
      entry.cleanup();
      if (!entry.abandoned) {
        entry.abandoned = true;
        entry.reject(err);
      }
    }
  }
}
