/**
 * stafd's own mDNS/DNS-SD browser for `_nvme-disc._tcp`, used when avahi-daemon is not on the bus
 * (dc-sources.ts decides). It implements DcBrowser (dc-browser.ts).
 *
 * - Sockets: one IPv4 and (where the interface has IPv6) one IPv6 socket per interface that is up
 *   (mdns-socket.ts, mdns-interfaces.ts). The interface list is polled (default every 5 s); sockets
 *   follow it, and an interface that goes away takes its services with it at once.
 * - Queries: PTR `<type>.local` per interface on the RFC 6762 back-off (first after 20-120 ms, then
 *   1, 2, 4 … s up to 60 s; a new interface starts afresh), with known answers; follow-up SRV/TXT and
 *   A/AAAA questions when a response names an instance or host without them; refresh questions at
 *   80 % of a record's TTL (query-schedule.ts, mdns-cache.ts).
 * - Responses are hostile input: checked by mdns-records.ts, attributed to an interface by source
 *   address (mdns-interfaces.ts), cached with TTL expiry, goodbye and cache-flush (mdns-cache.ts).
 * - State: `starting` for `settleMs` after the first socket opens (the snapshot is unknown meanwhile),
 *   then `running`; `unavailable/no-interfaces` while no interface can carry mDNS.
 *
 * Never throws for network trouble: send failures (ENETUNREACH …) and socket errors become `problem`
 * events (once per socket until it works again) and counters in stats(); bad packets are counted.
 * Touches UDP sockets on port 5353 and timers on the injected clock. No logging.
 * Tests: embedded-browser.test.ts (fake sockets and clock), test/integration/mdns-embedded-browser.test.ts
 */
import { networkInterfaces } from 'node:os';
import type { RemoteInfo } from 'node:dgram';
import {
  ServiceSetPublisher,
  systemBrowserClock,
  type BrowserClock,
  type BrowserState,
  type BrowsedService,
  type DcBrowser,
  type DcBrowserListener,
} from './dc-browser.js';
import { MdnsCache } from './mdns-cache.js';
import {
  attributeSource,
  mdnsInterfaces,
  socketSignature,
  type InterfaceTable,
  type MdnsInterface,
} from './mdns-interfaces.js';
import { encodeQuery } from './mdns-query.js';
import { checkResponse, type MdnsQuestion } from './mdns-records.js';
import { openMdnsSocket, type MdnsSocket, type MdnsSocketFactory } from './mdns-socket.js';
import { DEFAULT_REQUERY, firstQueryDelayMs, requeryDelayMs, type RequeryPolicy } from './query-schedule.js';
import type { Observation } from '../util/observation.js';

export const NVME_DISC_SERVICE_TYPE = '_nvme-disc._tcp';

export interface EmbeddedBrowserOptions {
  /** Default `_nvme-disc._tcp`. */
  readonly serviceType?: string;
  readonly clock?: BrowserClock;
  /** [0, 1); default Math.random. */
  readonly random?: () => number;
  /** Default os.networkInterfaces. */
  readonly listInterfaces?: () => InterfaceTable;
  /** How often the interface list is read; default 5000 ms. */
  readonly interfacePollMs?: number;
  readonly openSocket?: MdnsSocketFactory;
  /** Coalescing window of `services-changed`; default 100 ms. */
  readonly coalesceMs?: number;
  /** How long after the first socket opens the set counts as complete; default 1500 ms. */
  readonly settleMs?: number;
  readonly maxRecordsPerInterface?: number;
  readonly requery?: RequeryPolicy;
  readonly onListenerError?: (err: unknown) => void;
}

export interface EmbeddedBrowserStats {
  /** Responses processed (attributed to the receiving socket's interface). */
  readonly packets: number;
  /** Packets multicast-dns could not decode (counted per receiving socket). */
  readonly badPackets: number;
  /** Decoded packets refused (wrong port, opcode, rcode; counted per receiving socket). */
  readonly refusedPackets: number;
  readonly invalidRecords: number;
  /** Packets whose source matched no interface (counted per receiving socket). */
  readonly unattributed: number;
  readonly droppedRecords: number;
  readonly queriesSent: number;
  readonly sendErrors: number;
  readonly interfaces: readonly string[];
}

interface SocketState {
  readonly socket: MdnsSocket;
  failing: boolean;
  errorReported: boolean;
}

interface IfaceState {
  readonly iface: MdnsInterface;
  readonly signature: string;
  readonly sockets: SocketState[];
  sent: number;
  queryTimer: object | number | undefined;
  limitReported: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class EmbeddedBrowser implements DcBrowser {
  readonly kind = 'embedded' as const;
  readonly #serviceType: string;
  readonly #clock: BrowserClock;
  readonly #random: () => number;
  readonly #listInterfaces: () => InterfaceTable;
  readonly #pollMs: number;
  readonly #openSocket: MdnsSocketFactory;
  readonly #settleMs: number;
  readonly #requery: RequeryPolicy;
  readonly #publisher: ServiceSetPublisher;
  readonly #cache: MdnsCache;
  readonly #ifaces = new Map<string, IfaceState>();
  #interfaces: MdnsInterface[] = [];
  #started = false;
  #running = false;
  #pollTimer: object | number | undefined;
  #cacheTimer: object | number | undefined;
  #settleTimer: object | number | undefined;
  #closing: Promise<void>[] = [];
  #unlistenAbort: (() => void) | undefined;
  readonly #stats: Mutable<Omit<EmbeddedBrowserStats, 'interfaces'>> = {
    packets: 0,
    badPackets: 0,
    refusedPackets: 0,
    invalidRecords: 0,
    unattributed: 0,
    droppedRecords: 0,
    queriesSent: 0,
    sendErrors: 0,
  };

  constructor(options: EmbeddedBrowserOptions = {}) {
    this.#serviceType = options.serviceType ?? NVME_DISC_SERVICE_TYPE;
    this.#clock = options.clock ?? systemBrowserClock;
    this.#random = options.random ?? Math.random;
    this.#listInterfaces = options.listInterfaces ?? networkInterfaces;
    this.#pollMs = options.interfacePollMs ?? 5000;
    this.#openSocket = options.openSocket ?? openMdnsSocket;
    this.#settleMs = options.settleMs ?? 1500;
    this.#requery = options.requery ?? DEFAULT_REQUERY;
    this.#publisher = new ServiceSetPublisher({
      clock: this.#clock,
      coalesceMs: options.coalesceMs,
      onListenerError: options.onListenerError,
    });
    this.#cache = new MdnsCache({
      serviceType: this.#serviceType,
      maxRecordsPerInterface: options.maxRecordsPerInterface,
      random: this.#random,
    });
  }

  on(listener: DcBrowserListener): () => void {
    return this.#publisher.on(listener);
  }

  state(): BrowserState {
    return this.#publisher.state();
  }

  snapshot(): Observation<readonly BrowsedService[]> {
    return this.#publisher.snapshot();
  }

  stats(): EmbeddedBrowserStats {
    return { ...this.#stats, interfaces: [...this.#ifaces.keys()] };
  }

  start(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    if (this.#started) return Promise.resolve();
    this.#started = true;
    const signal = options.signal;
    if (signal?.aborted === true) {
      this.#running = false;
      return Promise.resolve();
    }
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
    this.#scan();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    if (this.#running) {
      this.#running = false;
      this.#unlistenAbort?.();
      this.#unlistenAbort = undefined;
      for (const timer of [this.#pollTimer, this.#cacheTimer, this.#settleTimer]) {
        if (timer !== undefined) this.#clock.clearTimeout(timer);
      }
      this.#pollTimer = this.#cacheTimer = this.#settleTimer = undefined;
      for (const name of [...this.#ifaces.keys()]) this.#closeInterface(name);
      this.#publisher.setServices([]);
      this.#publisher.setState({ kind: 'unavailable', reason: 'stopped', detail: 'stopped' });
    }
    await Promise.all(this.#closing);
  }

  // ---- interfaces ----------------------------------------------------------------------------

  #scan(): void {
    if (!this.#running) return;
    let table: InterfaceTable;
    try {
      table = this.#listInterfaces();
    } catch {
      table = {};
    }
    const interfaces = mdnsInterfaces(table);
    this.#interfaces = interfaces;
    let setChanged = false;
    const wanted = new Map(interfaces.map((iface) => [iface.name, iface]));
    for (const [name, state] of [...this.#ifaces]) {
      const next = wanted.get(name);
      if (next === undefined) {
        this.#closeInterface(name);
        if (this.#cache.dropInterface(name)) setChanged = true;
      } else if (socketSignature(next) !== state.signature) {
        this.#closeInterface(name);
      }
    }
    for (const iface of interfaces) if (!this.#ifaces.has(iface.name)) this.#openInterface(iface);
    if (setChanged) this.#publish();
    this.#updateState();
    this.#pollTimer = this.#clock.setTimeout(() => {
      this.#pollTimer = undefined;
      this.#scan();
    }, this.#pollMs);
  }

  #updateState(): void {
    const current = this.#publisher.state().kind;
    if (this.#ifaces.size === 0) {
      if (this.#settleTimer !== undefined) this.#clock.clearTimeout(this.#settleTimer);
      this.#settleTimer = undefined;
      this.#publisher.setState({
        kind: 'unavailable',
        reason: 'no-interfaces',
        detail: 'no network interface that is up has an IP address',
      });
      return;
    }
    if (current === 'running' || this.#settleTimer !== undefined) return;
    this.#publisher.setState({ kind: 'starting' });
    this.#settleTimer = this.#clock.setTimeout(() => {
      this.#settleTimer = undefined;
      if (this.#running && this.#ifaces.size > 0) this.#publisher.setState({ kind: 'running' });
    }, this.#settleMs);
  }

  #openInterface(iface: MdnsInterface): void {
    const state: IfaceState = {
      iface,
      signature: socketSignature(iface),
      sockets: [],
      sent: 0,
      queryTimer: undefined,
      limitReported: false,
    };
    const families: (4 | 6)[] = [];
    if (iface.ipv4 !== undefined) families.push(4);
    if (iface.ipv6) families.push(6);
    for (const family of families) {
      const holder: { socket?: SocketState } = {};
      const socket = this.#openSocket(
        { iface: iface.name, family, ...(family === 4 ? { address: iface.ipv4 } : {}) },
        {
          onResponse: (packet, rinfo) => {
            // (A dual-stack socket would also see IPv4 packets, which the IPv4 socket handles.)
            if ((rinfo.family === 'IPv6' ? 6 : 4) === family) this.#onResponse(state, packet, rinfo);
          },
          onError: (err) => {
            const socketState = holder.socket;
            if (socketState === undefined || socketState.errorReported || !this.#running) return;
            socketState.errorReported = true;
            this.#publisher.problem('socket-error', `${iface.name} IPv${family}: ${err.message}`);
          },
          onBadPacket: () => {
            this.#stats.badPackets++;
          },
        },
      );
      holder.socket = { socket, failing: false, errorReported: false };
      state.sockets.push(holder.socket);
    }
    this.#ifaces.set(iface.name, state);
    this.#scheduleQuery(state, firstQueryDelayMs(this.#random, this.#requery));
  }

  #closeInterface(name: string): void {
    const state = this.#ifaces.get(name);
    if (state === undefined) return;
    this.#ifaces.delete(name);
    if (state.queryTimer !== undefined) this.#clock.clearTimeout(state.queryTimer);
    state.queryTimer = undefined;
    for (const { socket } of state.sockets) {
      const closing = socket.close().finally(() => {
        this.#closing = this.#closing.filter((p) => p !== closing);
      });
      this.#closing.push(closing);
    }
  }

  // ---- queries -------------------------------------------------------------------------------

  #scheduleQuery(state: IfaceState, delayMs: number): void {
    state.queryTimer = this.#clock.setTimeout(() => {
      state.queryTimer = undefined;
      if (!this.#running || this.#ifaces.get(state.iface.name) !== state) return;
      const known = this.#cache
        .knownAnswers(state.iface.name, this.#clock.now())
        .flatMap((record) =>
          record.type === 'PTR' ? [{ name: record.name, target: record.target, ttl: record.ttl }] : [],
        );
      this.#send(state, [{ name: this.#cache.serviceName, type: 'PTR' }], known);
      state.sent++;
      this.#scheduleQuery(state, requeryDelayMs(state.sent, this.#requery));
    }, delayMs);
  }

  #send(
    state: IfaceState,
    questions: readonly MdnsQuestion[],
    known: readonly { name: string; target: string; ttl: number }[] = [],
  ): void {
    const bytes = encodeQuery(questions, known, this.#cache.serviceName);
    if (bytes === null) return;
    for (const socketState of state.sockets) {
      this.#stats.queriesSent++;
      void socketState.socket.send(bytes).then((err) => {
        if (!this.#running) return;
        if (err === null) {
          socketState.failing = false;
          return;
        }
        this.#stats.sendErrors++;
        if (socketState.failing) return;
        socketState.failing = true;
        const family = socketState.socket.spec.family;
        this.#publisher.problem('send-failed', `${state.iface.name} IPv${family}: ${err.message}`);
      });
    }
  }

  // ---- responses and the cache ---------------------------------------------------------------

  #onResponse(state: IfaceState, packet: unknown, rinfo: RemoteInfo): void {
    if (!this.#running || this.#ifaces.get(state.iface.name) !== state) return;
    const targets = attributeSource(rinfo.address, this.#interfaces);
    if (targets.length === 0) {
      this.#stats.unattributed++;
      return;
    }
    if (!targets.includes(state.iface.name)) return; // another interface's socket takes it
    const check = checkResponse(packet, rinfo.port);
    if (!check.ok) {
      this.#stats.refusedPackets++;
      return;
    }
    this.#stats.packets++;
    this.#stats.invalidRecords += check.invalid.length;
    const now = this.#clock.now();
    const result = this.#cache.ingest(state.iface.name, check.records, now);
    if (result.dropped > 0) {
      this.#stats.droppedRecords += result.dropped;
      if (!state.limitReported) {
        state.limitReported = true;
        this.#publisher.problem(
          'service-limit',
          `${state.iface.name}: the mDNS cache is full; further records are ignored`,
        );
      }
    }
    if (result.followUps.length > 0) this.#send(state, result.followUps);
    if (result.changed) this.#publish();
    this.#armCacheTimer();
  }

  #publish(): void {
    this.#publisher.setServices(this.#cache.services());
  }

  #armCacheTimer(): void {
    if (this.#cacheTimer !== undefined) this.#clock.clearTimeout(this.#cacheTimer);
    this.#cacheTimer = undefined;
    const deadline = this.#cache.nextDeadline();
    if (deadline === undefined || !this.#running) return;
    this.#cacheTimer = this.#clock.setTimeout(
      () => {
        this.#cacheTimer = undefined;
        this.#onCacheTimer();
      },
      Math.max(0, deadline - this.#clock.now()),
    );
  }

  #onCacheTimer(): void {
    if (!this.#running) return;
    const now = this.#clock.now();
    if (this.#cache.expire(now)) this.#publish();
    for (const [name, questions] of this.#cache.dueRefreshes(now)) {
      const state = this.#ifaces.get(name);
      if (state !== undefined) this.#send(state, questions);
    }
    this.#armCacheTimer();
  }
}
