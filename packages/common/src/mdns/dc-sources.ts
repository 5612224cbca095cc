/**
 * Which mDNS source stafd uses for Discovery Controllers: the avahi browser while
 * `org.freedesktop.Avahi` has an owner on the system bus, the embedded browser otherwise (or when
 * there is no bus at all). `selectBrowser()` returns a DcBrowser that follows avahi:
 * - avahi appears → the embedded browser is stopped (sockets closed) before the avahi browser
 *   starts; avahi leaves (or the bus connection is lost) → after `fallbackDelayMs` without avahi
 *   (an avahi restart takes well under a second) the avahi browser is stopped and the embedded one
 *   started. At start without avahi the embedded browser starts at once. The two never run at once.
 * - while avahi is absent it is poked every `kickIntervalMs` with `Server.GetVersionString`, so that
 *   a D-Bus-activatable avahi-daemon starts (as nvme-stas does).
 * - events of the active browser are passed on, plus a `source` event at each switch; `snapshot()`
 *   and `state()` are the active browser's (unknown / `starting` while switching).
 *
 * Switches are serialized. Never rejects for bus trouble. No logging.
 * The embedded browser's code (embedded-browser.ts and what it pulls in: multicast-dns, dgram) is
 * loaded on its first use only, so a stafd that uses avahi, or no zeroconf at all, never loads it.
 * Tests: dc-sources.test.ts (fake bus and browsers), test/integration/mdns-dc-sources.test.ts
 */
import { AvahiBrowser, type AvahiBus } from './avahi-browser.js';
import { AVAHI } from './avahi-signals.js';
import {
  systemBrowserClock,
  type BrowserClock,
  type BrowserKind,
  type BrowserState,
  type BrowsedService,
  type DcBrowser,
  type DcBrowserEvent,
  type DcBrowserListener,
} from './dc-browser.js';
import { describeError } from '../errors.js';
import { unknown, type Observation } from '../util/observation.js';
import type { Disposer } from '../dbus/bus.js';

export interface DcSourcesOptions {
  readonly createAvahi?: (bus: AvahiBus) => DcBrowser;
  /** Default: the embedded browser, its module imported on first use. */
  readonly createEmbedded?: () => DcBrowser | Promise<DcBrowser>;
  readonly clock?: BrowserClock;
  /** How long avahi may be gone before the embedded browser takes over; default 10 000 ms. */
  readonly fallbackDelayMs?: number;
  /** While avahi is absent, call GetVersionString this often (D-Bus activation); default 60 000; 0: never. */
  readonly kickIntervalMs?: number;
  readonly onListenerError?: (err: unknown) => void;
}

type Wanted = 'avahi' | 'embedded';

export class DcSources implements DcBrowser {
  readonly #bus: AvahiBus | null;
  readonly #createAvahi: (bus: AvahiBus) => DcBrowser;
  readonly #createEmbedded: () => DcBrowser | Promise<DcBrowser>;
  readonly #clock: BrowserClock;
  readonly #fallbackDelayMs: number;
  readonly #kickIntervalMs: number;
  readonly #onListenerError: (err: unknown) => void;
  readonly #listeners = new Set<DcBrowserListener>();
  #active: DcBrowser | undefined;
  #unlistenActive: (() => void) | undefined;
  #wanted: Wanted | undefined;
  #queue: Promise<void> = Promise.resolve();
  #started = false;
  #running = false;
  #ownerWatch: Disposer | undefined;
  #unlistenDisconnect: (() => void) | undefined;
  #unlistenAbort: (() => void) | undefined;
  #fallbackTimer: object | number | undefined;
  #kickTimer: object | number | undefined;
  #avahiPresent = false;
  /** Why the wanted browser could not be created; cleared when a browser becomes active. */
  #failure: BrowserState | undefined;
  #stoppedState: BrowserState = { kind: 'unavailable', reason: 'stopped', detail: 'not started' };

  constructor(bus: AvahiBus | null, options: DcSourcesOptions = {}) {
    this.#bus = bus;
    this.#clock = options.clock ?? systemBrowserClock;
    this.#createAvahi = options.createAvahi ?? ((b) => new AvahiBrowser(b, { clock: this.#clock }));
    this.#createEmbedded =
      options.createEmbedded ??
      (async () => {
        const { EmbeddedBrowser } = await import('./embedded-browser.js');
        return new EmbeddedBrowser({ clock: this.#clock });
      });
    this.#fallbackDelayMs = options.fallbackDelayMs ?? 10_000;
    this.#kickIntervalMs = options.kickIntervalMs ?? 60_000;
    this.#onListenerError = options.onListenerError ?? (() => undefined);
  }

  get kind(): BrowserKind {
    return this.#active?.kind ?? 'none';
  }

  on(listener: DcBrowserListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  state(): BrowserState {
    if (!this.#running) return this.#stoppedState;
    return this.#active?.state() ?? this.#failure ?? { kind: 'starting' };
  }

  snapshot(): Observation<readonly BrowsedService[]> {
    if (!this.#running) return unknown('not-running', 'stopped');
    return this.#active?.snapshot() ?? unknown('not-loaded', 'switching mDNS source');
  }

  /** Resolves once the first source has started. */
  async start(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const signal = options.signal;
    if (signal?.aborted === true) return;
    this.#running = true;
    if (signal !== undefined) {
      const onAbort = (): void => {
        void this.stop();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#unlistenAbort = () => {
        signal.removeEventListener('abort', onAbort);
      };
    }
    const bus = this.#bus;
    if (bus === null) {
      this.#want('embedded');
      await this.#queue;
      return;
    }
    this.#unlistenDisconnect = bus.onDisconnect(() => {
      this.#onAvahiOwner(null, true);
    });
    try {
      this.#ownerWatch = await bus.watchNameOwner(AVAHI.name, (owner) => {
        this.#onAvahiOwner(owner, false);
      });
      if (this.#stopped()) await this.#ownerWatch();
    } catch {
      this.#onAvahiOwner(null, true);
    }
    await this.#queue;
  }

  async stop(): Promise<void> {
    if (!this.#running) {
      await this.#queue;
      return;
    }
    this.#running = false;
    this.#unlistenAbort?.();
    this.#unlistenDisconnect?.();
    this.#unlistenAbort = this.#unlistenDisconnect = undefined;
    for (const timer of [this.#fallbackTimer, this.#kickTimer]) {
      if (timer !== undefined) this.#clock.clearTimeout(timer);
    }
    this.#fallbackTimer = this.#kickTimer = undefined;
    const watch = this.#ownerWatch;
    this.#ownerWatch = undefined;
    this.#queue = this.#queue.then(async () => {
      await this.#deactivate();
      await watch?.().catch(() => undefined);
    });
    await this.#queue;
    this.#stoppedState = { kind: 'unavailable', reason: 'stopped', detail: 'stopped' };
    this.#emit({ type: 'state', state: this.#stoppedState });
  }

  /** (A method, so that the compiler does not assume the flag unchanged across awaits.) */
  #stopped(): boolean {
    return !this.#running;
  }

  #onAvahiOwner(owner: string | null, busLost: boolean): void {
    if (!this.#running) return;
    const first = this.#wanted === undefined;
    this.#avahiPresent = owner !== null && !busLost;
    if (this.#avahiPresent) {
      if (this.#fallbackTimer !== undefined) this.#clock.clearTimeout(this.#fallbackTimer);
      if (this.#kickTimer !== undefined) this.#clock.clearTimeout(this.#kickTimer);
      this.#fallbackTimer = this.#kickTimer = undefined;
      this.#want('avahi');
      return;
    }
    if (!busLost) this.#kick();
    if (first || busLost) {
      this.#want('embedded');
    } else if (this.#wanted === 'avahi' && this.#fallbackTimer === undefined) {
      this.#fallbackTimer = this.#clock.setTimeout(() => {
        this.#fallbackTimer = undefined;
        if (this.#running && !this.#avahiPresent) this.#want('embedded');
      }, this.#fallbackDelayMs);
    }
  }

  /** Poke a D-Bus-activatable avahi now and every kickIntervalMs while it is absent. */
  #kick(): void {
    const bus = this.#bus;
    if (bus === null || this.#kickIntervalMs <= 0 || this.#kickTimer !== undefined) return;
    void bus
      .call(AVAHI.name, AVAHI.serverPath, AVAHI.server, 'GetVersionString', '', [], {
        timeoutMs: 5000,
        replySignature: 's',
      })
      .catch(() => undefined);
    this.#kickTimer = this.#clock.setTimeout(() => {
      this.#kickTimer = undefined;
      if (this.#running && !this.#avahiPresent) this.#kick();
    }, this.#kickIntervalMs);
  }

  #want(wanted: Wanted): void {
    if (this.#wanted === wanted) return;
    this.#wanted = wanted;
    // A failure ends in a state, never in a rejected queue: later switches and stop() must still run.
    this.#queue = this.#queue
      .then(() => this.#apply())
      .catch((err: unknown) => {
        if (this.#stopped()) return;
        this.#failure = { kind: 'unavailable', reason: 'browser-failed', detail: describeError(err) };
        this.#emit({ type: 'state', state: this.#failure });
      });
  }

  async #apply(): Promise<void> {
    const wanted = this.#wanted;
    if (!this.#running || wanted === undefined || this.#active?.kind === wanted) return;
    const bus = this.#bus;
    if (wanted === 'avahi' && bus === null) return;
    await this.#deactivate();
    if (this.#stopped() || this.#wanted !== wanted) return;
    const browser =
      wanted === 'avahi' && bus !== null ? this.#createAvahi(bus) : await this.#createEmbedded();
    if (this.#stopped() || this.#wanted !== wanted) return; // changed while loading (not started yet)
    this.#active = browser;
    this.#failure = undefined;
    this.#unlistenActive = browser.on((event) => {
      if (this.#active === browser) this.#emit(event);
    });
    this.#emit({ type: 'source', source: browser.kind });
    await browser.start();
  }

  async #deactivate(): Promise<void> {
    const browser = this.#active;
    if (browser === undefined) return;
    this.#active = undefined;
    this.#unlistenActive?.();
    this.#unlistenActive = undefined;
    await browser.stop();
    this.#emit({ type: 'source', source: 'none' });
  }

  #emit(event: DcBrowserEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.#onListenerError(err);
      }
    }
  }
}

/** The mDNS source for stafd: avahi when it is on `bus`, else the embedded browser. Call start(). */
export function selectBrowser(bus: AvahiBus | null, options: DcSourcesOptions = {}): DcSources {
  return new DcSources(bus, options);
}
