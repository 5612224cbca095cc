import { afterEach, describe, expect, it, vi } from 'vitest';
import { StasError } from '../errors.js';
import { WorkerPool, workerSource } from './worker-pool.js';

// Slots of the shared Int32Array: 0 = jobs running now, 1 = most at once, 2 = always 0 (sleep target),
// 3 = jobs finished, 4 = release flag for 'hold' jobs.
const HANDLER = `function (req) {
  const ia = new Int32Array(req.sab);
  switch (req.op) {
    case 'double':
      return req.value * 2;
    case 'track': {
      const now = Atomics.add(ia, 0, 1) + 1;
      for (;;) {
        const max = Atomics.load(ia, 1);
        if (max >= now || Atomics.compareExchange(ia, 1, max, now) === max) break;
      }
      Atomics.wait(ia, 2, 0, req.ms);
      Atomics.sub(ia, 0, 1);
      Atomics.add(ia, 3, 1);
      return 'tracked';
    }
    case 'sleep':
      Atomics.wait(ia, 2, 0, req.ms);
      return 'slept';
    case 'hold':
      Atomics.add(ia, 0, 1);
      Atomics.wait(ia, 4, 0, 10000);
      Atomics.add(ia, 3, 1);
      return 'released';
    case 'throw':
      throw new Error('boom');
    case 'exit':
      process.exit(3);
  }
  return null;
}`;

const pools: WorkerPool[] = [];
function pool(size: number, idleMs?: number): WorkerPool {
  const p = new WorkerPool({
    source: workerSource(HANDLER),
    size,
    name: 'test-pool',
    ...(idleMs === undefined ? {} : { idleMs }),
  });
  pools.push(p);
  return p;
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function shared(): { sab: SharedArrayBuffer; ia: Int32Array } {
  const sab = new SharedArrayBuffer(5 * 4);
  return { sab, ia: new Int32Array(sab) };
}

function release(ia: Int32Array): void {
  Atomics.store(ia, 4, 1);
  Atomics.notify(ia, 4);
}

/** Resolves once `ia[index]` reaches `value` (the worker has started a job). */
async function until(ia: Int32Array, index: number, value: number): Promise<void> {
  while (Atomics.load(ia, index) < value) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('WorkerPool', () => {
  it('runs a request on a worker and returns its result', async () => {
    const p = pool(2);
    const { sab } = shared();
    await expect(p.run({ op: 'double', value: 21, sab })).resolves.toBe(42);
  });

  it('never runs more jobs at once than its size (10 jobs, size 2)', async () => {
    const p = pool(2);
    const { sab, ia } = shared();
    const jobs = Array.from({ length: 10 }, () => p.run({ op: 'track', ms: 20, sab }));
    expect(p.stats).toEqual({ running: 2, queued: 8, workers: 2, retired: 0 });
    await expect(Promise.all(jobs)).resolves.toEqual(new Array(10).fill('tracked'));
    expect(Atomics.load(ia, 1)).toBe(2);
    expect(Atomics.load(ia, 3)).toBe(10);
    expect(p.stats).toEqual({ running: 0, queued: 0, workers: 2, retired: 0 });
  });

  it('keeps the event loop running while a worker is blocked in the kernel (Atomics.wait stands in)', async () => {
    // Deterministic, no timing: the worker blocks until the MAIN thread releases it, and the main
    // thread only releases it after its own timers have run 20 times while the job was in flight.
    // A pool that blocked the loop would never get there (the job would time out at 10 s instead).
    const p = pool(1);
    const { sab, ia } = shared();
    const job = p.run({ op: 'hold', sab });
    let ticksWhileBlocked = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (Atomics.load(ia, 0) === 1 && Atomics.load(ia, 3) === 0) ticksWhileBlocked += 1;
        if (ticksWhileBlocked >= 20) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    expect(Atomics.load(ia, 3)).toBe(0);
    Atomics.store(ia, 4, 1);
    Atomics.notify(ia, 4);
    expect(await job).toBe('released');
    expect(ticksWhileBlocked).toBe(20);
  }, 20_000);

  it('withdraws a queued job when its signal aborts, without running it', async () => {
    const p = pool(1);
    const { sab, ia } = shared();
    const running = p.run({ op: 'hold', sab });
    await until(ia, 0, 1);
    const controller = new AbortController();
    const queued = p.run({ op: 'hold', sab }, { signal: controller.signal });
    expect(p.stats.queued).toBe(1);
    controller.abort();
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    expect(p.stats.queued).toBe(0);
    release(ia);
    await expect(running).resolves.toBe('released');
    expect(Atomics.load(ia, 3)).toBe(1);
  });

  it('lets a running job finish with its real result when its signal aborts', async () => {
    const p = pool(1);
    const { sab, ia } = shared();
    const controller = new AbortController();
    const running = p.run({ op: 'hold', sab }, { signal: controller.signal });
    await until(ia, 0, 1);
    controller.abort();
    release(ia);
    await expect(running).resolves.toBe('released');
  });

  it('rejects at once for a signal that is already aborted', async () => {
    const p = pool(1);
    const { sab } = shared();
    await expect(
      p.run({ op: 'double', value: 1, sab }, { signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(p.stats.workers).toBe(0);
  });

  it('turns a throwing handler into KERNEL_WORKER_FAILED and keeps working', async () => {
    const p = pool(1);
    const { sab } = shared();
    await expect(p.run({ op: 'throw', sab })).rejects.toMatchObject({ code: 'KERNEL_WORKER_FAILED' });
    await expect(p.run({ op: 'double', value: 2, sab })).resolves.toBe(4);
  });

  it('replaces a worker that exits in the middle of a job', async () => {
    const p = pool(1);
    const { sab } = shared();
    const err: unknown = await p.run({ op: 'exit', sab }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StasError);
    expect((err as StasError).code).toBe('KERNEL_WORKER_FAILED');
    await expect(p.run({ op: 'double', value: 3, sab })).resolves.toBe(6);
    expect(p.stats.workers).toBe(1);
  });

  it('on close fails queued jobs, lets the running one finish, then refuses new ones', async () => {
    const p = pool(1);
    const { sab, ia } = shared();
    const running = p.run({ op: 'hold', sab });
    await until(ia, 0, 1);
    const queued = p.run({ op: 'double', value: 1, sab });
    const closing = p.close();
    await expect(queued).rejects.toMatchObject({ code: 'KERNEL_POOL_CLOSED' });
    release(ia);
    await expect(running).resolves.toBe('released');
    await closing;
    expect(p.stats.workers).toBe(0);
    await expect(p.run({ op: 'double', value: 1, sab })).rejects.toMatchObject({
      code: 'KERNEL_POOL_CLOSED',
    });
    await expect(p.close()).resolves.toBeUndefined();
  });

  it('refuses a size below 1', () => {
    expect(() => new WorkerPool({ source: workerSource(HANDLER), size: 0 })).toThrow(RangeError);
  });

  it('refuses a negative idle time', () => {
    expect(() => new WorkerPool({ source: workerSource(HANDLER), size: 1, idleMs: -1 })).toThrow(RangeError);
  });
});

describe('WorkerPool: idle workers end', () => {
  // Real timers here: the pool's own idle timer ends the worker; vi.waitFor only bounds the wait.
  it('ends a worker idle for idleMs, and starts a new one for the next job', async () => {
    const p = pool(2, 10);
    const { sab } = shared();
    await expect(p.run({ op: 'double', value: 4, sab })).resolves.toBe(8);
    await vi.waitFor(
      () => {
        expect(p.stats.retired).toBe(1);
      },
      { timeout: 5000, interval: 5 },
    );
    expect(p.stats.workers).toBe(0);
    await expect(p.run({ op: 'double', value: 5, sab })).resolves.toBe(10);
    expect(p.stats).toMatchObject({ workers: 1, retired: 1 });
    await vi.waitFor(
      () => {
        expect(p.stats.retired).toBe(2);
      },
      { timeout: 5000, interval: 5 },
    );
  });

  // Fake setTimeout from here on: the idle clock is driven by hand; the workers themselves are real.
  it('never ends a worker while it runs a job, however long', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const p = pool(1, 1000);
    const { sab, ia } = shared();
    const job = p.run({ op: 'hold', sab });
    await until(ia, 0, 1);
    vi.advanceTimersByTime(60_000);
    expect(p.stats).toMatchObject({ running: 1, workers: 1, retired: 0 });
    release(ia);
    await expect(job).resolves.toBe('released');
    vi.advanceTimersByTime(999);
    expect(p.stats).toMatchObject({ workers: 1, retired: 0 });
    vi.advanceTimersByTime(1);
    expect(p.stats).toMatchObject({ workers: 0, retired: 1 });
  });

  it('restarts the idle clock when a worker takes a new job', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const p = pool(1, 1000);
    const { sab } = shared();
    await p.run({ op: 'double', value: 1, sab });
    vi.advanceTimersByTime(900);
    await p.run({ op: 'double', value: 2, sab });
    vi.advanceTimersByTime(900);
    expect(p.stats).toMatchObject({ workers: 1, retired: 0 });
    vi.advanceTimersByTime(100);
    expect(p.stats).toMatchObject({ workers: 0, retired: 1 });
  });

  it('after a burst, keeps only the workers a trickle of jobs still needs', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const p = pool(4, 1000);
    const { sab, ia } = shared();
    const burst = Array.from({ length: 4 }, () => p.run({ op: 'hold', sab }));
    await until(ia, 0, 4);
    release(ia);
    await Promise.all(burst);
    expect(p.stats.workers).toBe(4);
    for (let i = 0; i < 3; i += 1) {
      vi.advanceTimersByTime(500);
      await p.run({ op: 'double', value: i, sab });
    }
    expect(p.stats).toMatchObject({ workers: 1, retired: 3 });
  });

  it('keeps idle workers for good with idleMs Infinity', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const p = pool(1, Infinity);
    const { sab } = shared();
    await p.run({ op: 'double', value: 1, sab });
    vi.advanceTimersByTime(24 * 3600_000);
    expect(p.stats).toMatchObject({ workers: 1, retired: 0 });
  });
});
