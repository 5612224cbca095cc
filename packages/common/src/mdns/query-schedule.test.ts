import { describe, expect, it } from 'vitest';
import { DEFAULT_REQUERY, firstQueryDelayMs, refreshAt, requeryDelayMs } from './query-schedule.js';

describe('query schedule', () => {
  it('sends the first query after 20 to 120 ms', () => {
    expect(firstQueryDelayMs(() => 0)).toBe(20);
    expect(firstQueryDelayMs(() => 0.5)).toBe(70);
    expect(firstQueryDelayMs(() => 0.999999)).toBe(120);
    expect(firstQueryDelayMs(() => 7)).toBe(120);
  });

  it('doubles the interval from 1 s and caps it at 60 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 100].map((n) => requeryDelayMs(n))).toEqual([
      1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000,
    ]);
    expect(requeryDelayMs(0)).toBe(1000);
  });

  it('follows another policy when given one', () => {
    expect(requeryDelayMs(3, { ...DEFAULT_REQUERY, baseMs: 100, capMs: 250 })).toBe(250);
  });

  it('refreshes at 80, 85, 90 and 95 % of the TTL plus up to 2 % jitter, then no more', () => {
    expect([0, 1, 2, 3].map((i) => refreshAt(1000, 100, i, () => 0))).toEqual([
      81_000, 86_000, 91_000, 96_000,
    ]);
    expect(refreshAt(0, 100, 0, () => 1)).toBe(82_000);
    expect(refreshAt(0, 100, 4, () => 0)).toBeUndefined();
  });
});
