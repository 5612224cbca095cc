/**
 * Creating and deleting kernel NVMe-oF controllers: connect strings written
 * to /dev/nvme-fabrics, `1` written to /sys/class/nvme/<dev>/delete_controller,
 * and the option-list probe (wire digest §9.1, §9.2).
 *
 * The `FabricsDevice` interface is what the daemons depend on; tests give them
 * `FakeFabricsDevice` (testing/fake-fabrics.ts). `KernelFabricsDevice` does the
 * real system calls on a WorkerPool, because each of them blocks in the
 * kernel for as long as connecting or shutting down takes.
 *
 * How many at once (DEFAULT_FABRICS_CONCURRENCY = 16, the same as stacd's
 * executor): Linux serialises /dev/nvme-fabrics writes under one global mutex
 * (nvmf_dev_mutex in drivers/nvme/host/fabrics.c, held across
 * nvmf_create_ctrl), so on today's kernels parallel connect writes simply
 * queue in the kernel, and a wider pool does not make connects faster. It
 * still pays: delete_controller is not under that mutex, so disconnects (and
 * the shutdowns they wait for) overlap; a connect hung on a dead target holds
 * one thread, not the queue of unrelated work behind it; and a kernel that
 * drops the global lock gets the parallelism without a stas change. 16 bounds
 * what the daemon can have outstanding in the kernel and the threads it may
 * start (each worker is a Node isolate, several MB); the pool ends workers
 * idle for 30 s (`workerIdleMs`), so an idle daemon does not carry them.
 *
 * Outcomes are values (fabrics-outcome.ts): every errno becomes a typed
 * ConnectOutcome/DisconnectOutcome, EALREADY is `already-connected` (ok). Only
 * a broken pool (worker crash, closed pool) or an aborted queued request
 * rejects. `signal` withdraws a request that is still queued; once written,
 * a connect runs to its end and its outcome is returned (a controller it
 * created must not go unnoticed).
 *
 * What this module does not do: serialise per TID, retry, or decide anything;
 * the executors do. The kernel itself serialises fabrics writes.
 *
 * Tests: fabrics-device.test.ts (real worker path on stand-in files and FIFOs);
 * the real device in test/e2e/kernel-interface.e2e.test.ts.
 */
import { release } from 'node:os';
import { join } from 'node:path';
import { StasError } from '../errors.js';
import type { FabricsWorkerReply, FabricsWorkerRequest } from './fabrics-worker.js';
import { FABRICS_WORKER_SOURCE, isFabricsWorkerReply } from './fabrics-worker.js';
import type { FabricsOptionSet } from './fabrics-options.js';
import { fabricsOptionsFromRead } from './fabrics-options.js';
import type { ConnectOutcome, DeviceName, DisconnectOutcome } from './fabrics-outcome.js';
import {
  connectOutcomeFromErrno,
  connectOutcomeFromReply,
  disconnectOutcome,
  errnoName,
  isDeviceName,
} from './fabrics-outcome.js';
import { WorkerPool } from './worker-pool.js';

export interface FabricsRequestOptions {
  /** Withdraws the request while it waits for a worker (the promise rejects with the reason). */
  readonly signal?: AbortSignal;
}

export interface FabricsDevice {
  /** Write one connect string (connect-args.ts `text`) and read the kernel's answer. */
  connect(text: string, opts?: FabricsRequestOptions): Promise<ConnectOutcome>;
  /** Delete a controller (shutdown, disconnect, remove). */
  disconnect(device: DeviceName, opts?: FabricsRequestOptions): Promise<DisconnectOutcome>;
  /**
   * The connect options the kernel understands. Rejects with StasError
   * KERNEL_FABRICS_UNAVAILABLE when the device cannot be read at all
   * (module not loaded, no permission).
   */
  probeOptions(opts?: FabricsRequestOptions): Promise<FabricsOptionSet>;
  /** Finish running requests, refuse new ones. Idempotent. */
  close(): Promise<void>;
}

export interface KernelFabricsDeviceOptions {
  /** /dev/nvme-fabrics (StasPaths.fabricsDevice). */
  readonly fabricsDevice: string;
  /** sysfs mount (StasPaths.sys). */
  readonly sys: string;
  /** Requests running at once; default DEFAULT_FABRICS_CONCURRENCY. */
  readonly concurrency?: number;
  /** A worker thread idle this long ends; default DEFAULT_WORKER_IDLE_MS (30 s). */
  readonly workerIdleMs?: number;
  /** Kernel release for the classic option set (default: os.release()). */
  readonly release?: string;
}

export const DEFAULT_FABRICS_CONCURRENCY = 16;

/** `<sys>/class/nvme/<device>/delete_controller`. */
export function deleteControllerPath(sys: string, device: DeviceName): string {
  return join(sys, 'class', 'nvme', device, 'delete_controller');
}

export class KernelFabricsDevice implements FabricsDevice {
  readonly #pool: WorkerPool;
  readonly #fabricsDevice: string;
  readonly #sys: string;
  readonly #release: string;

  constructor(opts: KernelFabricsDeviceOptions) {
    this.#fabricsDevice = opts.fabricsDevice;
    this.#sys = opts.sys;
    this.#release = opts.release ?? release();
    this.#pool = new WorkerPool({
      source: FABRICS_WORKER_SOURCE,
      size: opts.concurrency ?? DEFAULT_FABRICS_CONCURRENCY,
      name: 'stas-fabrics',
      ...(opts.workerIdleMs === undefined ? {} : { idleMs: opts.workerIdleMs }),
    });
  }

  async #run(
    request: FabricsWorkerRequest,
    opts: FabricsRequestOptions | undefined,
  ): Promise<FabricsWorkerReply> {
    const reply = await this.#pool.run(request, { signal: opts?.signal });
    if (!isFabricsWorkerReply(reply)) {
      throw new StasError('KERNEL_WORKER_FAILED', 'stas-fabrics: malformed reply from the worker');
    }
    return reply;
  }

  async connect(text: string, opts?: FabricsRequestOptions): Promise<ConnectOutcome> {
    const reply = await this.#run({ op: 'connect', path: this.#fabricsDevice, text }, opts);
    if (!reply.ok)
      return connectOutcomeFromErrno(reply.errno, reply.stage, `${this.#fabricsDevice}: ${reply.code}`);
    return connectOutcomeFromReply(reply.text);
  }

  async disconnect(device: DeviceName, opts?: FabricsRequestOptions): Promise<DisconnectOutcome> {
    if (!isDeviceName(device)) {
      throw new StasError('KERNEL_BAD_DEVICE_NAME', `not a controller name: ${JSON.stringify(device)}`);
    }
    const path = deleteControllerPath(this.#sys, device);
    const reply = await this.#run({ op: 'write', path, data: '1' }, opts);
    return disconnectOutcome(reply.ok ? undefined : reply.errno, path);
  }

  async probeOptions(opts?: FabricsRequestOptions): Promise<FabricsOptionSet> {
    const reply = await this.#run({ op: 'read', path: this.#fabricsDevice }, opts);
    const read = reply.ok
      ? { ok: true as const, text: reply.text }
      : { ok: false as const, errno: errnoName(reply.errno) };
    const set = fabricsOptionsFromRead(read, this.#release);
    if (set === null) {
      const errno = reply.ok ? '' : errnoName(reply.errno);
      throw new StasError('KERNEL_FABRICS_UNAVAILABLE', `cannot read ${this.#fabricsDevice}: ${errno}`);
    }
    return set;
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
