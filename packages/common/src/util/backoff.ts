/**
 * Retry delays: pure, capped, with jitter from an injected random source.
 *
 * The first few retries are fast because a DC announced over mDNS (or a
 * controller just linked on the target) often advertises a moment before it
 * listens; later retries slow down to `capMs` so a dead peer costs little.
 * Delay n (0-based) is `fastMs` for the first `fastAttempts` attempts, then
 * doubles from `baseMs` up to `capMs`; jitter spreads it by ±`jitter`
 * (a fraction) so that many hosts do not retry in lockstep.
 *
 * Tests: backoff.test.ts
 */
export interface BackoffPolicy {
  readonly fastMs: number;
  readonly fastAttempts: number;
  readonly baseMs: number;
  readonly capMs: number;
  /** 0..1: the delay is multiplied by a factor drawn from [1 - jitter, 1 + jitter]. */
  readonly jitter: number;
}

/** stafd's and stacd's default: 3 quick retries 1 s apart, then 2, 4, 8 … 60 s. */
export const DEFAULT_BACKOFF: BackoffPolicy = {
  fastMs: 1000,
  fastAttempts: 3,
  baseMs: 2000,
  capMs: 60_000,
  jitter: 0.1,
};

/** Delay before retry number `attempt` (0 = the first retry). `random` returns [0, 1). */
export function nextDelayMs(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const n = Math.max(0, Math.floor(attempt));
  let delay: number;
  if (n < policy.fastAttempts) delay = policy.fastMs;
  else {
    const doublings = Math.min(n - policy.fastAttempts, 30);
    delay = Math.min(policy.capMs, policy.baseMs * 2 ** doublings);
  }
  const factor = 1 + policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(delay * factor));
}
