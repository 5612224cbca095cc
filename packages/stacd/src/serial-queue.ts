/**
 * Runs async jobs in lanes: jobs of one lane run one after another, in the
 * order they were added; jobs of different lanes run side by side, at most
 * `concurrency` at once. The executor uses one lane per controller identity,
 * so a disconnect never overtakes a connect of the same controller (the
 * CtrlTerminator lesson, behaviour spec §6.8, built in).
 *
 * No I/O of its own; never rejects for a job (a job's rejection is returned
 * to its caller only). `close()` refuses new jobs, drops queued ones (their
 * promises reject with StasError STACD_QUEUE_CLOSED) and waits for running ones.
 *
 * Used by: execute.ts. Tests: serial-queue.test.ts
 */
import { StasError } from '@stas/common/errors';

interface Job {
  readonly run: () => Promise<void>;
  readonly drop: () => void;
}

export class SerialQueue {
  readonly #concurrency: number;
  readonly #lanes = new Map<string, Job[]>();
  readonly #busyLanes = new Set<string>();
  readonly #ready: string[] = [];
  readonly #idleWaiters: (() => void)[] = [];
  #running = 0;
  #closed = false;

  constructor(concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError(`bad concurrency ${concurrency}`);
    this.#concurrency = concurrency;
  }

  /** Jobs queued or running. */
  get size(): number {
    let n = this.#running;
    for (const jobs of this.#lanes.values()) n += jobs.length;
    return n;
  }

  /** Add a job to `lane`; resolves or rejects with the job's own result. */
  run<T>(lane: string, job: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StasError('STACD_QUEUE_CLOSED', 'the executor is closed'));
    return new Promise<T>((resolve, reject) => {
      const jobs = this.#lanes.get(lane) ?? [];
      jobs.push({
        run: () => job().then(resolve, reject),
        drop: () => {
          reject(new StasError('STACD_QUEUE_CLOSED', 'the executor closed before this job ran'));
        },
      });
      this.#lanes.set(lane, jobs);
      if (!this.#busyLanes.has(lane) && !this.#ready.includes(lane)) this.#ready.push(lane);
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#ready.length > 0) {
      const lane = this.#ready.shift();
      if (lane === undefined) break;
      const jobs = this.#lanes.get(lane);
      const job = jobs?.shift();
      if (jobs !== undefined && jobs.length === 0) this.#lanes.delete(lane);
      if (job === undefined) continue;
      this.#running++;
      this.#busyLanes.add(lane);
      void job.run().finally(() => {
        this.#running--;
        this.#busyLanes.delete(lane);
        if (this.#lanes.has(lane)) this.#ready.push(lane);
        this.#pump();
        this.#checkIdle();
      });
    }
  }

  #checkIdle(): void {
    if (this.size > 0) return;
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Refuse new jobs, drop queued ones, wait for the running ones. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const dropped = [...this.#lanes.values()].flat();
    this.#lanes.clear();
    this.#ready.length = 0;
    for (const job of dropped) job.drop();
    this.#checkIdle();
    await this.idle();
  }
}
