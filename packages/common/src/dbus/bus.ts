/**
 * Our connection to the (system) D-Bus, a thin wrapper over @particle/dbus-next 0.11.4. It knows nothing
 * of stafd or stacd; the API mirrors (staf-api.ts, stac-api.ts) are passed in as data.
 *
 * - connect to an address given as a parameter (option > DBUS_SYSTEM_BUS_ADDRESS > default), unix:path only;
 * - low-level calls with a known signature (no introspection: a proxy costs 20-30 ms, dependencies.md §1),
 *   each with a timeout and an AbortSignal, at most `maxConcurrentCalls` in flight (LimitsExceeded);
 *   typed calls, property Get/Set from the API mirrors;
 * - request/release well-known names (DBUS_NAME_TAKEN / DBUS_NAME_DENIED), watch name owners;
 * - signal subscriptions by match rule, reference-counted (AddMatch/RemoveMatch stay balanced) and with a
 *   sender check: a signal is delivered only if it comes from the current owner of the subscribed name
 *   (owners: name-owner-table.ts, delivery: signal-router.ts);
 * - export service interfaces (service-export.ts);
 * - disconnect detection: `onDisconnect` listeners hear when the bus goes away (not after our close()),
 *   so a daemon can reconnect with a new connection;
 * - outgoing messages are encoded by wire-encode.ts, not by the library (issue 9: ~5 ms instead of the
 *   library's ~50 ms for a 1.3 MB `aa{ss}` reply): once connected, `_connection.message` is replaced by a
 *   function that writes encodeMessage()'s bytes to the same socket, with the library's own check (socket
 *   writable), and that calls the library's function for messages with unix fds or others encodeMessage
 *   leaves to it. If the library's internals are not as expected, nothing is replaced and the library
 *   encodes as before.
 *
 * Touches one Unix socket. Errors are BusError (bus-error.ts). It reads private fields of the library:
 * `_connection.stream` (the socket), because the library emits no event when the bus closes, and
 * `_connection.message` (its send function), to encode outgoing messages faster.
 * Tests: test/integration/dbus-bus.test.ts, dbus-policy.test.ts, dbus-introspection.test.ts
 */
import { Socket } from 'node:net';
import { Message, Variant, sessionBus, type MessageBus } from '@particle/dbus-next';
import { describeError } from '../errors.js';
import { resolveSystemBusAddress, unixSocketPathOf } from './bus-address.js';
import { BusError, errorFromReply } from './bus-error.js';
import { CallLimiter } from './call-limiter.js';
import {
  argsToBody,
  bodyToArgs,
  bodyToResult,
  signatureOf,
  type InterfaceSpec,
  type MethodArgs,
  type MethodName,
  type MethodResult,
  type PropertyName,
  type PropertyValue,
  type ServiceLocation,
  type SignalArgs,
  type SignalName,
  type WritablePropertyName,
} from './interface-spec.js';
import { buildMatchRule } from './match-rule.js';
import { NameOwnerTable } from './name-owner-table.js';
import {
  buildServiceInterface,
  type BuiltInterface,
  type ExportOptions,
  type InterfaceImpl,
} from './service-export.js';
import { isWellKnownName, SignalRouter, type ReceivedSignal, type SignalFilter } from './signal-router.js';
import { conformValue, parseSignature, parseSingleType } from './signature.js';
import { EncodeUnsupportedError, encodeMessage } from './wire-encode.js';

export type { CallContext, ExportOptions, InterfaceImpl } from './service-export.js';
export type { ReceivedSignal, SignalFilter } from './signal-router.js';

/** Undo a registration. Idempotent; resolves once the bus was told (or at once if it is gone). */
export type Disposer = () => Promise<void>;

export interface ConnectOptions {
  /** Bus address; default: env DBUS_SYSTEM_BUS_ADDRESS, then unix:path=/run/dbus/system_bus_socket. */
  readonly address?: string;
  /** Environment to read DBUS_SYSTEM_BUS_ADDRESS from; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Give up connecting (socket + auth + Hello) after this long; default 5000 ms. */
  readonly connectTimeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Outgoing calls in flight at once; more wait in a queue. Default 32 (dbus-daemon allows 128). */
  readonly maxConcurrentCalls?: number;
  /** Timeout of a call without its own; default 25000 ms (the libdbus default). */
  readonly defaultTimeoutMs?: number;
  /** Told when one of our listeners (signal handler, owner watcher, disconnect listener) throws. */
  readonly onListenerError?: (err: unknown, where: string) => void;
}

export interface CallOptions {
  /** Reply deadline, counted from the call (queue time included). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Expected reply signature; a different one fails with DBUS_BAD_REPLY. */
  readonly replySignature?: string;
}

export interface RequestNameOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  /** Let another connection take the name over with replaceExisting. Default false. */
  readonly allowReplacement?: boolean;
  /** Take the name over if its owner allowed replacement. Default false. */
  readonly replaceExisting?: boolean;
}

export interface DisconnectInfo {
  readonly reason: string;
  readonly error: unknown;
}

export interface BusStats {
  readonly pendingCalls: number;
  readonly queuedCalls: number;
  /** Distinct match rules currently added on the bus by us. */
  readonly matchRules: number;
  readonly addMatchCalls: number;
  readonly removeMatchCalls: number;
  readonly subscriptions: number;
  readonly watchedNames: number;
  /** Signals that matched a subscription's path/interface/member but failed its sender or signature check. */
  readonly droppedSignals: number;
}

/** A service interface exported on the bus. */
export interface ExportedInterface<I extends InterfaceSpec> {
  readonly path: string;
  readonly spec: I;
  /** Send a signal; false (nothing sent) if the connection is closed or the interface unexported. */
  emit<S extends SignalName<I>>(signal: S, args: SignalArgs<I['signals'][S]>): boolean;
  /** Send PropertiesChanged with the current values of `names` (for changes not made through Set). */
  propertiesChanged(names: readonly PropertyName<I>[]): boolean;
  unexport(): void;
}

const MESSAGE_TYPE = { METHOD_CALL: 1, METHOD_RETURN: 2, ERROR: 3, SIGNAL: 4 } as const;
const DBUS = {
  name: 'org.freedesktop.DBus',
  path: '/org/freedesktop/DBus',
  iface: 'org.freedesktop.DBus',
} as const;
const PROPERTIES_IFACE = 'org.freedesktop.DBus.Properties';
const NAME_FLAG = { ALLOW_REPLACEMENT: 1, REPLACE_EXISTING: 2, DO_NOT_QUEUE: 4 } as const;
const REQUEST_NAME_REPLY = { PRIMARY_OWNER: 1, IN_QUEUE: 2, EXISTS: 3, ALREADY_OWNER: 4 } as const;
const CLOSE_GRACE_MS = 1000;

interface PendingCall {
  readonly onReply: (msg: Message) => void;
  readonly onFail: (err: BusError) => void;
}

interface MatchEntry {
  count: number;
  readonly ready: Promise<void>;
}

/** The match rule for NameOwnerChanged of one name. */
function ownerRule(name: string): string {
  return buildMatchRule({
    type: 'signal',
    sender: DBUS.name,
    interface: DBUS.iface,
    member: 'NameOwnerChanged',
    path: DBUS.path,
    arg0: name,
  });
}

function once(fn: () => Promise<void>): Disposer {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}

function abortError(signal: AbortSignal, what: string): BusError {
  return new BusError('DBUS_ABORTED', `${what}: aborted`, { cause: signal.reason });
}

/** The socket under the library's connection (the library has no close event of its own). */
function socketOf(bus: MessageBus): Socket {
  const connection: unknown = Reflect.get(bus, '_connection');
  const stream: unknown =
    typeof connection === 'object' && connection !== null ? Reflect.get(connection, 'stream') : undefined;
  if (!(stream instanceof Socket)) {
    throw new BusError(
      'DBUS_CONNECT_FAILED',
      '@particle/dbus-next internals changed: no _connection.stream socket',
    );
  }
  return stream;
}

/**
 * Send outgoing messages through wire-encode.ts instead of the library's marshaller. Called once the
 * library's connection is up (its 'connect' handler installs the function replaced here; on 'end' it installs
 * another, which then stays). Returns false, changing nothing, if the internals are not as expected.
 */
function installFastEncoder(bus: MessageBus, socket: Socket): boolean {
  const connection: unknown = Reflect.get(bus, '_connection');
  if (typeof connection !== 'object' || connection === null) return false;
  const original: unknown = Reflect.get(connection, 'message');
  if (
    typeof original !== 'function' ||
    Reflect.get(connection, 'state') !== 'connected' ||
    Reflect.get(connection, 'stream') !== socket ||
    Reflect.get(socket, 'supportsUnixFd') !== undefined || // a socket that passes fds takes { data, fds }
    !socket.writable
  ) {
    return false;
  }
  const libraryMessage = original as (msg: unknown) => void;
  const message = (msg: unknown): void => {
    if (!socket.writable) throw new Error('Cannot send message, stream is closed'); // as the library
    let bytes: Buffer;
    try {
      if (typeof msg !== 'object' || msg === null) throw new EncodeUnsupportedError('not a message object');
      bytes = encodeMessage(msg);
    } catch (err) {
      if (!(err instanceof EncodeUnsupportedError)) throw err;
      libraryMessage.call(connection, msg);
      return;
    }
    socket.write(bytes);
  };
  return Reflect.set(connection, 'message', message);
}

/** Connect to the system bus (or the bus at `options.address`). Rejects with BusError. */
export async function connectSystemBus(options: ConnectOptions = {}): Promise<SystemBus> {
  const address = resolveSystemBusAddress(options.address, options.env ?? process.env);
  const socketPath = unixSocketPathOf(address);
  const signal = options.signal;
  if (signal?.aborted === true) throw abortError(signal, `connect to ${address}`);
  const lib = sessionBus({ busAddress: `unix:path=${socketPath}`, authMethods: ['EXTERNAL'] });
  let lastError: unknown;
  const recordError = (err: unknown): void => {
    lastError = err;
  };
  lib.on('error', recordError); // stays for the connection's life: an 'error' without a listener would throw
  const socket = socketOf(lib);
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  await new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      lib.removeListener('connect', onConnect);
      lib.removeListener('error', onError);
      socket.removeListener('close', onClose);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: BusError): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onConnect = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: unknown): void => {
      fail(
        new BusError('DBUS_CONNECT_FAILED', `cannot connect to D-Bus at ${address}: ${describeError(err)}`, {
          cause: err,
        }),
      );
    };
    const onClose = (): void => {
      fail(
        new BusError('DBUS_CONNECT_FAILED', `D-Bus at ${address} closed the connection during set-up`, {
          cause: lastError,
        }),
      );
    };
    const onAbort = (): void => {
      if (signal !== undefined) fail(abortError(signal, `connect to ${address}`));
    };
    const timer = setTimeout(() => {
      fail(new BusError('DBUS_CONNECT_FAILED', `no answer from D-Bus at ${address} within ${timeoutMs} ms`));
    }, timeoutMs);
    lib.once('connect', onConnect);
    lib.on('error', onError);
    socket.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  installFastEncoder(lib, socket); // false: the library keeps encoding, as it always did
  const uniqueName: unknown = Reflect.get(lib, 'name');
  return new SystemBus(
    lib,
    socket,
    address,
    typeof uniqueName === 'string' ? uniqueName : '',
    options,
    () => lastError,
  );
}

export class SystemBus {
  /** The address we connected to. */
  readonly address: string;
  /** Our unique name on the bus, e.g. `:1.7`. */
  readonly uniqueName: string;

  readonly #lib: MessageBus;
  readonly #socket: Socket;
  readonly #limiter: CallLimiter;
  readonly #defaultTimeoutMs: number;
  readonly #onListenerError: (err: unknown, where: string) => void;
  readonly #lastError: () => unknown;
  readonly #pending = new Map<number, PendingCall>();
  readonly #matches = new Map<string, MatchEntry>();
  readonly #owners: NameOwnerTable;
  readonly #ownerReady = new Map<string, Promise<void>>();
  readonly #router: SignalRouter;
  readonly #exports = new Map<string, BuiltInterface<InterfaceSpec>>();
  readonly #disconnectListeners = new Set<(info: DisconnectInfo) => void>();
  readonly #closedPromise: Promise<void>;
  #markClosed: () => void = () => undefined;
  #closed = false;
  #closing = false;
  #current: Message | undefined;
  #addMatchCalls = 0;
  #removeMatchCalls = 0;
  #malformedSignals = 0;

  /** Use connectSystemBus(). */
  constructor(
    lib: MessageBus,
    socket: Socket,
    address: string,
    uniqueName: string,
    options: ConnectOptions,
    lastError: () => unknown,
  ) {
    this.#lib = lib;
    this.#socket = socket;
    this.address = address;
    this.uniqueName = uniqueName;
    this.#limiter = new CallLimiter(options.maxConcurrentCalls ?? 32);
    this.#defaultTimeoutMs = options.defaultTimeoutMs ?? 25_000;
    this.#onListenerError = options.onListenerError ?? (() => undefined);
    this.#lastError = lastError;
    this.#owners = new NameOwnerTable((err, name) => {
      this.#onListenerError(err, `watchNameOwner(${name})`);
    });
    this.#router = new SignalRouter(
      (name) => this.#owners.ownerOf(name),
      (err, signal) => {
        this.#onListenerError(err, `signal ${signal.interface}.${signal.member}`);
      },
    );
    this.#closedPromise = new Promise<void>((resolve) => {
      this.#markClosed = resolve;
    });
    lib.on('message', (msg) => {
      try {
        this.#onMessage(msg);
      } catch (err) {
        this.#onListenerError(err, 'message dispatch');
      }
    });
    lib.addMethodHandler((msg: Message): boolean => this.#beforeDispatch(msg));
    socket.once('close', () => {
      this.#onClosed();
    });
    if (socket.destroyed) this.#onClosed();
  }

  /** True once the connection is gone (closed by us or lost). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Hear about an unexpected loss of the connection (not about close()). Returns an unsubscribe. */
  onDisconnect(listener: (info: DisconnectInfo) => void): () => void {
    this.#disconnectListeners.add(listener);
    return () => {
      this.#disconnectListeners.delete(listener);
    };
  }

  /** Close the connection: pending calls fail with DBUS_DISCONNECTED; resolves when the socket is closed. */
  async close(): Promise<void> {
    if (!this.#closed && !this.#closing) {
      this.#closing = true;
      this.#failPending('connection closed');
      const force = setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS);
      try {
        this.#lib.disconnect();
      } catch {
        this.#socket.destroy();
      }
      await this.#closedPromise;
      clearTimeout(force);
    }
    return this.#closedPromise;
  }

  stats(): BusStats {
    return {
      pendingCalls: this.#pending.size,
      queuedCalls: this.#limiter.queued,
      matchRules: this.#matches.size,
      addMatchCalls: this.#addMatchCalls,
      removeMatchCalls: this.#removeMatchCalls,
      subscriptions: this.#router.size,
      watchedNames: this.#owners.size,
      droppedSignals: this.#router.dropped + this.#malformedSignals,
    };
  }

  // ---- calls -------------------------------------------------------------------------------------

  /**
   * Call `iface.member` on `path` at `destination` with arguments of `signature`; resolves with the reply
   * body. No introspection. Rejects with BusError (DBUS_INVALID_ARGS before sending if `args` do not fit).
   */
  async call(
    destination: string,
    path: string,
    iface: string,
    member: string,
    signature: string,
    args: readonly unknown[],
    options: CallOptions = {},
  ): Promise<unknown[]> {
    const what = `${destination} ${iface}.${member}`;
    const types = parseSignature(signature);
    if (types.length !== args.length) {
      throw new BusError(
        'DBUS_INVALID_ARGS',
        `${what}: signature '${signature}' needs ${types.length} arguments, got ${args.length}`,
      );
    }
    const body = types.map((t, i) => {
      const result = conformValue(t.node, args[i], `${member}[${i}]`);
      if (!result.ok) throw new BusError('DBUS_INVALID_ARGS', `${what}: ${result.problem}`);
      return result.value;
    });
    const reply = await this.#invoke(
      { destination, path, interface: iface, member, signature, body },
      what,
      options,
    );
    const replyBody: readonly unknown[] = reply.body;
    if (options.replySignature === undefined) return [...replyBody];
    if (reply.signature !== options.replySignature) {
      throw new BusError(
        'DBUS_BAD_REPLY',
        `${what}: reply signature '${reply.signature}', expected '${options.replySignature}'`,
      );
    }
    return parseSignature(options.replySignature).map((t, i) => {
      const result = conformValue(t.node, replyBody[i], `${member} reply[${i}]`);
      if (!result.ok) throw new BusError('DBUS_BAD_REPLY', `${what}: ${result.problem}`);
      return result.value;
    });
  }

  /** Call a method of an API mirror, with arguments and result typed from it. */
  async callMethod<I extends InterfaceSpec, M extends MethodName<I>>(
    target: ServiceLocation,
    iface: I,
    method: M,
    args: MethodArgs<I['methods'][M]>,
    options: Omit<CallOptions, 'replySignature'> = {},
  ): Promise<MethodResult<I['methods'][M]>> {
    const spec = iface.methods[method];
    if (spec === undefined) {
      throw new BusError('DBUS_INVALID_ARGS', `${iface.name} has no method '${method}'`);
    }
    const body = await this.call(
      target.busName,
      target.objectPath,
      iface.name,
      method,
      signatureOf(spec.in),
      argsToBody(spec.in, args),
      { ...options, replySignature: signatureOf(spec.out) },
    );
    return bodyToResult(spec.out, body) as MethodResult<I['methods'][M]>;
  }

  /** Read a property of an API mirror (org.freedesktop.DBus.Properties.Get). */
  async getProperty<I extends InterfaceSpec, P extends PropertyName<I>>(
    target: ServiceLocation,
    iface: I,
    property: P,
    options: Omit<CallOptions, 'replySignature'> = {},
  ): Promise<PropertyValue<I['properties'][P]>> {
    const spec = iface.properties[property];
    if (spec === undefined) {
      throw new BusError('DBUS_INVALID_ARGS', `${iface.name} has no property '${property}'`);
    }
    const [variant] = await this.call(
      target.busName,
      target.objectPath,
      PROPERTIES_IFACE,
      'Get',
      'ss',
      [iface.name, property],
      {
        ...options,
        replySignature: 'v',
      },
    );
    const what = `${target.busName} ${iface.name}.${property}`;
    if (!(variant instanceof Variant) || variant.signature !== spec.type) {
      throw new BusError('DBUS_BAD_REPLY', `${what}: value is not of type '${spec.type}'`);
    }
    const result = conformValue(parseSingleType(spec.type), (variant as Variant<unknown>).value, property);
    if (!result.ok) throw new BusError('DBUS_BAD_REPLY', `${what}: ${result.problem}`);
    return result.value as PropertyValue<I['properties'][P]>;
  }

  /** Write a read-write property of an API mirror (org.freedesktop.DBus.Properties.Set). */
  async setProperty<I extends InterfaceSpec, P extends WritablePropertyName<I>>(
    target: ServiceLocation,
    iface: I,
    property: P,
    value: PropertyValue<I['properties'][P]>,
    options: Omit<CallOptions, 'replySignature'> = {},
  ): Promise<void> {
    const spec = iface.properties[property];
    if (spec === undefined) {
      throw new BusError('DBUS_INVALID_ARGS', `${iface.name} has no property '${property}'`);
    }
    await this.call(
      target.busName,
      target.objectPath,
      PROPERTIES_IFACE,
      'Set',
      'ssv',
      [iface.name, property, new Variant(spec.type, value)],
      { ...options, replySignature: '' },
    );
  }

  #invoke(
    fields: {
      destination: string;
      path: string;
      interface: string;
      member: string;
      signature: string;
      body: unknown[];
    },
    what: string,
    options: CallOptions,
    onReplySync?: (msg: Message) => void,
  ): Promise<Message> {
    if (this.#closed || this.#closing) {
      return Promise.reject(new BusError('DBUS_DISCONNECTED', `${what}: not connected`));
    }
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(abortError(signal, what));
    const timeoutMs = options.timeoutMs ?? this.#defaultTimeoutMs;
    return new Promise<Message>((resolve, reject) => {
      let settled = false;
      let serial: number | undefined;
      let release: (() => void) | undefined;
      let cancelQueued: () => void = () => undefined;
      const finish = (err: BusError | undefined, reply?: Message): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        cancelQueued();
        if (serial !== undefined) this.#pending.delete(serial);
        release?.();
        if (err !== undefined || reply === undefined) {
          reject(err ?? new BusError('DBUS_BAD_REPLY', `${what}: no reply`));
        } else {
          resolve(reply);
        }
      };
      const onAbort = (): void => {
        if (signal !== undefined) finish(abortError(signal, what));
      };
      const timer = setTimeout(() => {
        finish(new BusError('DBUS_TIMEOUT', `${what}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      cancelQueued = this.#limiter.request((releaseSlot) => {
        release = releaseSlot;
        if (settled) {
          releaseSlot();
          return;
        }
        if (this.#closed || this.#closing) {
          finish(new BusError('DBUS_DISCONNECTED', `${what}: not connected`));
          return;
        }
        try {
          const msg = new Message(fields); // type defaults to METHOD_CALL
          serial = this.#lib.newSerial();
          msg.serial = serial;
          this.#pending.set(serial, {
            onReply: (reply) => {
              if ((reply.type as number) === MESSAGE_TYPE.ERROR) {
                onReplySync?.(reply);
                const text: unknown = reply.body[0];
                finish(errorFromReply(reply.errorName, typeof text === 'string' ? text : '', what));
              } else {
                onReplySync?.(reply);
                finish(undefined, reply);
              }
            },
            onFail: (err) => {
              finish(err);
            },
          });
          this.#lib.send(msg);
        } catch (err) {
          // The library throws for values it cannot marshal, and for a socket that is already closed.
          const code = this.#socket.writable ? 'DBUS_INVALID_ARGS' : 'DBUS_DISCONNECTED';
          finish(
            err instanceof BusError
              ? err
              : new BusError(code, `${what}: ${describeError(err)}`, { cause: err }),
          );
        }
      });
    });
  }

  #failPending(reason: string): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of pending)
      call.onFail(new BusError('DBUS_DISCONNECTED', `call not answered: ${reason}`));
  }

  // ---- names ---------------------------------------------------------------------------------------

  /**
   * Own `name` (never queued). Rejects with DBUS_NAME_TAKEN if another connection owns it, or
   * DBUS_NAME_DENIED if the bus policy forbids us to own it.
   */
  async requestName(name: string, options: RequestNameOptions = {}): Promise<void> {
    const flags =
      NAME_FLAG.DO_NOT_QUEUE |
      (options.allowReplacement === true ? NAME_FLAG.ALLOW_REPLACEMENT : 0) |
      (options.replaceExisting === true ? NAME_FLAG.REPLACE_EXISTING : 0);
    let reply: unknown;
    try {
      [reply] = await this.call(DBUS.name, DBUS.path, DBUS.iface, 'RequestName', 'su', [name, flags], {
        ...options,
        replySignature: 'u',
      });
    } catch (err) {
      if (err instanceof BusError && err.code === 'DBUS_ACCESS_DENIED') {
        throw new BusError(
          'DBUS_NAME_DENIED',
          `the bus policy does not let us own '${name}': ${err.remoteText ?? ''}`,
          {
            remoteName: err.remoteName,
            remoteText: err.remoteText,
            cause: err,
          },
        );
      }
      throw err;
    }
    if (reply === REQUEST_NAME_REPLY.PRIMARY_OWNER || reply === REQUEST_NAME_REPLY.ALREADY_OWNER) return;
    if (reply === REQUEST_NAME_REPLY.IN_QUEUE) await this.releaseName(name).catch(() => undefined);
    throw new BusError('DBUS_NAME_TAKEN', `D-Bus name '${name}' is owned by another connection`);
  }

  /** Give up `name` (no error if we did not own it). */
  async releaseName(name: string, options: Omit<CallOptions, 'replySignature'> = {}): Promise<void> {
    await this.call(DBUS.name, DBUS.path, DBUS.iface, 'ReleaseName', 's', [name], {
      ...options,
      replySignature: 'u',
    });
  }

  /** The unique name owning `name`, or null if nobody does. */
  async getNameOwner(
    name: string,
    options: Omit<CallOptions, 'replySignature'> = {},
  ): Promise<string | null> {
    try {
      const [owner] = await this.call(DBUS.name, DBUS.path, DBUS.iface, 'GetNameOwner', 's', [name], {
        ...options,
        replySignature: 's',
      });
      return owner as string;
    } catch (err) {
      if (err instanceof BusError && err.code === 'DBUS_SERVICE_UNKNOWN') return null;
      throw err;
    }
  }

  /**
   * Call `listener` with the current owner of `name` (null: none), then at every change, until the
   * returned disposer runs. Uses NameOwnerChanged (match on arg0) plus an initial GetNameOwner.
   */
  async watchNameOwner(name: string, listener: (owner: string | null) => void): Promise<Disposer> {
    await this.#retainOwner(name);
    const unlisten = this.#owners.listen(name, listener);
    try {
      listener(this.#owners.ownerOf(name) ?? null);
    } catch (err) {
      this.#onListenerError(err, `watchNameOwner(${name})`);
    }
    return once(async () => {
      unlisten();
      await this.#releaseOwner(name);
    });
  }

  /** Watch `name` once more: its NameOwnerChanged match rule and, for the first watch, GetNameOwner. */
  async #retainOwner(name: string): Promise<void> {
    this.#owners.retain(name);
    try {
      await this.#addMatch(ownerRule(name));
      let ready = this.#ownerReady.get(name);
      if (ready === undefined) {
        ready = this.#fetchInitialOwner(name);
        this.#ownerReady.set(name, ready);
      }
      await ready;
    } catch (err) {
      await this.#releaseOwner(name);
      throw err;
    }
  }

  async #fetchInitialOwner(name: string): Promise<void> {
    try {
      await this.#invoke(
        {
          destination: DBUS.name,
          path: DBUS.path,
          interface: DBUS.iface,
          member: 'GetNameOwner',
          signature: 's',
          body: [name],
        },
        `GetNameOwner(${name})`,
        {},
        (reply) => {
          // Applied synchronously, in stream order: NameOwnerChanged signals after this reply win.
          const owner: unknown = reply.body[0];
          const ok = (reply.type as number) === MESSAGE_TYPE.METHOD_RETURN && typeof owner === 'string';
          this.#owners.setInitialOwner(name, ok ? owner : null);
        },
      );
    } catch (err) {
      if (err instanceof BusError && err.code === 'DBUS_SERVICE_UNKNOWN') return; // no owner: recorded
      this.#ownerReady.delete(name); // let a later watch try again
      throw err;
    }
  }

  async #releaseOwner(name: string): Promise<void> {
    if (this.#owners.release(name)) this.#ownerReady.delete(name);
    await this.#removeMatch(ownerRule(name));
  }

  // ---- match rules and signals -----------------------------------------------------------------

  async #addMatch(rule: string): Promise<void> {
    const existing = this.#matches.get(rule);
    if (existing !== undefined) {
      existing.count++;
      await existing.ready;
      return;
    }
    this.#addMatchCalls++;
    const entry: MatchEntry = {
      count: 1,
      ready: this.call(DBUS.name, DBUS.path, DBUS.iface, 'AddMatch', 's', [rule], {
        replySignature: '',
      }).then(() => undefined),
    };
    this.#matches.set(rule, entry);
    try {
      await entry.ready;
    } catch (err) {
      if (this.#matches.get(rule) === entry) this.#matches.delete(rule);
      throw err;
    }
  }

  async #removeMatch(rule: string): Promise<void> {
    const entry = this.#matches.get(rule);
    if (entry === undefined) return;
    entry.count--;
    if (entry.count > 0) return;
    this.#matches.delete(rule);
    this.#removeMatchCalls++;
    if (this.#closed || this.#closing) return;
    await this.call(DBUS.name, DBUS.path, DBUS.iface, 'RemoveMatch', 's', [rule], {
      replySignature: '',
    }).catch((err: unknown) => {
      if (!(err instanceof BusError && err.code === 'DBUS_DISCONNECTED')) throw err;
    });
  }

  /**
   * Receive signals matching `filter` until the disposer runs. A signal is delivered only if it comes from
   * `filter.sender`: for a well-known name, from the connection that owns it at that moment (other
   * connections' signals with the same path/interface/member are dropped and counted in stats()).
   */
  async subscribeSignal(filter: SignalFilter, handler: (signal: ReceivedSignal) => void): Promise<Disposer> {
    if (filter.sender === '') throw new BusError('DBUS_INVALID_ARGS', 'a signal subscription needs a sender');
    const rule = buildMatchRule({
      type: 'signal',
      sender: filter.sender,
      interface: filter.interface,
      member: filter.member,
      path: filter.path,
    });
    const wellKnown = isWellKnownName(filter.sender);
    if (wellKnown) await this.#retainOwner(filter.sender);
    try {
      await this.#addMatch(rule);
    } catch (err) {
      if (wellKnown) await this.#releaseOwner(filter.sender);
      throw err;
    }
    const unroute = this.#router.add(filter, handler);
    return once(async () => {
      unroute();
      await this.#removeMatch(rule);
      if (wellKnown) await this.#releaseOwner(filter.sender);
    });
  }

  /**
   * Receive a signal of an API mirror from `source` (its bus name and object path), with arguments
   * typed from the mirror. Signals with another signature, or values that do not fit, are dropped.
   */
  async subscribe<I extends InterfaceSpec, S extends SignalName<I>>(
    source: ServiceLocation,
    iface: I,
    signal: S,
    handler: (args: SignalArgs<I['signals'][S]>, received: ReceivedSignal) => void,
  ): Promise<Disposer> {
    const spec = iface.signals[signal];
    if (spec === undefined) {
      throw new BusError('DBUS_INVALID_ARGS', `${iface.name} has no signal '${signal}'`);
    }
    const signature = signatureOf(spec.args);
    const nodes = spec.args.map((a) => parseSingleType(a.type));
    return this.subscribeSignal(
      { sender: source.busName, path: source.objectPath, interface: iface.name, member: signal },
      (received) => {
        if (received.signature !== signature) {
          this.#malformedSignals++;
          return;
        }
        const values: unknown[] = [];
        for (const [i, node] of nodes.entries()) {
          const result = conformValue(node, received.body[i], signal);
          if (!result.ok) {
            this.#malformedSignals++;
            return;
          }
          values.push(result.value);
        }
        handler(bodyToArgs(spec.args, values) as SignalArgs<I['signals'][S]>, received);
      },
    );
  }

  #onMessage(msg: Message): void {
    const type = msg.type as number;
    if (type === MESSAGE_TYPE.METHOD_RETURN || type === MESSAGE_TYPE.ERROR) {
      const serial = Number(msg.replySerial);
      const call = this.#pending.get(serial);
      if (call !== undefined) {
        this.#pending.delete(serial);
        call.onReply(msg);
      }
    } else if (type === MESSAGE_TYPE.SIGNAL) {
      const sender = typeof msg.sender === 'string' ? msg.sender : '';
      if (
        sender === DBUS.name &&
        msg.path === DBUS.path &&
        msg.interface === DBUS.iface &&
        msg.member === 'NameOwnerChanged' &&
        msg.signature === 'sss'
      ) {
        const [name, , newOwner] = msg.body as [string, string, string];
        this.#owners.ownerChanged(name, newOwner);
      }
      if (this.#router.size > 0) {
        this.#router.route({
          sender,
          path: msg.path,
          interface: msg.interface,
          member: msg.member,
          signature: msg.signature,
          body: msg.body,
        });
      }
    }
  }

  // ---- services --------------------------------------------------------------------------------

  /**
   * Export `spec` implemented by `impl` at `path`. Export every interface before requestName(): claiming
   * the name is the readiness signal (behaviour spec §2.1).
   */
  exportInterface<I extends InterfaceSpec>(
    path: string,
    spec: I,
    impl: InterfaceImpl<I>,
    options: ExportOptions,
  ): ExportedInterface<I> {
    if (this.#closed || this.#closing) {
      throw new BusError('DBUS_DISCONNECTED', `export ${spec.name}: not connected`);
    }
    const key = `${path}\0${spec.name}`;
    if (this.#exports.has(key)) {
      throw new BusError('DBUS_INVALID_ARGS', `${spec.name} is already exported at ${path}`);
    }
    const built = buildServiceInterface(spec, impl, options, {
      currentMessage: () => this.#current,
      callerUid: async (sender) => {
        const [uid] = await this.call(
          DBUS.name,
          DBUS.path,
          DBUS.iface,
          'GetConnectionUnixUser',
          's',
          [sender],
          {
            replySignature: 'u',
          },
        );
        return uid as number;
      },
    });
    try {
      this.#lib.export(path, built.iface);
    } catch (err) {
      throw new BusError('DBUS_INVALID_ARGS', `export ${spec.name} at ${path}: ${describeError(err)}`, {
        cause: err,
      });
    }
    this.#exports.set(key, built);
    let active = true;
    const usable = (): boolean => active && !this.#closed && !this.#closing && this.#socket.writable;
    return {
      path,
      spec,
      emit: (signal, args) => {
        if (!usable()) return false;
        built.emit(signal, args);
        return true;
      },
      propertiesChanged: (names) => {
        if (!usable()) return false;
        built.propertiesChanged(names);
        return true;
      },
      unexport: () => {
        if (!active) return;
        active = false;
        this.#exports.delete(key);
        this.#lib.unexport(path, built.iface);
      },
    };
  }

  /** Runs before the library dispatches a method call to an exported interface. */
  #beforeDispatch(msg: Message): boolean {
    this.#current = msg;
    if (msg.interface === PROPERTIES_IFACE && msg.member === 'GetAll' && msg.signature !== 's') {
      // The library handles GetAll whatever the signature, and answers a non-string argument with its
      // own error carrying a stack trace; answer InvalidArgs here instead.
      const text = `GetAll takes one string argument, not '${msg.signature}'`;
      this.#lib.send(
        Message.newError(msg as unknown as string, 'org.freedesktop.DBus.Error.InvalidArgs', text),
      );
      return true;
    }
    if (msg.interface === PROPERTIES_IFACE && msg.member === 'Set' && msg.signature === 'ssv') {
      const [ifaceName, property] = msg.body as [unknown, unknown];
      const built = this.#exports.get(`${msg.path}\0${String(ifaceName)}`);
      if (built !== undefined && typeof property === 'string' && built.readOnlyProperties.has(property)) {
        // The library would answer twice (an error, then a success); answer once here.
        // (types.d.ts declares newError's first parameter as a string; at run time it is the call message.)
        const text = `property '${property}' is read-only`;
        this.#lib.send(
          Message.newError(msg as unknown as string, 'org.freedesktop.DBus.Error.PropertyReadOnly', text),
        );
        return true;
      }
    }
    return false;
  }

  // ---- connection end --------------------------------------------------------------------------

  #onClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    const expected = this.#closing;
    this.#failPending(expected ? 'connection closed' : 'connection lost');
    this.#router.clear();
    this.#owners.clear();
    this.#ownerReady.clear();
    this.#matches.clear();
    this.#exports.clear();
    this.#markClosed();
    if (expected) return;
    const info: DisconnectInfo = { reason: 'the D-Bus connection was lost', error: this.#lastError() };
    for (const listener of [...this.#disconnectListeners]) {
      try {
        listener(info);
      } catch (err) {
        this.#onListenerError(err, 'disconnect listener');
      }
    }
  }
}
