import { describe, expect, it } from 'vitest';
import { CallLimiter } from './call-limiter.js';

describe('CallLimiter', () => {
  it('starts up to max requests at once and the rest in FIFO order as slots free up', () => {
    const limiter = new CallLimiter(2);
    const started: number[] = [];
    const releases: (() => void)[] = [];
    for (let i = 0; i < 5; i++) {
      limiter.request((release) => {
        started.push(i);
        releases.push(release);
      });
    }
    expect(started).toEqual([0, 1]);
    expect([limiter.active, limiter.queued]).toEqual([2, 3]);
    releases[1]!();
    expect(started).toEqual([0, 1, 2]);
    releases[0]!();
    releases[2]!();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect([limiter.active, limiter.queued]).toEqual([2, 0]);
  });

  it('ignores a second release of the same slot', () => {
    const limiter = new CallLimiter(1);
    let release: () => void = () => undefined;
    limiter.request((r) => (release = r));
    let second = false;
    limiter.request(() => (second = true));
    let third = false;
    limiter.request(() => (third = true));
    release();
    release();
    expect([second, third, limiter.active]).toEqual([true, false, 1]);
  });

  it('drops a cancelled queued request, and cancelling a started one does nothing', () => {
    const limiter = new CallLimiter(1);
    let release: () => void = () => undefined;
    const cancelFirst = limiter.request((r) => (release = r));
    let ran = false;
    const cancel = limiter.request(() => (ran = true));
    cancel();
    cancelFirst();
    expect(limiter.queued).toBe(0);
    release();
    expect([ran, limiter.active]).toEqual([false, 0]);
  });

  it('rejects a limit below 1', () => {
    expect(() => new CallLimiter(0)).toThrow(RangeError);
  });
});
