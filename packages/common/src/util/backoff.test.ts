import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, nextDelayMs } from './backoff.js';

const noJitter = { ...DEFAULT_BACKOFF, jitter: 0 };
const mid = (): number => 0.5;

describe('nextDelayMs', () => {
  it('retries fast first, then doubles up to the cap', () => {
    const delays = Array.from({ length: 10 }, (_, i) => nextDelayMs(i, noJitter, mid));
    expect(delays).toEqual([1000, 1000, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  });

  it('never exceeds the cap, even after many attempts', () => {
    expect(nextDelayMs(10_000, noJitter, mid)).toBe(60_000);
  });

  it('spreads delays by the jitter fraction', () => {
    expect(nextDelayMs(5, DEFAULT_BACKOFF, () => 0)).toBe(7200);
    expect(nextDelayMs(5, DEFAULT_BACKOFF, () => 0.999999)).toBe(8800);
    expect(nextDelayMs(5, DEFAULT_BACKOFF, mid)).toBe(8000);
  });

  it('treats negative or fractional attempts as the nearest valid one', () => {
    expect(nextDelayMs(-3, noJitter, mid)).toBe(1000);
    expect(nextDelayMs(3.7, noJitter, mid)).toBe(2000);
  });
});
