/**
 * The contract shared by stafd's two sources of mDNS-announced Discovery Controllers: the avahi
 * browser (D-Bus, avahi-browser.ts) and the embedded browser (own multicast sockets,
 * embedded-browser.ts); dc-sources.ts picks one of them.
 *
 * A browser reports levels, not deltas: `services-changed` carries the whole current set of resolved
 * `_nvme-disc._tcp` services, coalesced so that a burst of changes is reported once; `state` says
 * whether the set can be trusted. `snapshot()` is an Observation: while the browser is starting,
 * unavailable or stopped it answers `ok: false` ("unknown"), never an empty list (behaviour spec §9:
 * no answer is not an empty answer). `problem` events carry what a daemon may want to log; browsers
 * never log. (`source` events come only from dc-sources.ts, which switches between the two.)
 *
 * Also here: `BrowserClock` (injectable time, structurally the same as nvme/session's Clock), the
 * service ordering and equality used for coalescing, and the `ServiceSetPublisher` both browsers use
 * to coalesce and deliver events.
 *
 * Touches one timer (the coalescing window). Listener exceptions are handed to `onListenerError`.
 * Tests: dc-browser.test.ts
 */
import type { ResolvedService } from './dc-candidate.js';
import { observed, unknown, type Observation } from '../util/observation.js';

/** One resolved service as a browser reports it: what dc-candidate needs, plus where it came from. */
export interface BrowsedService extends ResolvedService {
  /** The DNS-SD instance name, e.g. `NVMe Discovery Controller` (case as announced). */
  readonly name: string;
  /** The SRV target host, e.g. `dc1.local`. */
  readonly host: string;
  /** The address family of `address`; avahi browses IPv4 and IPv6 separately. */
  readonly protocol: 'ipv4' | 'ipv6';
}

export const UNAVAILABLE_REASONS = [
  'stopped', // stop() was called, or start() was never called
  'avahi-absent', // nobody owns org.freedesktop.Avahi
  'avahi-error', // avahi answered a browser call with an error, or the browser failed
  'bus-error', // our own D-Bus subscriptions failed
  'bus-disconnected', // the D-Bus connection was lost
  'no-interfaces', // no interface could carry mDNS (embedded browser)
  'browser-failed', // the browser could not be created (e.g. its module failed to load)
] as const;
export type UnavailableReason = (typeof UNAVAILABLE_REASONS)[number];

export type BrowserState =
  | { readonly kind: 'starting' }
  | { readonly kind: 'running' }
  | { readonly kind: 'unavailable'; readonly reason: UnavailableReason; readonly detail: string };

export const PROBLEM_CODES = [
  'avahi-call-failed', // a browser/resolver could not be created
  'avahi-browser-failure', // ServiceBrowser.Failure
  'avahi-resolver-failure', // ServiceResolver.Failure other than a timeout
  'iface-name-failed', // GetNetworkInterfaceNameByIndex failed or gave an unusable name
  'bad-signal', // an avahi signal whose arguments do not fit
  'service-limit', // too many services: further ones are ignored
  'socket-error', // an mDNS socket could not be opened or joined to its group
  'send-failed', // an mDNS query could not be sent on an interface (reported once until it works again)
] as const;
export type ProblemCode = (typeof PROBLEM_CODES)[number];

export type BrowserKind = 'avahi' | 'embedded' | 'none';

export type DcBrowserEvent =
  | { readonly type: 'services-changed'; readonly services: readonly BrowsedService[] }
  | { readonly type: 'state'; readonly state: BrowserState }
  | { readonly type: 'problem'; readonly code: ProblemCode; readonly detail: string }
  /** Only from dc-sources.ts: it switched to another browser (`none`: stopped, or between two). */
  | { readonly type: 'source'; readonly source: BrowserKind };

export type DcBrowserListener = (event: DcBrowserEvent) => void;

export interface DcBrowser {
  /** Which implementation this is (for dc-sources.ts: the one currently active). */
  readonly kind: BrowserKind;
  /**
   * Begin browsing. Resolves once set up (failures become `state` and `problem` events, never a
   * rejection). Aborting `signal` is the same as stop(). Calling start() twice is a no-op.
   */
  start(options?: { readonly signal?: AbortSignal }): Promise<void>;
  /** Stop browsing and release sockets, bus objects and timers. Idempotent. */
  stop(): Promise<void>;
  /** Hear events until the returned function is called. */
  on(listener: DcBrowserListener): () => void;
  state(): BrowserState;
  /** The current set, or `ok: false` while starting, unavailable or stopped. */
  snapshot(): Observation<readonly BrowsedService[]>;
}

/** Time as the browsers see it: milliseconds, one-shot timers. Tests inject a fake. */
export interface BrowserClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): object | number;
  clearTimeout(handle: object | number): void;
}

/** Real time; looks the timer functions up at call time so test fake timers apply. */
export const systemBrowserClock: BrowserClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => {
    globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>);
  },
};

/** A stable identity of a service entry: one per (interface, protocol, instance name). */
export function serviceKey(service: BrowsedService): string {
  return `${service.iface}\0${service.protocol}\0${service.name.toLowerCase()}`;
}

function canonical(service: BrowsedService): string {
  const txt = [...service.txt.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([
    serviceKey(service),
    service.name,
    service.host,
    service.address,
    service.port,
    txt,
  ]);
}

/** Services in a deterministic order (interface, protocol, name). */
export function sortServices(services: readonly BrowsedService[]): BrowsedService[] {
  return [...services].sort((a, b) => {
    const ka = serviceKey(a);
    const kb = serviceKey(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}

/** True when both lists hold the same services with the same values, in any order. */
export function sameServices(a: readonly BrowsedService[], b: readonly BrowsedService[]): boolean {
  if (a.length !== b.length) return false;
  const left = a.map(canonical).sort();
  const right = b.map(canonical).sort();
  return left.every((value, i) => value === right[i]);
}

function sameState(a: BrowserState, b: BrowserState): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'unavailable' && b.kind === 'unavailable') {
    return a.reason === b.reason && a.detail === b.detail;
  }
  return true;
}

export interface PublisherOptions {
  readonly clock?: BrowserClock;
  /** Length of the coalescing window, from the first change of a burst. Default 100 ms. */
  readonly coalesceMs?: number;
  readonly onListenerError?: (err: unknown) => void;
}

/**
 * Holds a browser's current set and state and delivers them to listeners: set changes are coalesced
 * (the first change opens a window of `coalesceMs`; at its end the set is reported if it differs from
 * the last report), state changes are delivered at once (after any pending set change).
 */
export class ServiceSetPublisher {
  readonly #clock: BrowserClock;
  readonly #coalesceMs: number;
  readonly #onListenerError: (err: unknown) => void;
  readonly #listeners = new Set<DcBrowserListener>();
  #current: readonly BrowsedService[] = [];
  #reported: readonly BrowsedService[] = [];
  #state: BrowserState = { kind: 'unavailable', reason: 'stopped', detail: 'not started' };
  #timer: object | number | undefined;

  constructor(options: PublisherOptions = {}) {
    this.#clock = options.clock ?? systemBrowserClock;
    this.#coalesceMs = options.coalesceMs ?? 100;
    this.#onListenerError = options.onListenerError ?? (() => undefined);
  }

  on(listener: DcBrowserListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  state(): BrowserState {
    return this.#state;
  }

  /** The set as last reported (what listeners have seen). */
  reported(): readonly BrowsedService[] {
    return this.#reported;
  }

  snapshot(): Observation<readonly BrowsedService[]> {
    const state = this.#state;
    if (state.kind === 'running') return observed(this.#current);
    if (state.kind === 'starting') return unknown('not-loaded', 'mDNS browsing is starting');
    return unknown('not-running', `${state.reason}: ${state.detail}`);
  }

  /** Replace the current set; reported after the coalescing window if it differs. */
  setServices(services: readonly BrowsedService[]): void {
    this.#current = sortServices(services);
    if (this.#timer === undefined) {
      this.#timer = this.#clock.setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, this.#coalesceMs);
    }
  }

  /** Report a pending set change now (if any). */
  flush(): void {
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (sameServices(this.#current, this.#reported)) return;
    this.#reported = this.#current;
    this.#emit({ type: 'services-changed', services: this.#reported });
  }

  /** Change the state; a pending set change is reported first. No event if nothing changed. */
  setState(state: BrowserState): void {
    this.flush();
    if (sameState(state, this.#state)) return;
    this.#state = state;
    this.#emit({ type: 'state', state });
  }

  problem(code: ProblemCode, detail: string): void {
    this.#emit({ type: 'problem', code, detail });
  }

  /** Drop the coalescing timer (the browser is stopping; a final setState follows). */
  cancelTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
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
