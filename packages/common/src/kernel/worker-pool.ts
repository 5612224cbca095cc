/**
 * A small pool of worker threads that run blocking system calls so that the
 * event loop never waits on the kernel (style §7.4 "Never block the loop"):
 * a /dev/nvme-fabrics write blocks until the controller is connected or has
 * failed (seconds; minutes with a dead target), and delete_controller blocks
 * through the controller's shutdown.
 *
 * - At most `size` jobs run at once, one per worker; more wait in a FIFO queue.
 * - A job's `signal` removes it from the queue (the promise rejects with the
 *   signal's reason). A job already running cannot be taken back from the
 *   kernel: its promise settles with the real result, whatever the signal,
 *   because the caller must learn whether a controller was created.
 * - Workers start on demand. An idle worker is unref'd, so the pool alone
 *   never keeps the process alive, while a running job does. A worker left
 *   idle for `idleMs` (default 30 s) ends: each Node worker carries its own
 *   isolate and heap (several MB of RSS), and a daemon that connected 16
 *   controllers at boot should not carry 16 threads for the rest of its life.
 *   The first idle worker is reused first, so in a steady trickle of jobs one
 *   worker stays and the others end. A job arriving after that starts a new
 *   worker (a few ms, negligible next to a kernel connect).
 * - A worker that throws or exits fails its job with StasError
 *   KERNEL_WORKER_FAILED and is replaced by the next job.
 * - close(): queued jobs reject with KERNEL_POOL_CLOSED, running ones finish,
 *   then the workers end. Idempotent; run() after close() rejects.
 *
 * Worker code is a plain-JavaScript string run with `eval: true`, so the same
 * code works from dist/ and under vitest (no .ts worker file to locate or
 * compile). It is built by `workerSource(handler)`: `handler` is the source of
 * a synchronous function `(request) => response` that may use `require`-free
 * built-ins through `process.getBuiltinModule` (Node ≥ 20.16). Requests and
 * responses must be structured-cloneable.
 *
 * Used by: fabrics-device.ts. Tests: worker-pool.test.ts
 */
import { Worker } from 'node:worker_threads';
import { StasError } from '../errors.js';

/** Wrap a handler function's source into a worker script (one job at a time per worker). */
export function workerSource(handler: string): string {
  return `'use strict';
const { parentPort } = process.getBuiltinModule('node:worker_threads');
const handle = (${handler});
parentPort.on('message', (job) => {
  let reply;
  try {
    reply = { id: job.id, ok: true, value: handle(job.request) };
  } catch (err) {
    reply = { id: job.id, ok: false, error: String(err && err.stack ? err.stack : err) };
  }
  parentPort.postMessage(reply);
});
`;
}

export interface WorkerPoolOptions {
  /** Worker script, see `workerSource`. */
  readonly source: string;
  /** Most jobs running at once (≥ 1). */
  readonly size: number;
  /** Name shown in thread lists and errors. */
  readonly name?: string;
  /** A worker idle this long ends; default DEFAULT_WORKER_IDLE_MS. Infinity: workers stay. */
  readonly idleMs?: number;
}

export const DEFAULT_WORKER_IDLE_MS = 30_000;

export interface RunOptions {
  readonly signal?: AbortSignal;
}

/** The signal's reason as an Error (an AbortSignal's reason may be any value). */
function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new DOMException('This operation was aborted', 'AbortError');
}

interface Job {
  readonly id: number;
  readonly request: unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

interface Slot {
  readonly worker: Worker;
  job: Job | undefined;
  /** Ends the worker once it has been idle for `idleMs`; set only while idle. */
  idleTimer: NodeJS.Timeout | undefined;
}

interface Reply {
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: string;
}

function isReply(value: unknown): value is Reply {
  return typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'number';
}

export interface WorkerPoolStats {
  readonly running: number;
  readonly queued: number;
  /** Workers alive now (busy or idle). */
  readonly workers: number;
  /** Workers ended so far because they were idle for `idleMs`. */
  readonly retired: number;
}

export class WorkerPool {
  readonly #source: string;
  readonly #size: number;
  readonly #name: string;
  readonly #idleMs: number;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  #nextId = 1;
  #retired = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #drained = new Set<() => void>();

  constructor(opts: WorkerPoolOptions) {
    if (!Number.isSafeInteger(opts.size) || opts.size < 1)
      throw new RangeError(`pool size must be ≥ 1, got ${opts.size}`);
    this.#source = opts.source;
    this.#size = opts.size;
    this.#name = opts.name ?? 'stas-worker';
    const idleMs = opts.idleMs ?? DEFAULT_WORKER_IDLE_MS;
    if (Number.isNaN(idleMs) || idleMs < 0) throw new RangeError(`idleMs must be ≥ 0, got ${idleMs}`);
    this.#idleMs = idleMs;
  }

  get stats(): WorkerPoolStats {
    return {
      running: this.#slots.filter((s) => s.job !== undefined).length,
      queued: this.#queue.length,
      workers: this.#slots.length,
      retired: this.#retired,
    };
  }

  /** Run one request on a worker; resolves with the handler's return value. */
  run(request: unknown, opts: RunOptions = {}): Promise<unknown> {
    if (this.#closed)
      return Promise.reject(new StasError('KERNEL_POOL_CLOSED', `${this.#name}: the pool is closed`));
    const { signal } = opts;
    if (signal?.aborted === true) return Promise.reject(abortError(signal));
    return new Promise((resolve, reject) => {
      const job: Job = {
        id: this.#nextId++,
        request,
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.#queue.indexOf(job);
          if (at === -1) return; // already running: it settles with the kernel's answer
          this.#queue.splice(at, 1);
          reject(abortError(signal));
        },
      };
      signal?.addEventListener('abort', job.onAbort, { once: true });
      this.#queue.push(job);
      this.#dispatch();
    });
  }

  /** Stop taking jobs, fail the queued ones, wait for running ones, end the workers. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    for (const job of this.#queue.splice(0)) {
      job.signal?.removeEventListener('abort', job.onAbort);
      job.reject(new StasError('KERNEL_POOL_CLOSED', `${this.#name}: the pool closed before the job ran`));
    }
    this.#closing = (async () => {
      while (this.#slots.some((s) => s.job !== undefined)) {
        await new Promise<void>((resolve) => this.#drained.add(resolve));
      }
      const slots = this.#slots.splice(0);
      for (const s of slots) clearTimeout(s.idleTimer);
      await Promise.all(slots.map((s) => s.worker.terminate()));
    })();
    return this.#closing;
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const slot = this.#slots.find((s) => s.job === undefined) ?? this.#spawn();
      if (slot === undefined) return;
      const job = this.#queue.shift();
      if (job === undefined) return;
      job.signal?.removeEventListener('abort', job.onAbort);
      clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, request: job.request });
    }
  }

  #spawn(): Slot | undefined {
    if (this.#slots.length >= this.#size) return undefined;
    const worker = new Worker(this.#source, {
      eval: true,
      // No inherited loader flags (vitest, --input-type): the script is plain JavaScript.
      execArgv: [],
      name: this.#name,
      stdout: false,
      stderr: false,
    });
    const slot: Slot = { worker, job: undefined, idleTimer: undefined };
    worker.on('message', (message: unknown) => {
      this.#settle(slot, message);
    });
    worker.on('error', (err: unknown) => {
      this.#fail(slot, err);
    });
    worker.on('exit', (code: number) => {
      this.#fail(slot, new Error(`worker exited with code ${code}`));
    });
    this.#slots.push(slot);
    return slot;
  }

  #settle(slot: Slot, message: unknown): void {
    const job = slot.job;
    if (job === undefined || !isReply(message) || message.id !== job.id) return;
    slot.job = undefined;
    slot.worker.unref();
    if (message.ok) {
      job.resolve(message.value);
    } else {
      job.reject(
        new StasError('KERNEL_WORKER_FAILED', `${this.#name}: the job threw: ${message.error ?? ''}`),
      );
    }
    this.#afterJob();
    this.#retireWhenIdle(slot); // after the queue was served: only if the slot is still idle
  }

  #fail(slot: Slot, err: unknown): void {
    const at = this.#slots.indexOf(slot);
    if (at === -1) return;
    this.#slots.splice(at, 1);
    const job = slot.job;
    slot.job = undefined;
    clearTimeout(slot.idleTimer);
    void slot.worker.terminate();
    if (job !== undefined) {
      job.reject(new StasError('KERNEL_WORKER_FAILED', `${this.#name}: the worker failed`, { cause: err }));
    }
    this.#afterJob();
  }

  /** Arm the idle timer of a slot left idle after its job (a job taken later disarms it). */
  #retireWhenIdle(slot: Slot): void {
    if (this.#closed || !Number.isFinite(this.#idleMs) || slot.job !== undefined) return;
    clearTimeout(slot.idleTimer);
    slot.idleTimer = setTimeout(() => {
      slot.idleTimer = undefined;
      const at = this.#slots.indexOf(slot);
      if (at === -1 || slot.job !== undefined) return;
      this.#slots.splice(at, 1); // its 'exit' event then finds no slot: not a failure
      this.#retired++;
      void slot.worker.terminate();
    }, this.#idleMs);
    slot.idleTimer.unref();
  }

  #afterJob(): void {
    for (const resolve of this.#drained) resolve();
    this.#drained.clear();
    if (!this.#closed) this.#dispatch();
  }
}
