/**
 * A counting semaphore for outgoing D-Bus calls. dbus-daemon refuses a connection's calls beyond
 * `max_replies_per_connection` pending replies (LimitsExceeded; 128 on Debian's system bus), so bus.ts
 * starts at most `max` calls at once and queues the rest in FIFO order.
 *
 * Pure: no timers, no I/O; timeouts and aborts are the caller's (it cancels a queued request).
 * Never throws after construction. Tests: call-limiter.test.ts
 */
export class CallLimiter {
  readonly max: number;
  #active = 0;
  readonly #queue: { start: (release: () => void) => void }[] = [];

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`call limit must be a positive integer, got ${max}`);
    }
    this.max = max;
  }

  /** Calls started and not yet released. */
  get active(): number {
    return this.#active;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Run `start` with a release function as soon as a slot is free (synchronously if one is free now).
   * Returns `cancel`, which drops the request if it is still queued and does nothing once it started.
   * `release` is idempotent.
   */
  request(start: (release: () => void) => void): () => void {
    const entry = { start };
    if (this.#active < this.max) {
      this.#grant(entry);
    } else {
      this.#queue.push(entry);
    }
    return () => {
      const at = this.#queue.indexOf(entry);
      if (at >= 0) this.#queue.splice(at, 1);
    };
  }

  #grant(entry: { start: (release: () => void) => void }): void {
    this.#active++;
    let released = false;
    entry.start(() => {
      if (released) return;
      released = true;
      this.#active--;
      const next = this.#queue.shift();
      if (next !== undefined) this.#grant(next);
    });
  }
}
