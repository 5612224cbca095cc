/**
 * When the embedded mDNS browser asks again (RFC 6762 §5.2, continuous querying): the first query of
 * an interface goes out after a random 20-120 ms (so hosts that start together do not collide), then
 * the interval doubles from 1 s up to a cap (RFC 6762 allows up to 60 min; stafd uses 60 s, so that a
 * DC whose announcements were lost is found within a minute). A new or changed interface starts the
 * schedule again. Cache refreshes at 80/85/90/95 % of a record's TTL (RFC 6762 §5.2) plus up to 2 %
 * jitter.
 *
 * Pure: randomness is injected (`random` returns [0, 1)). Tests: query-schedule.test.ts
 */
export interface RequeryPolicy {
  readonly firstMinMs: number;
  readonly firstMaxMs: number;
  readonly baseMs: number;
  readonly capMs: number;
}

export const DEFAULT_REQUERY: RequeryPolicy = {
  firstMinMs: 20,
  firstMaxMs: 120,
  baseMs: 1000,
  capMs: 60_000,
};

/** Delay before the first query on an interface. */
export function firstQueryDelayMs(random: () => number, policy: RequeryPolicy = DEFAULT_REQUERY): number {
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(policy.firstMinMs + r * (policy.firstMaxMs - policy.firstMinMs));
}

/** Delay after query number `sent` (1 = after the first query) before the next one. */
export function requeryDelayMs(sent: number, policy: RequeryPolicy = DEFAULT_REQUERY): number {
  const doublings = Math.min(Math.max(0, Math.floor(sent) - 1), 30);
  return Math.min(policy.capMs, policy.baseMs * 2 ** doublings);
}

/** Fractions of the TTL at which a cached record is refreshed (RFC 6762 §5.2). */
export const REFRESH_FRACTIONS = [0.8, 0.85, 0.9, 0.95] as const;

/**
 * When refresh number `index` (0..3) of a record received at `receivedAt` with `ttlS` seconds is
 * due, or undefined when all refreshes are used up. Jitter adds 0-2 % of the TTL.
 */
export function refreshAt(
  receivedAt: number,
  ttlS: number,
  index: number,
  random: () => number,
): number | undefined {
  const fraction = REFRESH_FRACTIONS[index];
  if (fraction === undefined) return undefined;
  const jitter = Math.min(Math.max(random(), 0), 1) * 0.02;
  return receivedAt + Math.round(ttlS * 1000 * (fraction + jitter));
}
