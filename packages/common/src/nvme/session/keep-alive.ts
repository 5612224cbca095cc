/**
 * Keep Alive for one association: sends Keep Alive (opcode 0x18) on a fixed schedule derived from
 * KATO and declares the association dead when one gets no completion within KATO.
 *
 * Schedule (wire doc §6.1, Linux nvme_keep_alive_work): every KATO/2. With traffic-based keep alive
 * (Identify CTRATT b6 TBKAS) every KATO/4, skipping a tick when any completion arrived since the last
 * one: that is the only case in which Linux lets other traffic stand in for a Keep Alive, so without
 * TBKAS the schedule is not moved by traffic (nvmet counts any command, but the spec does not promise
 * it). stas takes KATO in whole seconds (≥ 1 s, see discovery-session.ts), so the interval is never
 * below 500 ms; it is never above KATO/2, because a later Keep Alive could arrive after the
 * controller's deadline. No Keep Alive is sent while the previous one is still outstanding.
 *
 * Failure: a Keep Alive without completion KATO after it was sent → `onFailure(TimeoutError phase
 * 'kato')`; a Keep Alive that fails (NVMe status or closed connection) → `onFailure(thatError)`.
 * Either way the keep-alive stops itself. The owner destroys the session.
 *
 * Time comes from the injected clock; stop() clears every timer (nothing is left armed).
 *
 * Used by: discovery-session.ts
 * Tests:   keep-alive.test.ts (fake clock: ticks, TBKAS skips, KATO expiry, stop)
 */
import { TimeoutError } from '../../errors.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';

export interface KeepAliveOptions {
  /** KATO in ms as sent in Connect; 0 disables keep-alive. */
  readonly katoMs: number;
  /** Traffic-based keep alive (CTRATT TBKAS). */
  readonly tbkas?: boolean;
  readonly peer: string;
  readonly clock?: Clock;
  /** Send one Keep Alive; resolves on its completion. */
  readonly send: () => Promise<void>;
  /** The association is dead (KATO expired, or the Keep Alive failed). Called at most once. */
  readonly onFailure: (err: unknown) => void;
}

/** The Keep Alive period: KATO/2, or KATO/4 with traffic-based keep alive. */
export function keepAliveIntervalMs(katoMs: number, tbkas = false): number {
  return Math.floor(katoMs / (tbkas ? 4 : 2));
}

export class KeepAlive {
  readonly intervalMs: number;
  readonly #opts: KeepAliveOptions;
  readonly #clock: Clock;
  #tick: TimerHandle | undefined;
  #expiry: TimerHandle | undefined;
  #running = false;
  #inFlight = false;
  #trafficSeen = false;
  #sent = 0;
  #skipped = 0;

  constructor(opts: KeepAliveOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.intervalMs = keepAliveIntervalMs(opts.katoMs, opts.tbkas);
  }

  /** Keep Alives sent so far. */
  get sent(): number {
    return this.#sent;
  }

  /** Ticks skipped because of traffic (TBKAS) or an outstanding Keep Alive. */
  get skipped(): number {
    return this.#skipped;
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running || this.#opts.katoMs <= 0) return;
    this.#running = true;
    this.#schedule();
  }

  /** A completion arrived (any command): with TBKAS it replaces the next Keep Alive. */
  noteCompletion(): void {
    this.#trafficSeen = true;
  }

  stop(): void {
    this.#running = false;
    if (this.#tick !== undefined) this.#clock.clearTimeout(this.#tick);
    if (this.#expiry !== undefined) this.#clock.clearTimeout(this.#expiry);
    this.#tick = undefined;
    this.#expiry = undefined;
  }

  #schedule(): void {
    this.#tick = this.#clock.setTimeout(() => {
      this.#tick = undefined;
      this.#onTick();
      if (this.#running) this.#schedule();
    }, this.intervalMs);
  }

  #onTick(): void {
    const traffic = this.#trafficSeen;
    this.#trafficSeen = false;
    if (this.#inFlight || (this.#opts.tbkas === true && traffic)) {
      this.#skipped++;
      return;
    }
    this.#inFlight = true;
    this.#sent++;
    const kato = this.#opts.katoMs;
    this.#expiry = this.#clock.setTimeout(() => {
      this.#expiry = undefined;
      this.#fail(
        new TimeoutError(
          'kato',
          this.#opts.peer,
          `${this.#opts.peer}: Keep Alive got no completion within KATO (${kato} ms)`,
        ),
      );
    }, kato);
    this.#opts.send().then(
      () => {
        this.#inFlight = false;
        if (this.#expiry !== undefined) this.#clock.clearTimeout(this.#expiry);
        this.#expiry = undefined;
      },
      (err: unknown) => {
        this.#inFlight = false;
        this.#fail(err);
      },
    );
  }

  #fail(err: unknown): void {
    if (!this.#running) return;
    this.stop();
    this.#opts.onFailure(err);
  }
}
