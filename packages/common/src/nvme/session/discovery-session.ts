/**
 * A session with one NVMe-oF discovery controller over NVMe/TCP: the userspace host side of an admin
 * queue, from TCP connect to orderly shutdown, with keep-alive, AEN and the consistent log read.
 *
 * openDiscoverySession(): TCP connect → ICReq/ICResp → Fabrics Connect (host NQN/ID, subsystem NQN,
 * KATO) → enable (CC.EN + CSTS together; CAP read, and CSTS.RDY polled within CAP.TO, only when the
 * controller is not ready at once) → Identify Controller → Set Features 0x0B (discovery log change
 * notices, only when OAES b31 advertises them) + AER (re-armed after every AEN) → ready. Keep-alive
 * starts after Identify (nvmet arms its KATO timer when the controller is enabled; the first Keep
 * Alive is KATO/2 later). Round trips to ready: 5 (ICReq, Connect, enable, Identify, AEN setup).
 *
 * I/O: one socket (transport.ts). Ownership: the session's AbortController owns every timer and
 * listener it makes (keep-alive, CSTS polls, command deadlines through the queue); close() and
 * destroy() leave nothing armed and resolve/settle only after the socket is closed.
 *
 * Failure contract: openDiscoverySession rejects with the errors of transport.ts, controller-setup.ts,
 * StasError NVME_BAD_OPTION (bad address, port, interface, NQN, host ID or KATO), or the signal's
 * reason, and leaves nothing open. Afterwards every method rejects with the error that ended the
 * session, or ClosedError (code NVME_CLOSED) after close()/destroy(). A malformed PDU from the peer
 * ends this session only (after an H2CTermReq); a deadline (Keep Alive within KATO, any admin command)
 * ends it with a TimeoutError. `events` then yields { kind: 'close', error } and ends.
 *
 * Decisions: options and defaults in session-options.ts (KATO 0 or ≥ 1 s, default 30 s); DIM is sent
 * only to a DC whose Identify DCTYPE is DDC or CDC (§7.3, registration.ts); PLEO is used only when
 * asked, never towards a CDC, and only if Supported Log Pages (read once) advertises PLEOS (§5.1, as
 * nvme-stas; session-log.ts). A Set Features 0x0B refused with an NVMe status leaves the session
 * without AENs instead of failing it.
 *
 * Used by: discover.ts, stafd (DC runner)
 * Tests:   discovery-session.test.ts, discovery-session.faults.test.ts (both against the simulator)
 */
import { networkInterfaces } from 'node:os';
import { ClosedError, StasError, type NvmeStatusError } from '../../errors.js';
import {
  AsyncEventConfig,
  DiscoveryLsp,
  decodeAsyncEvent,
  isDiscoveryLogChange,
  keepAliveCommand,
  setAsyncEventConfigCommand,
  type AsyncEvent,
} from '../wire/admin-cmd.js';
import { DimTask } from '../wire/dim.js';
import { DISCOVERY_NQN, type CapRegister, type CcRegister } from '../wire/fabrics-cmd.js';
import {
  CTRATT_TBKAS,
  DiscoveryControllerType,
  LPA_EXTENDED_DATA,
  OAES_DISCOVERY_LOG_CHANGE,
  type IdentifyController,
} from '../wire/identify-ctrl.js';
import { AdminQueue } from './admin-queue.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import {
  ADMIN_SQSIZE,
  connectAdminQueue,
  enableController,
  identifyController,
  shutdownController,
  type SetupContext,
} from './controller-setup.js';
import { resolveEndpoint, type Endpoint } from './endpoint.js';
import { EventQueue } from './event-queue.js';
import { KeepAlive } from './keep-alive.js';
import { registrationCommand, type RegistrationInfo } from './registration.js';
import { probePleo, readSessionLog, type DiscoveryLogRead } from './session-log.js';
import {
  SESSION_DEFAULTS,
  checkSessionOptions,
  hostIdBytes,
  type DiscoverySessionOptions,
} from './session-options.js';
import { Transport } from './transport.js';

export type { DiscoverySessionOptions } from './session-options.js';
export type { DiscoveryLogRead } from './session-log.js';
export type { RegistrationInfo } from './registration.js';

export type SessionEvent =
  /** The AER completed: `logChanged` for "Discovery Log Page Change" (DW0 0x0070F002). */
  | { readonly kind: 'aen'; readonly dw0: number; readonly event: AsyncEvent; readonly logChanged: boolean }
  /** The AER completed with an error status; AENs stop (not re-armed, as Linux). */
  | { readonly kind: 'aen-stopped'; readonly error: NvmeStatusError }
  /** The session ended; `error` undefined after close(). Always the last event. */
  | { readonly kind: 'close'; readonly error: StasError | undefined };

/** Options of one discovery log read. */
export interface ReadLogOptions {
  readonly signal?: AbortSignal;
  /** Port-local entries only, when the controller supports it. */
  readonly pleo?: boolean;
  /** Largest NUMREC accepted; default DEFAULT_MAX_LOG_ENTRIES (log-reader.ts). */
  readonly maxEntries?: number;
  /** Where `maxEntries` was set, named when a log exceeds it. */
  readonly maxEntriesSetting?: string;
}

export interface SessionStats {
  /** ICReq/ICResp plus every time the admin queue went from idle to waiting. */
  readonly roundTrips: number;
  /** Commands sent (Connect, Keep Alive and the AER included). */
  readonly commands: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** Open a session (see the module header); `signal` cancels the opening only. */
export function openDiscoverySession(
  opts: DiscoverySessionOptions,
  options: { signal?: AbortSignal } = {},
): Promise<DiscoverySession> {
  return DiscoverySession.open(opts, options);
}

export class DiscoverySession {
  readonly peer: string;
  readonly endpoint: Endpoint;
  readonly #opts: DiscoverySessionOptions;
  readonly #clock: Clock;
  readonly #owner = new AbortController();
  readonly #events = new EventQueue<SessionEvent>({
    capacity: 16,
    same: (a, b) => a.kind === 'aen' && b.kind === 'aen' && a.dw0 === b.dw0,
  });
  #transport: Transport | undefined;
  #queue: AdminQueue | undefined;
  #keepAlive: KeepAlive | undefined;
  #identify: IdentifyController | undefined;
  #cap: CapRegister | undefined;
  #cc: CcRegister | undefined;
  #cntlid = 0;
  #aenEnabled = false;
  #pleoSupported: Promise<boolean> | undefined;
  #error: StasError | undefined;
  #closing: Promise<void> | undefined;
  #resolveClosed!: () => void;
  /** Settles when the session is fully closed (socket gone, timers cleared). */
  readonly closed: Promise<void>;

  /** Same as openDiscoverySession(). */
  static async open(
    opts: DiscoverySessionOptions,
    options: { signal?: AbortSignal } = {},
  ): Promise<DiscoverySession> {
    checkSessionOptions(opts);
    // The interface table is only needed for host-iface (reading it costs a system call and a copy).
    const pinned = opts.hostIface !== undefined && opts.hostIface !== '';
    const endpoint = resolveEndpoint(opts, opts.interfaces ?? (pinned ? networkInterfaces() : {}));
    const session = new DiscoverySession(opts, endpoint);
    await session.#start(options.signal);
    return session;
  }

  private constructor(opts: DiscoverySessionOptions, endpoint: Endpoint) {
    this.#opts = opts;
    this.endpoint = endpoint;
    this.peer = endpoint.peer;
    this.#clock = opts.clock ?? systemClock;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  async #start(signal: AbortSignal | undefined): Promise<void> {
    const opts = this.#opts;
    const onAbort = (): void => {
      this.destroy(signal?.reason instanceof StasError ? signal.reason : undefined);
    };
    signal?.addEventListener('abort', onAbort, { once: true, signal: this.#owner.signal });
    try {
      this.#transport = await Transport.connect(
        {
          endpoint: this.endpoint,
          hdgst: opts.hdgst === true,
          ddgst: opts.ddgst === true,
          clock: this.#clock,
          maxPlen: this.#maxTransfer() + 256,
          ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
          ...(opts.icrespTimeoutMs !== undefined ? { icrespTimeoutMs: opts.icrespTimeoutMs } : {}),
        },
        {
          onPdu: (pdu) => {
            this.#queue?.handlePdu(pdu);
          },
          onDataDigestError: (err, flags) => {
            this.#queue?.handleDataDigestError(err, flags);
          },
          onClose: (err) => {
            this.#end(err);
          },
        },
        signal === undefined ? {} : { signal },
      );
      const transport = this.#transport;
      const queue = new AdminQueue(
        {
          send: (pdu) => transport.send(pdu),
          get maxh2cdata() {
            return transport.negotiated.maxh2cdata;
          },
        },
        {
          peer: this.peer,
          clock: this.#clock,
          defaultTimeoutMs: opts.adminTimeoutMs ?? SESSION_DEFAULTS.adminTimeoutMs,
          maxOutstanding: ADMIN_SQSIZE - 1,
          onTimeout: (err) => {
            this.destroy(err);
          },
          onCompletion: () => this.#keepAlive?.noteCompletion(),
          onAsyncEvent: (dw0) => {
            this.#onAen(dw0);
          },
          onAsyncEventError: (error) => {
            this.#events.push({ kind: 'aen-stopped', error });
          },
        },
      );
      this.#queue = queue;
      const ctx = this.#setupContext(signal);
      const katoMs = opts.katoMs ?? SESSION_DEFAULTS.katoMs;
      this.#cntlid = await connectAdminQueue(ctx, {
        hostnqn: opts.hostnqn,
        hostid: hostIdBytes(opts.hostid),
        subsysnqn: opts.subsysnqn !== undefined && opts.subsysnqn !== '' ? opts.subsysnqn : DISCOVERY_NQN,
        katoMs,
        timeoutMs: opts.adminTimeoutMs ?? SESSION_DEFAULTS.adminTimeoutMs,
      });
      const enabled = await enableController(ctx);
      this.#cc = enabled.cc;
      this.#cap = enabled.cap;
      const id = await identifyController(ctx, this.#cntlid);
      this.#identify = id;
      if (id.maxcmd > 0) queue.setMaxOutstanding(Math.min(ADMIN_SQSIZE, id.maxcmd) - 1);
      // nvmet arms its KATO timer when the controller is enabled; the first Keep Alive is KATO/2 away.
      this.#startKeepAlive(katoMs, (id.ctratt & CTRATT_TBKAS) !== 0);
      if (opts.aen !== false && (id.oaes & OAES_DISCOVERY_LOG_CHANGE) !== 0) await this.#enableAen(ctx);
    } catch (err) {
      this.destroy(err instanceof StasError ? err : undefined);
      await this.closed;
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #setupContext(signal?: AbortSignal): SetupContext {
    return {
      queue: this.#queue as AdminQueue,
      peer: this.peer,
      clock: this.#clock,
      signal: signal === undefined ? this.#owner.signal : AbortSignal.any([signal, this.#owner.signal]),
    };
  }

  #startKeepAlive(katoMs: number, tbkas: boolean): void {
    const queue = this.#queue as AdminQueue;
    this.#keepAlive = new KeepAlive({
      katoMs,
      tbkas,
      peer: this.peer,
      clock: this.#clock,
      send: () =>
        queue
          .submit({ name: 'Keep Alive', build: (cid) => keepAliveCommand({ cid }), timeoutMs: 0 })
          .then(() => undefined),
      onFailure: (err) => {
        this.destroy(err instanceof StasError ? err : undefined);
      },
    });
    this.#keepAlive.start();
  }

  async #enableAen(ctx: SetupContext): Promise<void> {
    const queue = ctx.queue;
    const setFeatures = queue.submit({
      name: 'Set Features 0x0B',
      build: (cid) => setAsyncEventConfigCommand({ cid, mask: AsyncEventConfig.DLPCN }),
      signal: ctx.signal,
    });
    queue.armAer();
    try {
      await setFeatures;
      this.#aenEnabled = true;
    } catch (err) {
      if (err instanceof StasError && err.code === 'NVME_STATUS') return; // no AENs from this DC
      throw err;
    }
  }

  #onAen(dw0: number): void {
    this.#queue?.armAer();
    const event = decodeAsyncEvent(dw0);
    this.#events.push({ kind: 'aen', dw0, event, logChanged: isDiscoveryLogChange(event) });
  }

  /** Identify Controller data. */
  get identify(): IdentifyController {
    return this.#identify as IdentifyController;
  }

  get cntlid(): number {
    return this.#cntlid;
  }

  /** Discovery log change AENs are enabled (OAES b31 and Set Features 0x0B accepted). */
  get aenEnabled(): boolean {
    return this.#aenEnabled;
  }

  /** DCTYPE says DDC or CDC: DIM registration is possible. */
  get supportsRegistration(): boolean {
    const t = this.#identify?.dctype;
    return t === DiscoveryControllerType.Ddc || t === DiscoveryControllerType.Cdc;
  }

  /** Open and not closing. */
  get isOpen(): boolean {
    return this.#error === undefined && this.#closing === undefined && this.#queue !== undefined;
  }

  get stats(): SessionStats {
    const t = this.#transport;
    return {
      roundTrips: (t === undefined ? 0 : 1) + (this.#queue?.roundTrips ?? 0),
      commands: this.#queue?.commands ?? 0,
      bytesIn: t?.bytesIn ?? 0,
      bytesOut: t?.bytesOut ?? 0,
    };
  }

  /** AENs and the final close, for one consumer (see event-queue.ts). */
  get events(): AsyncIterable<SessionEvent> {
    return this.#events;
  }

  #usable(): AdminQueue {
    if (this.#error !== undefined) throw this.#error;
    if (this.#closing !== undefined || this.#queue === undefined) {
      throw new ClosedError(this.peer, `${this.peer}: session closed`);
    }
    return this.#queue;
  }

  #signal(signal: AbortSignal | undefined): AbortSignal {
    return signal === undefined ? this.#owner.signal : AbortSignal.any([signal, this.#owner.signal]);
  }

  #maxTransfer(): number {
    const cap = this.#opts.maxTransferBytes ?? SESSION_DEFAULTS.maxTransferBytes;
    const mdts = this.#identify?.mdts ?? 0;
    if (mdts === 0) return cap;
    const page = 2 ** (12 + (this.#cap?.mpsmin ?? 0));
    return Math.min(cap, 2 ** mdts * page);
  }

  /**
   * Read the whole Discovery Log Page consistently (log-reader.ts). `pleo`: ask for port-local entries
   * only, if the controller supports it (never towards a CDC). `maxEntries`: refuse a log of more
   * entries (NVME_DLP_TOO_LARGE, naming `maxEntriesSetting`), default DEFAULT_MAX_LOG_ENTRIES.
   */
  async readDiscoveryLog(options: ReadLogOptions = {}): Promise<DiscoveryLogRead> {
    const queue = this.#usable();
    const signal = this.#signal(options.signal);
    const id = this.identify;
    let lsp = 0;
    if (options.pleo === true && id.dctype !== DiscoveryControllerType.Cdc) {
      // Supported Log Pages is read once per session; a transport failure lets a later call try again.
      this.#pleoSupported ??= probePleo(queue, signal).catch((err: unknown) => {
        this.#pleoSupported = undefined;
        throw err;
      });
      if (await this.#pleoSupported) lsp = DiscoveryLsp.PLEO;
    }
    return readSessionLog(queue, {
      lsp,
      maxTransfer: this.#maxTransfer(),
      offsets: (id.lpa & LPA_EXTENDED_DATA) !== 0,
      peer: this.peer,
      signal,
      ...(this.#opts.maxAttempts !== undefined ? { maxAttempts: this.#opts.maxAttempts } : {}),
      ...(options.maxEntries !== undefined ? { maxEntries: options.maxEntries } : {}),
      ...(options.maxEntriesSetting !== undefined ? { maxEntriesSetting: options.maxEntriesSetting } : {}),
    });
  }

  /** DIM register (TAS 0). Only to a DDC/CDC: otherwise StasError NVME_DIM_UNSUPPORTED, nothing sent. */
  register(info: RegistrationInfo = {}, options: { signal?: AbortSignal } = {}): Promise<number> {
    return this.#dim(DimTask.Register, info, options.signal);
  }

  /** DIM deregister (TAS 1), same gate as register(). */
  deregister(info: RegistrationInfo = {}, options: { signal?: AbortSignal } = {}): Promise<number> {
    return this.#dim(DimTask.Deregister, info, options.signal);
  }

  async #dim(
    tas: typeof DimTask.Register | typeof DimTask.Deregister,
    info: RegistrationInfo,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    const queue = this.#usable();
    if (!this.supportsRegistration) {
      throw new StasError(
        'NVME_DIM_UNSUPPORTED',
        `${this.peer}: the discovery controller does not take registrations (DCTYPE ${this.identify.dctype})`,
      );
    }
    const host = { hostnqn: this.#opts.hostnqn, hostid: this.#opts.hostid, family: this.endpoint.family };
    const r = await queue.submit({ ...registrationCommand(tas, host, info), signal: this.#signal(signal) });
    return r.cqe.dw0;
  }

  /**
   * Orderly shutdown: no new calls, CC.SHN and a short wait for CSTS.SHST, then FIN. Resolves when the
   * socket is closed. Idempotent; a second caller joins the first.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    if (this.#error !== undefined || this.#queue === undefined) {
      this.#closing = this.closed;
      return this.#closing;
    }
    this.#closing = this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#keepAlive?.stop();
    const queue = this.#queue as AdminQueue;
    const budget = this.#opts.shutdownTimeoutMs ?? SESSION_DEFAULTS.shutdownTimeoutMs;
    const cc = this.#cc;
    if (cc !== undefined && this.#error === undefined) {
      const ctx = this.#setupContext();
      const limited = new AdminQueueBudget(ctx, budget, this.#clock);
      try {
        await shutdownController(limited.context, cc, budget);
      } catch {
        // Best effort: a controller that does not answer is closed anyway.
      } finally {
        limited.dispose();
      }
    }
    if (this.#error === undefined) {
      const err = new ClosedError(this.peer, `${this.peer}: session closed`);
      this.#error = err;
      queue.failAll(err);
      this.#owner.abort(err);
      await this.#transport?.end();
      this.#finish(undefined);
    }
    await this.closed;
  }

  /** Drop the session at once: commands in flight reject with `err` (default ClosedError). Idempotent. */
  destroy(err?: StasError): void {
    if (this.#error !== undefined) return;
    const error = err ?? new ClosedError(this.peer, `${this.peer}: session destroyed`);
    this.#end(error);
    this.#transport?.destroy(error);
    if (this.#transport === undefined) this.#finish(err);
  }

  /** The connection is over (from the transport, a deadline, or destroy()). */
  #end(err: StasError): void {
    if (this.#error !== undefined) return;
    this.#error = err;
    this.#keepAlive?.stop();
    this.#queue?.failAll(err);
    this.#owner.abort(err);
    const transport = this.#transport;
    if (transport === undefined) return;
    void transport.closed.then(() => {
      this.#finish(err instanceof ClosedError && !err.byPeer ? undefined : err);
    });
  }

  #finished = false;

  #finish(err: StasError | undefined): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#events.end({ kind: 'close', error: err });
    this.#resolveClosed();
  }
}

/** Run the shutdown commands under one deadline (the session's owner signal plus a budget timer). */
class AdminQueueBudget {
  readonly context: SetupContext;
  readonly #ctl = new AbortController();
  readonly #timer: TimerHandle;
  readonly #clock: Clock;

  constructor(ctx: SetupContext, budgetMs: number, clock: Clock) {
    this.#clock = clock;
    this.#timer = clock.setTimeout(() => {
      this.#ctl.abort(new ClosedError(ctx.peer, `${ctx.peer}: shutdown budget spent`));
    }, budgetMs);
    this.context = { ...ctx, signal: AbortSignal.any([ctx.signal, this.#ctl.signal]) };
  }

  dispose(): void {
    this.#clock.clearTimeout(this.#timer);
  }
}
