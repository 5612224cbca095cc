/**
 * Polls a condition until it holds: the way e2e tests synchronise with the
 * kernel, the target and daemons (never a bare sleep). Pure control flow plus
 * a timer between polls. A predicate that throws counts as "not yet"; on time
 * out the promise rejects with an Error naming the condition and the last
 * error seen. Used by the *.e2e.test.ts suites and test/e2e/lib/target.ts;
 * tested through test/e2e/kernel-smoke.e2e.test.ts.
 */
import { setTimeout as delay } from 'node:timers/promises';

export interface WaitForOptions {
  readonly timeoutMs: number;
  /** Pause between two polls; default 100 ms. */
  readonly intervalMs?: number;
  /** What is awaited, for the timeout message. */
  readonly what?: string;
}

type NotYet = undefined | null | false;

/** Resolves with the first value of `predicate` that is not undefined, null or false. */
export async function waitFor<T>(
  predicate: () => T | NotYet | Promise<T | NotYet>,
  options: WaitForOptions,
): Promise<T> {
  const deadline = performance.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() >= deadline) break;
    await delay(options.intervalMs ?? 100);
  }
  const detail =
    lastError === undefined
      ? ''
      : ` (last error: ${lastError instanceof Error ? lastError.message : 'non-Error'})`;
  throw new Error(`waitFor: ${options.what ?? 'condition'} not met within ${options.timeoutMs} ms${detail}`);
}
