/**
 * One consumer's bounded, coalescing queue of uevent notices, consumed as an
 * async iterator (style §7.5): what UeventMonitor.watch() returns.
 *
 * - Only events of the wanted SUBSYSTEMs are queued (default `nvme`).
 * - Coalescing: an event equal to the last queued one except for SEQNUM
 *   replaces it (a burst of identical AENs becomes one); consecutive
 *   `resync-needed` notices become one.
 * - Bound: when `limit` notices are queued, the whole queue is replaced by a
 *   single `resync-needed` (`queue-overflow`): the consumer lost events and
 *   must re-read sysfs once, which makes the dropped events redundant.
 * - end() (abort, return(), monitor close) finishes the iteration normally and
 *   drops what is queued; fail(err) lets the consumer take what is queued,
 *   then makes next() reject with err. Either calls `onEnd` once.
 *
 * No I/O, no timers. Used by: uevents.ts. Tests: uevent-queue.test.ts
 */
import type { StasError } from '../errors.js';
import type { Uevent } from './uevent-parse.js';

export type UeventSourceKind = 'netlink' | 'udevadm';

export type UeventNotice =
  | { readonly kind: 'uevent'; readonly event: Uevent }
  | { readonly kind: 'resync-needed'; readonly reason: 'kernel-overflow' | 'queue-overflow' };

export interface UeventWatch extends AsyncIterableIterator<UeventNotice> {
  /** Resolves with the source once uevents are being received; rejects when none can be opened. */
  readonly ready: Promise<UeventSourceKind>;
  /** Stop watching (what `break` in for-await calls). */
  return(): Promise<IteratorResult<UeventNotice>>;
}

export const DEFAULT_QUEUE_LIMIT = 256;

export interface UeventQueueOptions {
  readonly ready: Promise<UeventSourceKind>;
  readonly subsystems?: readonly string[] | undefined;
  readonly limit?: number | undefined;
  readonly onEnd?: (queue: UeventQueue) => void;
}

function sameExceptSeqnum(a: Uevent, b: Uevent): boolean {
  if (a.action !== b.action || a.devpath !== b.devpath) return false;
  const ka = Object.keys(a.properties).filter((k) => k !== 'SEQNUM');
  const kb = Object.keys(b.properties).filter((k) => k !== 'SEQNUM');
  return ka.length === kb.length && ka.every((k) => a.properties[k] === b.properties[k]);
}

export class UeventQueue implements UeventWatch {
  readonly ready: Promise<UeventSourceKind>;
  readonly #subsystems: ReadonlySet<string>;
  readonly #limit: number;
  readonly #queue: UeventNotice[] = [];
  readonly #onEnd: ((queue: UeventQueue) => void) | undefined;
  #waiting: { resolve: (r: IteratorResult<UeventNotice>) => void; reject: (e: unknown) => void } | undefined;
  #done = false;
  #error: StasError | undefined;

  constructor(opts: UeventQueueOptions) {
    this.ready = opts.ready;
    this.#subsystems = new Set(opts.subsystems ?? ['nvme']);
    this.#limit = Math.max(1, opts.limit ?? DEFAULT_QUEUE_LIMIT);
    this.#onEnd = opts.onEnd;
  }

  /** Notices waiting to be taken. */
  get size(): number {
    return this.#queue.length;
  }

  wants(event: Uevent): boolean {
    return this.#subsystems.has(event.subsystem);
  }

  push(notice: UeventNotice): void {
    if (this.#done || this.#error !== undefined) return;
    if (this.#waiting !== undefined) {
      const { resolve } = this.#waiting;
      this.#waiting = undefined;
      resolve({ value: notice, done: false });
      return;
    }
    const last = this.#queue.at(-1);
    if (last?.kind === 'resync-needed' && notice.kind === 'resync-needed') return;
    if (last?.kind === 'uevent' && notice.kind === 'uevent' && sameExceptSeqnum(last.event, notice.event)) {
      this.#queue[this.#queue.length - 1] = notice;
      return;
    }
    if (this.#queue.length >= this.#limit) {
      this.#queue.splice(0, this.#queue.length, { kind: 'resync-needed', reason: 'queue-overflow' });
      if (notice.kind === 'resync-needed') return;
    }
    this.#queue.push(notice);
  }

  fail(err: StasError): void {
    if (this.#done || this.#error !== undefined) return;
    this.#error = err;
    if (this.#waiting !== undefined) {
      const { reject } = this.#waiting;
      this.#waiting = undefined;
      this.#finish();
      reject(err);
    }
  }

  end(): void {
    if (this.#done) return;
    this.#finish();
    this.#queue.length = 0;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.resolve({ value: undefined, done: true });
  }

  #finish(): void {
    this.#done = true;
    this.#onEnd?.(this);
  }

  next(): Promise<IteratorResult<UeventNotice>> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve({ value: queued, done: false });
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    if (this.#error !== undefined) {
      const err = this.#error;
      this.#finish();
      return Promise.reject(err);
    }
    if (this.#waiting !== undefined) {
      return Promise.reject(new Error('uevent watch: next() called while another next() is pending'));
    }
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<UeventNotice>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
