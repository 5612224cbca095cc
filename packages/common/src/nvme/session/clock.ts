/**
 * The time source of the session modules: `now()` and one-shot timers, injectable so keep-alive and
 * command deadlines run under fake timers in tests (the MQTT.js `Timer` idea).
 *
 * `systemClock` looks up `globalThis.setTimeout`/`clearTimeout` at call time, so vitest's fake timers
 * apply to it too. Timers it creates are ordinary (ref'ed) Node timers: whoever arms one must clear it,
 * which is what lets a closed session leave no timer behind.
 *
 * Used by: admin-queue.ts, keep-alive.ts, discovery-session.ts, transport.ts
 * Tests:   through keep-alive.test.ts and admin-queue.test.ts (fake clocks)
 */

/** An opaque timer handle (a Node Timeout object, or whatever a fake clock returns). */
export type TimerHandle = object | number;

export interface Clock {
  /** Milliseconds, monotonic enough for deadlines. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => {
    globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>);
  },
};

/**
 * A promise that resolves after `ms` on `clock`, or rejects with the signal's reason when it aborts
 * first; the timer and the listener are removed either way.
 */
export function delay(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason as Error);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
