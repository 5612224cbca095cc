import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../../errors.js';
import { FakeClock } from './fake-clock.js';
import { KeepAlive, keepAliveIntervalMs } from './keep-alive.js';

interface Harness {
  clock: FakeClock;
  ka: KeepAlive;
  sends: number[];
  failures: unknown[];
  /** Complete (or fail) the oldest outstanding Keep Alive. */
  answer(err?: Error): void;
}

function harness(katoMs: number, opts: { tbkas?: boolean; autoAnswer?: boolean } = {}): Harness {
  const clock = new FakeClock();
  const sends: number[] = [];
  const failures: unknown[] = [];
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const ka = new KeepAlive({
    katoMs,
    tbkas: opts.tbkas ?? false,
    peer: '192.0.2.1:8009',
    clock,
    send: () => {
      sends.push(clock.now());
      if (opts.autoAnswer !== false) return Promise.resolve();
      return new Promise((resolve, reject) => pending.push({ resolve, reject }));
    },
    onFailure: (err) => failures.push(err),
  });
  return {
    clock,
    ka,
    sends,
    failures,
    answer: (err) => {
      const p = pending.shift();
      if (err === undefined) p?.resolve();
      else p?.reject(err);
    },
  };
}

describe('keepAliveIntervalMs', () => {
  it('is KATO/2, or KATO/4 with traffic-based keep alive', () => {
    expect(keepAliveIntervalMs(30_000)).toBe(15_000);
    expect(keepAliveIntervalMs(30_000, true)).toBe(7500);
    expect(keepAliveIntervalMs(1000)).toBe(500);
  });
});

describe('KeepAlive', () => {
  it('sends a Keep Alive every KATO/2, sustained over several KATO periods', async () => {
    const h = harness(2000);
    h.ka.start();
    await h.clock.advance(10_000);
    expect(h.sends).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000]);
    expect(h.failures).toEqual([]);
    h.ka.stop();
    expect(h.clock.pending).toBe(0);
  });

  it('is not moved by other traffic without TBKAS (as Linux)', async () => {
    const h = harness(2000);
    h.ka.start();
    await h.clock.advance(900);
    h.ka.noteCompletion();
    await h.clock.advance(200);
    expect(h.sends).toEqual([1000]);
    h.ka.stop();
  });

  it('with TBKAS ticks at KATO/4 and skips a tick when a completion was seen', async () => {
    const h = harness(4000, { tbkas: true });
    h.ka.start();
    await h.clock.advance(500);
    h.ka.noteCompletion();
    await h.clock.advance(1500); // tick at 1000 skipped, tick at 2000 sends
    expect(h.sends).toEqual([2000]);
    expect(h.ka.skipped).toBe(1);
    h.ka.stop();
  });

  it('does nothing with KATO 0', async () => {
    const h = harness(0);
    h.ka.start();
    await h.clock.advance(60_000);
    expect(h.sends).toEqual([]);
    expect(h.ka.running).toBe(false);
    expect(h.clock.pending).toBe(0);
  });

  it("declares KATO expiry (TimeoutError phase 'kato') when a Keep Alive gets no completion within KATO", async () => {
    const h = harness(2000, { autoAnswer: false });
    h.ka.start();
    await h.clock.advance(1000);
    expect(h.sends).toEqual([1000]);
    await h.clock.advance(1999);
    expect(h.failures).toEqual([]);
    expect(h.sends).toEqual([1000]); // no second Keep Alive while one is outstanding
    await h.clock.advance(1);
    expect(h.failures).toHaveLength(1);
    const err = h.failures[0];
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'NVME_TIMEOUT', phase: 'kato', peer: '192.0.2.1:8009' });
    expect(h.ka.running).toBe(false);
    expect(h.clock.pending).toBe(0);
  });

  it('reports a failed Keep Alive once and stops', async () => {
    const h = harness(2000, { autoAnswer: false });
    h.ka.start();
    await h.clock.advance(1000);
    const boom = new Error('closed');
    h.answer(boom);
    await h.clock.advance(5000);
    expect(h.failures).toEqual([boom]);
    expect(h.clock.pending).toBe(0);
  });

  it('clears the expiry timer when the completion arrives in time', async () => {
    const h = harness(2000, { autoAnswer: false });
    h.ka.start();
    await h.clock.advance(1000);
    h.answer();
    await h.clock.advance(999);
    expect(h.clock.pending).toBe(1); // only the next tick
    expect(h.failures).toEqual([]);
    h.ka.stop();
  });
});
