/**
 * A bounded, coalescing event queue read as an async iterator: the session's AEN stream.
 *
 * Pure in-memory (no timers, no I/O). push() never blocks and never throws: an event equal to one
 * still waiting (per `same`) is merged into it, and when `capacity` events wait the oldest is dropped
 * and counted in `dropped` (discovery AENs are level triggers: the consumer re-reads the whole log, so
 * one pending notice stands for any number). end() queues a last event that is never dropped, then
 * finishes every iterator. Several iterators share the one queue (each event goes to one reader);
 * breaking out of a `for await` detaches that iterator only.
 *
 * Used by: discovery-session.ts (`events`)
 * Tests:   event-queue.test.ts
 */

export interface EventQueueOptions<T> {
  /** Events waiting at most; default 16. */
  readonly capacity?: number;
  /** Two waiting events that mean the same thing; the later one is dropped. */
  readonly same?: (a: T, b: T) => boolean;
}

type Waiter<T> = (result: IteratorResult<T, undefined>) => void;

export class EventQueue<T> implements AsyncIterable<T> {
  readonly capacity: number;
  readonly #same: ((a: T, b: T) => boolean) | undefined;
  readonly #items: T[] = [];
  readonly #waiters: Waiter<T>[] = [];
  #final: { item: T | undefined } | undefined;
  #dropped = 0;

  constructor(options: EventQueueOptions<T> = {}) {
    this.capacity = Math.max(1, options.capacity ?? 16);
    this.#same = options.same;
  }

  /** Events dropped because the queue was full (coalesced ones are not counted). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Events waiting for a reader (the final one included). */
  get size(): number {
    return this.#items.length + (this.#final?.item !== undefined ? 1 : 0);
  }

  get ended(): boolean {
    return this.#final !== undefined;
  }

  push(item: T): void {
    if (this.#final !== undefined) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter({ value: item, done: false });
      return;
    }
    const same = this.#same;
    if (same !== undefined && this.#items.some((pending) => same(pending, item))) return;
    if (this.#items.length >= this.capacity) {
      this.#items.shift();
      this.#dropped++;
    }
    this.#items.push(item);
  }

  /** Finish the stream, after the waiting events and `last` (if given). Idempotent. */
  end(last?: T): void {
    if (this.#final !== undefined) return;
    this.#final = { item: last };
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters.shift() as Waiter<T>;
      waiter(this.#next());
    }
  }

  #next(): IteratorResult<T, undefined> {
    if (this.#items.length > 0) return { value: this.#items.shift() as T, done: false };
    const final = this.#final;
    if (final?.item !== undefined) {
      const item = final.item;
      final.item = undefined;
      return { value: item, done: false };
    }
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    let detached = false;
    let pending: Waiter<T> | undefined;
    return {
      next: () => {
        if (detached) return Promise.resolve({ value: undefined, done: true });
        if (this.#items.length > 0 || this.#final !== undefined) return Promise.resolve(this.#next());
        return new Promise((resolve) => {
          pending = (result) => {
            pending = undefined;
            resolve(result);
          };
          this.#waiters.push(pending);
        });
      },
      return: () => {
        detached = true;
        if (pending !== undefined) {
          const i = this.#waiters.indexOf(pending);
          if (i !== -1) this.#waiters.splice(i, 1);
          pending({ value: undefined, done: true });
        }
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
