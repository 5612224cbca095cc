/**
 * Test-only Clock: time moves only when advance() is called; timers fire in deadline order (ties in
 * creation order), each at its own time, and timers armed while advancing fire too if they fall due.
 * Pending promise callbacks run between timers (advance() awaits a macrotask turn before each one), so
 * code that awaits a completion and then arms the next timer behaves as under real time.
 *
 * Never imported by daemon code.
 *
 * Used by: keep-alive.test.ts, admin-queue.test.ts, transport.test.ts
 * Tests:   exercised by those tests
 */
import type { Clock, TimerHandle } from './clock.js';

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/** Let promise callbacks (and I/O already delivered) run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  #now = 0;
  #nextId = 1;
  #timers: FakeTimer[] = [];

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), fn };
    this.#timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  }

  /** Timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Move time forward by `ms` at once, firing due timers synchronously (no promise turns between). */
  tick(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = due.at;
      due.fn();
    }
    this.#now = end;
  }

  /** Move time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await settle();
      const due = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = due.at;
      due.fn();
    }
    this.#now = end;
    await settle();
  }
}
