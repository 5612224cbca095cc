/**
 * Test doubles for the DC runner and the daemon: a scripted discovery session (FakeSession) and an
 * OpenSession factory that records what was asked and hands out FakeSessions (or fails), a fake mDNS
 * browser, and a logger that records its lines.
 *
 * Test-only: imported by *.test.ts files, never by daemon code. No I/O, no timers.
 *
 * Used by: runner.test.ts, daemon.test.ts
 */
import type {
  DiscoverySessionOptions,
  ReadLogOptions,
  SessionEvent,
} from '@stas/common/nvme/session/discovery-session';
import { EventQueue } from '@stas/common/nvme/session/event-queue';
import { decodeAsyncEvent } from '@stas/common/nvme/wire/admin-cmd';
import type { DiscoveryLogEntry } from '@stas/common/nvme/wire/discovery-log';
import { createLogger, type Logger } from '@stas/common/log/logger';
import { ClosedError, StasError } from '@stas/common/errors';
import type {
  BrowserState,
  BrowsedService,
  DcBrowser,
  DcBrowserListener,
} from '@stas/common/mdns/dc-browser';
import { observed, unknown, type Observation } from '@stas/common/util/observation';
import type { DcSession, OpenSession, SessionIdentify } from './dc-session.js';

/** A log page the fake session serves; `Error` makes the read fail. */
export type FakeLog = { readonly entries: readonly DiscoveryLogEntry[]; readonly genctr: bigint } | Error;

export class FakeSession implements DcSession {
  readonly options: DiscoverySessionOptions;
  readonly identify: SessionIdentify;
  readonly aenEnabled = true;
  readonly #events = new EventQueue<SessionEvent>();
  log: FakeLog;
  reads = 0;
  /** The options of every read, in order. */
  readonly readOptions: ReadLogOptions[] = [];
  /** When set, reads wait for release() (to test events during a read). */
  hold = false;
  #held: (() => void)[] = [];
  registrations: (string | undefined)[] = [];
  deregistrations: (string | undefined)[] = [];
  registerError: Error | undefined;
  closed = false;

  constructor(options: DiscoverySessionOptions, log: FakeLog, dctype = 0) {
    this.options = options;
    this.log = log;
    this.identify = { dctype, cntrltype: 2, mn: 'fake dc', sn: 'sn1', fr: '1.0', cntlid: 1 };
  }

  get events(): AsyncIterable<SessionEvent> {
    return this.#events;
  }

  async readDiscoveryLog(options: ReadLogOptions = {}): Promise<{
    genctr: bigint;
    header: { genctr: bigint; numrec: bigint; recfmt: number; dlpf: number };
    entries: readonly DiscoveryLogEntry[];
    roundTrips: number;
    lsp: number;
  }> {
    if (this.closed) throw new ClosedError('fake', 'closed');
    this.reads++;
    this.readOptions.push(options);
    if (this.hold) await new Promise<void>((resolve) => this.#held.push(resolve));
    const log = this.log;
    if (log instanceof Error) throw log;
    // As the real log reader: a page above the read's entry limit is refused, naming the setting.
    if (options.maxEntries !== undefined && log.entries.length > options.maxEntries) {
      const setBy = options.maxEntriesSetting === undefined ? '' : ` (set by ${options.maxEntriesSetting})`;
      throw new StasError(
        'NVME_DLP_TOO_LARGE',
        `fake: discovery log: NUMREC ${log.entries.length} exceeds the limit of ${options.maxEntries} entries${setBy}`,
      );
    }
    const header = { genctr: log.genctr, numrec: BigInt(log.entries.length), recfmt: 0, dlpf: 0 };
    return { genctr: log.genctr, header, entries: log.entries, roundTrips: 1, lsp: 0 };
  }

  /** Let held reads complete. */
  release(): void {
    this.hold = false;
    for (const r of this.#held.splice(0)) r();
  }

  register(info: { symname?: string }): Promise<number> {
    if (this.registerError !== undefined) return Promise.reject(this.registerError);
    this.registrations.push(info.symname);
    return Promise.resolve(0);
  }

  deregister(info: { symname?: string }): Promise<number> {
    this.deregistrations.push(info.symname);
    return Promise.resolve(0);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.#events.end({ kind: 'close', error: undefined });
    }
    return Promise.resolve();
  }

  /** A discovery log change AEN. */
  aen(): void {
    const dw0 = 0x0070f002;
    this.#events.push({ kind: 'aen', dw0, event: decodeAsyncEvent(dw0), logChanged: true });
  }

  /** The peer went away. */
  lose(message = 'connection reset'): void {
    this.closed = true;
    this.#events.end({ kind: 'close', error: new ClosedError('fake', message, { byPeer: true }) });
  }
}

/** Hands out FakeSessions in order; `fail` makes the next opens reject. */
export class FakeOpener {
  readonly sessions: FakeSession[] = [];
  readonly attempts: DiscoverySessionOptions[] = [];
  log: FakeLog = { entries: [], genctr: 1n };
  dctype = 0;
  fail: Error | undefined;
  /** Registrations on the next sessions fail with this. */
  registerError: Error | undefined;
  /** When set, opens wait until openNow() (to test a stop during an open). */
  hold = false;
  #held: (() => void)[] = [];

  readonly open: OpenSession = async (options, control) => {
    this.attempts.push(options);
    if (this.hold) {
      await new Promise<void>((resolve) => this.#held.push(resolve));
    } else if (control.signal?.aborted === true) {
      throw new StasError('ABORTED', 'aborted');
    }
    if (this.fail !== undefined) throw this.fail;
    const session = new FakeSession(options, this.log, this.dctype);
    session.registerError = this.registerError;
    this.sessions.push(session);
    return session;
  };

  openNow(): void {
    this.hold = false;
    for (const r of this.#held.splice(0)) r();
  }

  /** Sessions opened to `port` (trsvcid). */
  to(port: string): FakeSession[] {
    return this.sessions.filter((s) => String(s.options.trsvcid) === port);
  }
}

export interface RecordedLog {
  readonly log: Logger;
  readonly lines: { level: number; msg: string; [key: string]: unknown }[];
}

/** A debug-level logger that keeps its records in memory. */
export function recordedLogger(): RecordedLog {
  const lines: RecordedLog['lines'] = [];
  const log = createLogger({
    name: 'test',
    level: 'debug',
    format: 'json',
    sink: {
      write: (line) => {
        lines.push(JSON.parse(line) as RecordedLog['lines'][number]);
      },
    },
  });
  return { log, lines };
}

/** A DcBrowser driven by the test. */
export class FakeBrowser implements DcBrowser {
  readonly kind = 'embedded' as const;
  readonly #listeners = new Set<DcBrowserListener>();
  #services: BrowsedService[] = [];
  #state: BrowserState = { kind: 'unavailable', reason: 'stopped', detail: 'not started' };
  starts = 0;
  stops = 0;

  start(): Promise<void> {
    this.starts++;
    this.setState({ kind: 'running' });
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stops++;
    this.setState({ kind: 'unavailable', reason: 'stopped', detail: 'stopped' });
    return Promise.resolve();
  }

  on(listener: DcBrowserListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  state(): BrowserState {
    return this.#state;
  }

  snapshot(): Observation<readonly BrowsedService[]> {
    return this.#state.kind === 'running' ? observed(this.#services) : unknown('not-running');
  }

  announce(services: BrowsedService[]): void {
    this.#services = services;
    for (const l of [...this.#listeners]) l({ type: 'services-changed', services });
  }

  setState(state: BrowserState): void {
    this.#state = state;
    for (const l of [...this.#listeners]) l({ type: 'state', state });
  }
}

/** An `_nvme-disc._tcp` service announcing a DC. */
export function browsedService(address: string, port: number, iface = 'eth0'): BrowsedService {
  return {
    name: `dc ${address}:${port}`,
    host: 'dc.local',
    protocol: address.includes(':') ? 'ipv6' : 'ipv4',
    iface,
    address,
    port,
    txt: new Map([['p', 'tcp']]),
  };
}
