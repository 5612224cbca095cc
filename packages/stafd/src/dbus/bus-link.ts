/**
 * stafd's presence on the system bus: connect, export the service (before the
 * name: claiming it is the readiness signal), own `org.nvmexpress.staf`; when
 * the connection is lost, reconnect with backoff, export again and own the name
 * again. The daemon (and its DC sessions) keeps running meanwhile.
 *
 * start() rejects with a BusError for the first connection (DBUS_CONNECT_FAILED,
 * DBUS_NAME_TAKEN when another stafd runs, DBUS_NAME_DENIED by policy). After a
 * reconnection, a name owned by someone else is fatal (`onFatal`): two stafds
 * must not run. Other reconnection failures are retried forever (logged once,
 * then at debug). close() is idempotent: stops reconnecting, releases the name
 * and closes the connection.
 *
 * Ownership: the link's AbortController owns the reconnection timer.
 *
 * Used by: stafd-app.ts
 * Tests:   test/integration/stafd-daemon.test.ts (bus restart)
 */
import { BusError } from '@stas/common/dbus/bus-error';
import { connectSystemBus, type ConnectOptions, type SystemBus } from '@stas/common/dbus/bus';
import { STAF_BUS_NAME } from '@stas/common/dbus/staf-api';
import { describeError } from '@stas/common/errors';
import type { Logger } from '@stas/common/log/logger';
import type { Clock, TimerHandle } from '@stas/common/nvme/session/clock';
import { nextDelayMs, type BackoffPolicy } from '@stas/common/util/backoff';

export interface BusLinkOptions<S> {
  /** Bus address (option); else DBUS_SYSTEM_BUS_ADDRESS from `env`, else the system bus. */
  readonly address?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  readonly clock: Clock;
  readonly random: () => number;
  readonly backoff: BackoffPolicy;
  /** Export the service on a fresh connection (before the name is requested). */
  readonly exportService: (bus: SystemBus) => S;
  /** The connection came back (name owned again). */
  readonly onRestored?: (bus: SystemBus) => void;
  /** The connection was lost (reconnecting). */
  readonly onLost?: () => void;
  /** The name could not be owned again after a reconnection. */
  readonly onFatal: (err: BusError) => void;
  readonly connect?: (options: ConnectOptions) => Promise<SystemBus>;
}

interface Link<S> {
  readonly bus: SystemBus;
  readonly service: S;
  readonly unlisten: () => void;
}

export class BusLink<S extends { unexport(): void }> {
  readonly #o: BusLinkOptions<S>;
  readonly #connect: (options: ConnectOptions) => Promise<SystemBus>;
  readonly #owner = new AbortController();
  #link: Link<S> | undefined;
  #timer: TimerHandle | undefined;
  #attempt = 0;
  #reconnecting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: BusLinkOptions<S>) {
    this.#o = options;
    this.#connect = options.connect ?? connectSystemBus;
  }

  /** The current connection, null while reconnecting. */
  get bus(): SystemBus | null {
    return this.#link?.bus ?? null;
  }

  /** The service on the current connection, null while reconnecting. */
  get service(): S | null {
    return this.#link?.service ?? null;
  }

  /** First connection: connect, export, own the name. Rejects with BusError. */
  async start(): Promise<SystemBus> {
    const link = await this.#establish();
    this.#link = link;
    return link.bus;
  }

  async #establish(): Promise<Link<S>> {
    const bus = await this.#connect({
      ...(this.#o.address !== undefined ? { address: this.#o.address } : {}),
      env: this.#o.env,
      signal: this.#owner.signal,
      onListenerError: (err, where) => {
        this.#o.log.error({ err: describeError(err), where }, 'D-Bus listener failed');
      },
    });
    try {
      const service = this.#o.exportService(bus);
      await bus.requestName(STAF_BUS_NAME, { signal: this.#owner.signal });
      const unlisten = bus.onDisconnect((info) => {
        this.#lost(info.reason);
      });
      return { bus, service, unlisten };
    } catch (err) {
      await bus.close();
      throw err;
    }
  }

  #lost(reason: string): void {
    const link = this.#link;
    if (link === undefined || this.#closing !== undefined) return;
    this.#link = undefined;
    link.unlisten();
    this.#o.log.warn({ reason }, 'D-Bus connection lost; reconnecting (discovery controllers keep running)');
    this.#o.onLost?.();
    this.#attempt = 0;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closing !== undefined) return;
    const delay = nextDelayMs(this.#attempt, this.#o.backoff, this.#o.random);
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#reconnecting = this.#tryReconnect().finally(() => {
        this.#reconnecting = undefined;
      });
    }, delay);
  }

  async #tryReconnect(): Promise<void> {
    try {
      const link = await this.#establish();
      if (this.#closing !== undefined) {
        link.unlisten();
        await link.bus.close();
        return;
      }
      this.#link = link;
      this.#o.log.info(
        { address: link.bus.address, attempts: this.#attempt + 1 },
        'D-Bus connection restored',
      );
      this.#o.onRestored?.(link.bus);
    } catch (err) {
      if (this.#closing !== undefined) return;
      if (err instanceof BusError && (err.code === 'DBUS_NAME_TAKEN' || err.code === 'DBUS_NAME_DENIED')) {
        this.#o.log.error({ err: err.message }, 'cannot own the D-Bus name again');
        this.#o.onFatal(err);
        return;
      }
      const level = this.#attempt === 0 ? 'warn' : 'debug';
      this.#o.log[level](
        { err: describeError(err), attempt: this.#attempt + 1 },
        'D-Bus reconnection failed',
      );
      this.#attempt++;
      this.#schedule();
    }
  }

  /** Stop reconnecting, release the name, close the connection. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#owner.abort(new Error('stafd is stopping'));
    await this.#reconnecting;
    const link = this.#link;
    this.#link = undefined;
    if (link === undefined) return;
    link.unlisten();
    link.service.unexport();
    await link.bus.releaseName(STAF_BUS_NAME, { timeoutMs: 2000 }).catch(() => undefined);
    await link.bus.close();
  }
}
