/**
 * Debounced, serialized saving of the log-page cache: `schedule()` after a
 * change writes once `delayMs` later (a burst of changes is one write);
 * `flush()` writes now if anything is pending (at stop). Writes never overlap
 * and always write the records as they are when the write starts (the caller's
 * `records()` is read then).
 *
 * I/O through the injected `save` (default dlp-cache-file.ts saveCache: an
 * atomic write). A failed write is reported to `onError` and retried only at
 * the next change or flush. The timer is owned by the writer: `flush()` and
 * `cancel()` clear it.
 *
 * Used by: daemon.ts
 * Tests:   cache-writer.test.ts
 */
import type { Clock, TimerHandle } from '@stas/common/nvme/session/clock';
import type { CachedDc } from './dlp-cache-file.js';

export interface CacheWriterOptions {
  readonly path: string;
  readonly records: () => readonly CachedDc[];
  readonly save: (path: string, records: readonly CachedDc[]) => Promise<void>;
  readonly clock: Clock;
  readonly delayMs: number;
  readonly onError: (err: unknown) => void;
  readonly onSaved?: (count: number) => void;
}

export class CacheWriter {
  readonly #o: CacheWriterOptions;
  #timer: TimerHandle | undefined;
  #dirty = false;
  #writing: Promise<void> = Promise.resolve();
  #writes = 0;

  constructor(options: CacheWriterOptions) {
    this.#o = options;
  }

  /** Completed writes so far. */
  get writes(): number {
    return this.#writes;
  }

  /** Something changed: write after the delay (unless a write is already scheduled). */
  schedule(): void {
    this.#dirty = true;
    if (this.#timer !== undefined) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#write();
    }, this.#o.delayMs);
  }

  /** Write now if a change is pending; resolves after every write so far has finished. */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) {
      this.#o.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#dirty) await this.#write();
    await this.#writing;
  }

  /** Drop a pending write (nothing is written). */
  cancel(): void {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dirty = false;
  }

  #write(): Promise<void> {
    this.#writing = this.#writing.then(async () => {
      if (!this.#dirty) return;
      this.#dirty = false;
      const records = this.#o.records();
      try {
        await this.#o.save(this.#o.path, records);
        this.#writes++;
        this.#o.onSaved?.(records.length);
      } catch (err) {
        this.#o.onError(err);
      }
    });
    return this.#writing;
  }
}
