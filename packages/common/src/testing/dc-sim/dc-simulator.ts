/**
 * DcSimulator: a discovery controller that speaks real NVMe/TCP on loopback, for tests (and later
 * `stafd --demo` and benchmarks). It listens on 127.0.0.1 (or ::1), serves any number of host
 * connections, keeps the discovery log (entries + GENCTR) and the DIM registrations, and gives tests a
 * control API: change the log (AENs follow nvmet's rules), inspect connections and round-trip counts,
 * inject deterministic faults, wait for typed events instead of sleeping.
 *
 * Touches: one TCP server, its sockets, and timers (KATO, response delays, waitFor timeouts); close()
 * releases all of them, so a test can assert that no handle is left. Never logs. start() rejects with
 * the listen error (e.g. EADDRINUSE), StasError DCSIM_BAD_OPTION, or WireError WIRE_ENCODE_RANGE for an
 * entry or Identify override that does not fit (setEntries/addEntry throw the same); waitFor() and
 * waitUntil() reject with StasError DCSIM_TIMEOUT, or DCSIM_CLOSED when the simulator closes first.
 *
 * AEN semantics (nvmet, `__nvmet_disc_changed`): a log change raises the discovery AEN on a connection
 * only if the host enabled it (Set Features 0x0B b31) and it is not masked; raising it masks it until
 * the host reads LID 0x70 with RAE=0. A raised AEN goes to an outstanding AER, or waits for the next
 * AER; a change while masked or not enabled is not remembered.
 *
 * Used by: tests of nvme/session, stafd/stacd integration tests, dc-sim-main.ts
 * Tests:   dc-simulator.test.ts, dc-sim-faults.test.ts
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { StasError } from '../../errors.js';
import { encodeDiscoveryLogEntry, type DiscoveryLogEntry } from '../../nvme/wire/discovery-log.js';
import { SimConnection, type ConnectionHost } from './dc-sim-connection.js';
import { currentDiscoveryEntry, referralEntry, sameEntry, type DcAddress } from './dc-sim-entries.js';
import type {
  DcSimConnectionInfo,
  DcSimEvents,
  DcSimRegistration,
  DcSimRoundTrips,
} from './dc-sim-events.js';
import { FaultPlan } from './dc-sim-fault-plan.js';
import { identifyControllerData } from './dc-sim-log.js';
import {
  checkFaults,
  resolveOptions,
  type DcSimCommandName,
  type DcSimFaults,
  type DcSimOptions,
  type ResolvedDcSimOptions,
} from './dc-sim-options.js';

export type { DcSimOptions, DcSimFaults } from './dc-sim-options.js';
export type * from './dc-sim-events.js';

/** Default timeout of waitFor()/waitUntil(). */
export const DEFAULT_WAIT_MS = 5000;

export interface WaitOptions {
  /** Reject with DCSIM_TIMEOUT after this many ms; default 5000. */
  readonly timeoutMs?: number;
}

interface Waiter {
  /** Re-check a predicate; true when the waiter is done. */
  poke(): boolean;
  cancel(err: Error): void;
}

const GENCTR_MAX = 0xffff_ffff_ffff_ffffn;

/** Throws WireError WIRE_ENCODE_RANGE for an entry whose fields do not fit the log page. */
function checkEntries(entries: readonly DiscoveryLogEntry[]): void {
  for (const e of entries) encodeDiscoveryLogEntry(e);
}

function registrationKey(hostnqn: string, hostid: string | undefined): string {
  return `${hostnqn}\u0000${hostid ?? ''}`;
}

export class DcSimulator extends EventEmitter<DcSimEvents> implements DcAddress {
  readonly options: ResolvedDcSimOptions;
  /** Listen address. */
  readonly host: string;
  /** Listen port (the ephemeral one when options.port was 0). */
  readonly port: number;
  /** The DC's NQN (Identify SUBNQN). */
  readonly subnqn: string;
  readonly #server: Server;
  readonly #connections = new Map<number, SimConnection>();
  readonly #connectionHost: ConnectionHost;
  #nextId = 1;
  #nextCntlid: number;
  #genctr: bigint;
  #entries: DiscoveryLogEntry[];
  #faults: FaultPlan;
  #stalled = false;
  readonly #registrations = new Map<string, DcSimRegistration>();
  #total = 0;
  #byCommand: Partial<Record<DcSimCommandName, number>> = {};
  readonly #waiters = new Set<Waiter>();
  #closing: Promise<void> | undefined;

  private constructor(options: ResolvedDcSimOptions, server: Server, port: number) {
    super();
    this.options = options;
    this.host = options.host;
    this.port = port;
    this.subnqn = options.subnqn;
    this.#server = server;
    this.#nextCntlid = options.firstCntlid;
    this.#genctr = options.genctr;
    this.#entries = [...options.entries];
    this.#faults = new FaultPlan(options.faults);
    // The narrow view a connection gets of its simulator.
    const untyped = this.#untyped();
    const state = (): {
      faults: FaultPlan;
      stalled: boolean;
      genctr: bigint;
      entries: DiscoveryLogEntry[];
    } => ({
      faults: this.#faults,
      stalled: this.#stalled,
      genctr: this.#genctr,
      entries: this.#entries,
    });
    this.#connectionHost = {
      options,
      get faults() {
        return state().faults;
      },
      get stalled() {
        return state().stalled;
      },
      get genctr() {
        return state().genctr;
      },
      get entries() {
        return state().entries;
      },
      bumpGenctrSilently: () => {
        this.#bump(false);
      },
      nextCntlid: () => {
        const id = this.#nextCntlid;
        this.#nextCntlid = id >= 0xffef ? 1 : id + 1;
        return id;
      },
      countCommand: (name) => {
        this.#total++;
        this.#byCommand[name] = (this.#byCommand[name] ?? 0) + 1;
      },
      register: (registration) => {
        this.#registrations.set(registrationKey(registration.hostnqn, registration.hostid), registration);
        this.emit('registered', registration);
      },
      deregister: (connectionId, hostnqn, hostid) => {
        this.#registrations.delete(registrationKey(hostnqn, hostid));
        this.emit('deregistered', { connectionId, hostnqn, hostid });
      },
      emit: (event, ...args) => {
        untyped.emit(event, ...args);
      },
      changed: () => {
        this.#poke();
      },
      released: (connection) => {
        this.#connections.delete(connection.id);
      },
    };
    server.on('connection', (socket: Socket) => {
      this.#accept(socket);
    });
  }

  /** Listen and resolve once the port is bound. */
  static async start(options: DcSimOptions = {}): Promise<DcSimulator> {
    const resolved = resolveOptions(options);
    // Encode once so that a field that does not fit fails here, not on a host's connection.
    checkEntries(resolved.entries);
    identifyControllerData(resolved, resolved.firstCntlid);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(err);
      };
      server.once('error', onError);
      server.listen({ host: resolved.host, port: resolved.port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : resolved.port;
    return new DcSimulator(resolved, server, port);
  }

  // -------------------------------------------------------------------------------------------------
  // Discovery log

  get genctr(): bigint {
    return this.#genctr;
  }

  get entries(): readonly DiscoveryLogEntry[] {
    return this.#entries;
  }

  /** Replace the log: GENCTR + 1 and the discovery AEN to every connection that can take it. */
  setEntries(entries: readonly DiscoveryLogEntry[]): void {
    checkEntries(entries);
    this.#entries = [...entries];
    this.#bump(true);
  }

  addEntry(entry: DiscoveryLogEntry): void {
    checkEntries([entry]);
    this.#entries.push(entry);
    this.#bump(true);
  }

  /**
   * Remove the entries equal to `match` (same SUBTYPE, TRTYPE, TRADDR, TRSVCID, SUBNQN, PORTID) or for
   * which it returns true. Returns how many were removed; GENCTR changes (with AEN) only if some were.
   */
  removeEntry(match: DiscoveryLogEntry | ((entry: DiscoveryLogEntry) => boolean)): number {
    const test = typeof match === 'function' ? match : (e: DiscoveryLogEntry) => sameEntry(e, match);
    const before = this.#entries.length;
    this.#entries = this.#entries.filter((e) => !test(e));
    const removed = before - this.#entries.length;
    if (removed > 0) this.#bump(true);
    return removed;
  }

  /** GENCTR + 1 without content change, with the AEN as for a real change. */
  bumpGenctr(): void {
    this.#bump(true);
  }

  /** A referral entry (SUBTYPE 1) pointing at this simulator, to put in another simulator's log. */
  referralEntry(fields: Partial<DiscoveryLogEntry> = {}): DiscoveryLogEntry {
    return referralEntry(this, fields);
  }

  /** This DC's own current-discovery-subsystem entry (SUBTYPE 3), with its PORTID. */
  currentDiscoveryEntry(fields: Partial<DiscoveryLogEntry> = {}): DiscoveryLogEntry {
    return currentDiscoveryEntry(this, { portid: this.options.portid, ...fields });
  }

  #bump(notify: boolean): void {
    this.#genctr = this.#genctr >= GENCTR_MAX ? 0n : this.#genctr + 1n;
    this.emit('log-changed', { genctr: this.#genctr, notify });
    if (notify) for (const c of this.#connections.values()) c.notifyDiscoveryChange();
    this.#poke();
  }

  // -------------------------------------------------------------------------------------------------
  // Inspection

  /** Snapshots of the live connections, in accept order. */
  get connections(): DcSimConnectionInfo[] {
    return [...this.#connections.values()].map((c) => c.info());
  }

  /** Snapshot of one live connection. */
  connection(id: number): DcSimConnectionInfo | undefined {
    return this.#connections.get(id)?.info();
  }

  /** Current DIM registrations (keyed by host NQN + host ID), in registration order. */
  get registrations(): DcSimRegistration[] {
    return [...this.#registrations.values()];
  }

  /** Command capsules received since start (or resetRoundTrips), over all connections. */
  get roundTrips(): DcSimRoundTrips {
    return { total: this.#total, byCommand: { ...this.#byCommand } };
  }

  /** Zero the simulator-wide counts (per-connection counts are kept). */
  resetRoundTrips(): void {
    this.#total = 0;
    this.#byCommand = {};
  }

  // -------------------------------------------------------------------------------------------------
  // Faults

  get faults(): DcSimFaults {
    return this.#faults.faults;
  }

  /** Replace the fault plan; its counters start again from zero. Throws DCSIM_BAD_OPTION. */
  setFaults(faults: DcSimFaults): void {
    this.#faults = new FaultPlan(checkFaults(faults));
  }

  /** Complete the next `count` AERs (of hosts that enabled discovery notices) at once with the AEN. */
  floodAens(count: number): void {
    this.#faults.addAenFlood(count);
  }

  get stalled(): boolean {
    return this.#stalled;
  }

  /** Stop answering on every connection (keep-alive included); KATO timers freeze. */
  stall(): void {
    this.#stalled = true;
    for (const c of this.#connections.values()) c.pause();
  }

  /** End the simulator-wide stall and every per-connection stall; queued commands are answered. */
  resume(): void {
    this.#stalled = false;
    for (const c of [...this.#connections.values()]) c.resume();
    this.#poke();
  }

  /** Close every live connection at once (a target restart, as the host sees it). */
  dropConnections(): void {
    for (const c of [...this.#connections.values()]) c.destroy('simulator-closed');
  }

  // -------------------------------------------------------------------------------------------------
  // Waiting

  /**
   * The next `event` (for which `filter` returns true), as its payload. Rejects with DCSIM_TIMEOUT, or
   * DCSIM_CLOSED if the simulator closes first.
   */
  waitFor<K extends keyof DcSimEvents>(
    event: K,
    options: WaitOptions & { readonly filter?: (payload: DcSimEvents[K][0]) => boolean } = {},
  ): Promise<DcSimEvents[K][0]> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    return new Promise((resolve, reject) => {
      if (this.#closing !== undefined) {
        reject(new StasError('DCSIM_CLOSED', `DC simulator closed before '${event}'`));
        return;
      }
      const emitter = this.#untyped();
      const listener = (payload: DcSimEvents[K][0]): void => {
        if (options.filter !== undefined && !options.filter(payload)) return;
        finish();
        resolve(payload);
      };
      const finish = (): void => {
        clearTimeout(timer);
        emitter.off(event, listener);
        this.#waiters.delete(waiter);
      };
      const waiter: Waiter = {
        poke: () => false,
        cancel: (err) => {
          finish();
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        waiter.cancel(new StasError('DCSIM_TIMEOUT', `DC simulator: no '${event}' within ${timeoutMs} ms`));
      }, timeoutMs);
      emitter.on(event, listener);
      this.#waiters.add(waiter);
    });
  }

  /**
   * Resolve once `predicate()` is true; it is checked now and after every event and state change.
   * Rejects with DCSIM_TIMEOUT or DCSIM_CLOSED.
   */
  waitUntil(predicate: () => boolean, options: WaitOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    return new Promise((resolve, reject) => {
      if (predicate()) {
        resolve();
        return;
      }
      if (this.#closing !== undefined) {
        reject(new StasError('DCSIM_CLOSED', 'DC simulator closed before the condition held'));
        return;
      }
      const finish = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      const waiter: Waiter = {
        poke: () => {
          if (!predicate()) return false;
          finish();
          resolve();
          return true;
        },
        cancel: (err) => {
          finish();
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        waiter.cancel(
          new StasError('DCSIM_TIMEOUT', `DC simulator: condition not met within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** This emitter without the event map, to pass a generic event name through (TypeScript cannot
   * check a generic K against the map). */
  #untyped(): EventEmitter {
    return this;
  }

  #poke(): void {
    for (const w of [...this.#waiters]) w.poke();
  }

  // -------------------------------------------------------------------------------------------------
  // Lifecycle

  #accept(socket: Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    const id = this.#nextId++;
    const connection = new SimConnection(id, socket, this.#connectionHost);
    this.#connections.set(id, connection);
    this.emit('connection', connection.info());
    this.#poke();
  }

  /**
   * Stop listening, close every connection and clear every timer; resolves when the server and all
   * sockets have closed. Pending waitFor()/waitUntil() calls reject with DCSIM_CLOSED. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
    const connections = [...this.#connections.values()];
    for (const c of connections) c.destroy('simulator-closed');
    await Promise.all([serverClosed, ...connections.map((c) => c.whenClosed)]);
    for (const w of [...this.#waiters]) w.cancel(new StasError('DCSIM_CLOSED', 'DC simulator closed'));
    // net.Server emits 'close' before libuv has released the listening handle (its close callback runs
    // in the closing phase of the loop); two loop turns let it finish, so nothing is left when we resolve.
    for (let turn = 0; turn < 2; turn++) {
      await new Promise<void>((resolve) => {
        setImmediate(resolve);
      });
    }
  }
}
