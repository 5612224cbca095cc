/**
 * Delivers received D-Bus signals to subscriptions, with the sender check: a subscription names its
 * sender (a unique name, `org.freedesktop.DBus`, or a well-known name), and a signal reaches it only if
 * it comes from exactly that connection (for a well-known name: its current owner, as `ownerOf` says).
 * The bus may route other connections' signals to us through other, broader match rules; those are
 * dropped here and counted.
 *
 * Pure: no I/O. A throwing handler is reported through `onHandlerError` and does not stop the others.
 * Tests: signal-router.test.ts
 */
export interface SignalFilter {
  /** Mandatory: a unique name (`:1.7`), `org.freedesktop.DBus`, or a well-known name. */
  readonly sender: string;
  readonly path?: string;
  readonly interface: string;
  readonly member?: string;
}

export interface ReceivedSignal {
  readonly sender: string;
  readonly path: string;
  readonly interface: string;
  readonly member: string;
  readonly signature: string;
  readonly body: readonly unknown[];
}

const BUS_NAME = 'org.freedesktop.DBus';

/** True for a well-known name, whose sending connection is whoever owns it at the time. */
export function isWellKnownName(name: string): boolean {
  return !name.startsWith(':') && name !== BUS_NAME;
}

interface Route {
  readonly filter: SignalFilter;
  readonly handler: (signal: ReceivedSignal) => void;
}

export class SignalRouter {
  readonly #routes = new Set<Route>();
  readonly #ownerOf: (wellKnownName: string) => string | null | undefined;
  readonly #onHandlerError: (err: unknown, signal: ReceivedSignal) => void;
  #dropped = 0;

  constructor(
    ownerOf: (wellKnownName: string) => string | null | undefined,
    onHandlerError: (err: unknown, signal: ReceivedSignal) => void,
  ) {
    this.#ownerOf = ownerOf;
    this.#onHandlerError = onHandlerError;
  }

  get size(): number {
    return this.#routes.size;
  }

  /** Signals that matched a route's path/interface/member but came from another sender. */
  get dropped(): number {
    return this.#dropped;
  }

  add(filter: SignalFilter, handler: (signal: ReceivedSignal) => void): () => void {
    const route: Route = { filter: { ...filter }, handler };
    this.#routes.add(route);
    return () => {
      this.#routes.delete(route);
    };
  }

  clear(): void {
    this.#routes.clear();
  }

  route(signal: ReceivedSignal): void {
    for (const { filter, handler } of [...this.#routes]) {
      if (filter.interface !== signal.interface) continue;
      if (filter.path !== undefined && filter.path !== signal.path) continue;
      if (filter.member !== undefined && filter.member !== signal.member) continue;
      const expected = isWellKnownName(filter.sender) ? this.#ownerOf(filter.sender) : filter.sender;
      if (expected === null || expected === undefined || expected !== signal.sender) {
        this.#dropped++;
        continue;
      }
      try {
        handler(signal);
      } catch (err) {
        this.#onHandlerError(err, signal);
      }
    }
  }
}
