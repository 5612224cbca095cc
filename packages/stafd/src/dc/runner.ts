/**
 * DcRunner: owns one Discovery Controller. It feeds events to the pure state
 * machine (machine.ts) and carries out the effects it returns: open a
 * discovery session with the DC's TID (host NQN/ID from the TID, KATO,
 * digests), register/deregister with DIM (with the symbolic name), read the
 * log page (PLEO per config, refusing a page above the entry limit), arm and
 * cancel timers. Session AENs become `aen` events, a session that ends on its
 * own becomes `session-lost`.
 *
 * It keeps the DC's last log page (entries after sanitizeEntries, GENCTR, when
 * it was fetched, and whether it is stale: loaded from the cache and not read
 * again yet), connection counters and the Identify summary, for D-Bus.
 *
 * Ownership: the runner's AbortController (plus one per session) owns every
 * timer, session and in-flight operation. stop() is idempotent: it cancels
 * timers, deregisters if registered, closes the session and resolves when
 * nothing is left (no timer, no socket, no pending promise). Operations that
 * complete for a session that is no longer current are ignored (generation
 * counter), so a late reply can never act on a new connection.
 *
 * Failures never escape: every failure of the session becomes a machine
 * event; logging follows the machine's transitions (first failure and
 * recovery at warn/info, repetitions and dropped entries at debug).
 *
 * Used by: daemon.ts
 * Tests:   runner.test.ts (fake session and clock)
 */
import { NvmeStatusError, StasError, describeError } from '@stas/common/errors';
import type { Logger } from '@stas/common/log/logger';
import type { Clock, TimerHandle } from '@stas/common/nvme/session/clock';
import type { DiscoverySessionOptions } from '@stas/common/nvme/session/discovery-session';
import { formatTid, type Tid } from '@stas/common/nvme/tid';
import { Trtype, sanitizeEntries, type DiscoveryLogEntry } from '@stas/common/nvme/wire/discovery-log';
import type { DcSession, OpenSession, SessionIdentify } from './dc-session.js';
import { logPageState, sameEntries, type LogPage, type LogPageState } from './log-page.js';
import {
  INITIAL_DC_STATE,
  step,
  type DcEffect,
  type DcError,
  type DcEvent,
  type DcPolicy as MachinePolicy,
  type DcState,
  type DcTimer,
  type Dctype,
} from './machine.js';

export type { LogPage } from './log-page.js';

/** Where DcSettings.maxEntries is set, named by the error of a page above it. */
export const LOG_ENTRY_LIMIT_SETTING = '[Limits] max-log-page-entries';

/** Connection parameters of one DC (from stafd.conf and sys.conf); not part of its identity. */
export interface DcSettings {
  readonly symname: string | null;
  /** KATO sent in Connect; 0 = none. */
  readonly katoMs: number;
  readonly hdgst: boolean;
  readonly ddgst: boolean;
  /** Ask for port-local entries only (when the DC supports it, never a CDC). */
  readonly pleo: boolean;
  /** Largest log page (NUMREC) read; a larger one is refused after its header (NVME_DLP_TOO_LARGE). */
  readonly maxEntries: number;
  readonly policy: MachinePolicy;
}

export interface RunnerDeps {
  readonly openSession: OpenSession;
  readonly clock: Clock;
  readonly random: () => number;
  /** Wall-clock time (ms since the epoch) for `fetchedAt`. */
  readonly now: () => number;
  readonly log: Logger;
  /** Extra session options (test hooks: timeouts, interface table). */
  readonly sessionOptions?: Partial<DiscoverySessionOptions>;
}

export interface PageChange {
  /** The entries differ from the previous page (or there was none). */
  readonly entriesChanged: boolean;
  /** The previous entries; null when the page was unknown. */
  readonly previous: readonly DiscoveryLogEntry[] | null;
  /** What the page was before this read. */
  readonly previousState: LogPageState;
}

export interface RunnerHooks {
  /** A log page was read (changed or not). */
  readonly onPage?: (runner: DcRunner, change: PageChange) => void;
  /** `connected` flipped. */
  readonly onConnectedChange?: (runner: DcRunner) => void;
}

export interface DcCounters {
  readonly sessionsOpened: number;
  readonly openFailures: number;
  readonly logReads: number;
  readonly logReadFailures: number;
  readonly logChanges: number;
  readonly aens: number;
  readonly registrations: number;
  readonly registrationFailures: number;
}

export interface ArmedTimer {
  readonly ms: number;
  /** Clock time it fires at. */
  readonly dueAt: number;
}

export interface RunnerSnapshot {
  readonly tid: Tid;
  readonly state: DcState;
  readonly page: LogPage | null;
  readonly identify: SessionIdentify | null;
  readonly counters: DcCounters;
  readonly timers: Readonly<Partial<Record<DcTimer, ArmedTimer>>>;
  readonly settings: DcSettings;
}

/** How long a deregistration may take at stop before the session is closed anyway. */
export const DEREGISTER_TIMEOUT_MS = 2000;

function dctypeOf(value: number): Dctype {
  return value === 1 ? 'ddc' : value === 2 ? 'cdc' : 'none';
}

function dcError(err: unknown): DcError {
  const code = err instanceof StasError ? err.code : 'ERROR';
  return { code, message: describeError(err).split('\n')[0] ?? '' };
}

type MutableCounters = { -readonly [K in keyof DcCounters]: number };

export class DcRunner {
  readonly tid: Tid;
  readonly #deps: RunnerDeps;
  readonly #hooks: RunnerHooks;
  readonly #log: Logger;
  readonly #owner = new AbortController();
  readonly #pending = new Set<Promise<void>>();
  readonly #timers = new Map<DcTimer, { handle: TimerHandle; armed: ArmedTimer }>();
  readonly #counters: MutableCounters = {
    sessionsOpened: 0,
    openFailures: 0,
    logReads: 0,
    logReadFailures: 0,
    logChanges: 0,
    aens: 0,
    registrations: 0,
    registrationFailures: 0,
  };
  #settings: DcSettings;
  #state: DcState = INITIAL_DC_STATE;
  #page: LogPage | null;
  #identify: SessionIdentify | null = null;
  #session: DcSession | undefined;
  #sessionCtl: AbortController | undefined;
  /** Bumped whenever the current session changes; results of older operations are dropped. */
  #generation = 0;
  #stopping: Promise<void> | undefined;
  #resolveStopped: () => void = () => undefined;
  readonly #stopped: Promise<void>;

  constructor(tid: Tid, settings: DcSettings, deps: RunnerDeps, hooks: RunnerHooks = {}, page?: LogPage) {
    this.tid = tid;
    this.#settings = settings;
    this.#deps = deps;
    this.#hooks = hooks;
    this.#page = page ?? null;
    this.#log = deps.log.child({ dc: formatTid(tid) });
    this.#stopped = new Promise((resolve) => (this.#resolveStopped = resolve));
    // Whatever the machine did, nothing outlives the runner.
    this.#owner.signal.addEventListener('abort', () => {
      for (const { handle } of this.#timers.values()) deps.clock.clearTimeout(handle);
      this.#timers.clear();
    });
  }

  // ---- what the daemon and D-Bus read ----------------------------------------------------------

  get state(): DcState {
    return this.#state;
  }

  get connected(): boolean {
    return this.#state.connected;
  }

  get page(): LogPage | null {
    return this.#page;
  }

  get settings(): DcSettings {
    return this.#settings;
  }

  get started(): boolean {
    return this.#state.phase !== 'idle';
  }

  snapshot(): RunnerSnapshot {
    const timers: Partial<Record<DcTimer, ArmedTimer>> = {};
    for (const [name, { armed }] of this.#timers) timers[name] = armed;
    return {
      tid: this.tid,
      state: this.#state,
      page: this.#page,
      identify: this.#identify,
      counters: { ...this.#counters },
      timers,
      settings: this.#settings,
    };
  }

  // ---- control ---------------------------------------------------------------------------------

  /** Begin (open the session). Idempotent; no-op after stop(). */
  start(): void {
    if (this.#stopping !== undefined) return;
    this.#dispatch({ kind: 'start' });
  }

  /** Re-register and re-read now (or try to connect now when waiting for a retry). */
  resync(): void {
    if (this.#stopping !== undefined) return;
    this.#dispatch({ kind: 'resync' });
  }

  /**
   * New connection parameters. They apply at the next session (the identity, hence the session, is
   * unchanged) and the entry limit at the next read; a new symbolic name is sent at once by
   * re-registering, and a raised entry limit re-reads at once a page the old one refused.
   */
  updateSettings(settings: DcSettings): void {
    const before = this.#settings;
    this.#settings = settings;
    if (settings.symname !== before.symname && this.#state.registered) {
      this.#log.info({ symname: settings.symname }, 'symbolic name changed; registering again');
      this.resync();
    } else if (
      settings.maxEntries > before.maxEntries &&
      this.#state.lastError?.code === 'NVME_DLP_TOO_LARGE'
    ) {
      this.#log.debug({ maxEntries: settings.maxEntries }, 'entry limit raised; reading the log page again');
      this.resync();
    }
  }

  /** Stop: cancel timers, deregister if registered, close the session. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#dispatch({ kind: 'stop' });
    await this.#stopped;
    this.#owner.abort(new StasError('STAFD_DC_STOPPED', 'discovery controller stopped'));
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  // ---- the machine -----------------------------------------------------------------------------

  #dispatch(event: DcEvent): void {
    const before = this.#state;
    const { state, effects } = step(before, event, {
      now: this.#deps.clock.now(),
      random: this.#deps.random,
      policy: this.#settings.policy,
    });
    this.#state = state;
    if (state.phase !== before.phase) {
      this.#log.debug({ event: event.kind, from: before.phase, to: state.phase }, 'state');
    }
    for (const effect of effects) this.#apply(effect);
    if (state.connected !== before.connected) this.#hooks.onConnectedChange?.(this);
    if (state.phase === 'stopped') this.#resolveStopped();
  }

  #apply(effect: DcEffect): void {
    switch (effect.kind) {
      case 'open-session':
        this.#openSession();
        return;
      case 'register':
        this.#register();
        return;
      case 'read-log':
        this.#readLog();
        return;
      case 'close-session':
        this.#closeSession(effect.deregister);
        return;
      case 'arm-timer':
        this.#arm(effect.timer, effect.ms);
        return;
      case 'cancel-timers':
        for (const { handle } of this.#timers.values()) this.#deps.clock.clearTimeout(handle);
        this.#timers.clear();
        return;
      case 'log':
        this.#log[effect.level](effect.message);
        return;
    }
  }

  #arm(timer: DcTimer, ms: number): void {
    const clock = this.#deps.clock;
    const old = this.#timers.get(timer);
    if (old !== undefined) clock.clearTimeout(old.handle);
    const handle = clock.setTimeout(() => {
      this.#timers.delete(timer);
      this.#dispatch({ kind: 'timer', timer });
    }, ms);
    this.#timers.set(timer, { handle, armed: { ms, dueAt: clock.now() + ms } });
  }

  /** Run an async operation owned by the runner; stop() waits for it. */
  #track(work: () => Promise<void>): void {
    const promise = work().catch((err: unknown) => {
      this.#log.error({ err }, 'unexpected failure in the discovery controller runner');
    });
    this.#pending.add(promise);
    void promise.finally(() => this.#pending.delete(promise));
  }

  #openSession(): void {
    const generation = ++this.#generation;
    const ctl = new AbortController();
    this.#sessionCtl = ctl;
    const tid = this.tid;
    const s = this.#settings;
    const options: DiscoverySessionOptions = {
      ...this.#deps.sessionOptions,
      traddr: tid.traddr,
      trsvcid: tid.trsvcid,
      subsysnqn: tid.subsysnqn,
      hostnqn: tid.hostNqn,
      hostid: tid.hostId,
      katoMs: s.katoMs,
      hdgst: s.hdgst,
      ddgst: s.ddgst,
      ...(tid.hostTraddr !== '' ? { hostTraddr: tid.hostTraddr } : {}),
      ...(tid.hostIface !== '' ? { hostIface: tid.hostIface } : {}),
    };
    this.#track(async () => {
      let session: DcSession;
      try {
        session = await this.#deps.openSession(options, {
          signal: AbortSignal.any([ctl.signal, this.#owner.signal]),
        });
      } catch (err) {
        if (generation !== this.#generation || ctl.signal.aborted) return;
        this.#counters.openFailures++;
        this.#log.debug({ err: describeError(err) }, 'session not opened');
        this.#dispatch({ kind: 'open-failed', error: dcError(err) });
        return;
      }
      if (generation !== this.#generation || ctl.signal.aborted) {
        await session.close().catch(() => undefined);
        return;
      }
      this.#session = session;
      this.#identify = {
        dctype: session.identify.dctype,
        cntrltype: session.identify.cntrltype,
        mn: session.identify.mn,
        sn: session.identify.sn,
        fr: session.identify.fr,
        cntlid: session.identify.cntlid,
      };
      this.#counters.sessionsOpened++;
      this.#log.debug({ cntlid: session.identify.cntlid, aen: session.aenEnabled }, 'session open');
      this.#pump(session, generation);
      this.#dispatch({ kind: 'opened', dctype: dctypeOf(session.identify.dctype) });
    });
  }

  /** Forward the session's events while it is the current one; drain them to the end either way. */
  #pump(session: DcSession, generation: number): void {
    this.#track(async () => {
      for await (const event of session.events) {
        if (generation !== this.#generation) continue;
        switch (event.kind) {
          case 'aen':
            this.#counters.aens++;
            this.#log.debug({ dw0: `0x${event.dw0.toString(16)}`, logChanged: event.logChanged }, 'AEN');
            if (event.logChanged) this.#dispatch({ kind: 'aen' });
            break;
          case 'aen-stopped':
            this.#log.warn({ err: event.error.message }, 'the DC stopped sending change notices');
            break;
          case 'close': {
            this.#generation++;
            this.#session = undefined;
            this.#sessionCtl?.abort(event.error);
            const error = event.error ?? new StasError('NVME_CLOSED', 'session closed');
            this.#dispatch({ kind: 'session-lost', error: dcError(error) });
            break;
          }
        }
      }
    });
  }

  #register(): void {
    const session = this.#session;
    const generation = this.#generation;
    if (session === undefined) return;
    const signal = this.#sessionCtl?.signal;
    const symname = this.#settings.symname;
    this.#track(async () => {
      try {
        await session.register(symname === null ? {} : { symname }, signal === undefined ? {} : { signal });
      } catch (err) {
        if (generation !== this.#generation) return;
        this.#counters.registrationFailures++;
        // An NVMe status with DNR set will not change by retrying.
        const retry = !(err instanceof NvmeStatusError && err.dnr);
        this.#dispatch({ kind: 'register-failed', error: dcError(err), retry });
        return;
      }
      if (generation !== this.#generation) return;
      this.#counters.registrations++;
      this.#dispatch({ kind: 'registered' });
    });
  }

  #readLog(): void {
    const session = this.#session;
    const generation = this.#generation;
    if (session === undefined) return;
    const signal = this.#sessionCtl?.signal;
    const pleo = this.#settings.pleo;
    const maxEntries = this.#settings.maxEntries;
    this.#track(async () => {
      let entries: readonly DiscoveryLogEntry[];
      let genctr: bigint;
      try {
        const read = await session.readDiscoveryLog({
          pleo,
          maxEntries,
          maxEntriesSetting: LOG_ENTRY_LIMIT_SETTING,
          ...(signal === undefined ? {} : { signal }),
        });
        entries = read.entries;
        genctr = read.genctr;
      } catch (err) {
        if (generation !== this.#generation) return;
        this.#counters.logReadFailures++;
        this.#dispatch({ kind: 'log-failed', error: dcError(err) });
        return;
      }
      if (generation !== this.#generation) return;
      const { kept, dropped } = sanitizeEntries(entries, { sessionTransport: Trtype.Tcp });
      for (const { entry, reason } of dropped) {
        this.#log.debug(
          { reason, traddr: entry.traddr, trsvcid: entry.trsvcid, subnqn: entry.subnqn },
          'log entry dropped',
        );
      }
      const previous = this.#page;
      const changed = previous === null || !sameEntries(previous.entries, kept);
      this.#page = { entries: kept, genctr: genctr.toString(), fetchedAt: this.#deps.now(), stale: false };
      this.#counters.logReads++;
      if (changed) {
        this.#counters.logChanges++;
        this.#log.info({ entries: kept.length, genctr: genctr.toString() }, 'log page changed');
      } else {
        this.#log.debug({ entries: kept.length, genctr: genctr.toString() }, 'log page unchanged');
      }
      this.#hooks.onPage?.(this, {
        entriesChanged: changed,
        previous: previous?.entries ?? null,
        previousState: logPageState(previous),
      });
      this.#dispatch({ kind: 'log-read', entries: kept.length, changed });
    });
  }

  #closeSession(deregister: boolean): void {
    const session = this.#session;
    const ctl = this.#sessionCtl;
    this.#session = undefined;
    this.#sessionCtl = undefined;
    this.#generation++;
    ctl?.abort(new StasError('STAFD_SESSION_CLOSING', 'session closing'));
    const symname = this.#settings.symname;
    this.#track(async () => {
      if (session !== undefined) {
        if (deregister) {
          const deadline = new AbortController();
          const timer = this.#deps.clock.setTimeout(() => {
            deadline.abort(new StasError('STAFD_DEREGISTER_TIMEOUT', 'no answer to the deregistration'));
          }, DEREGISTER_TIMEOUT_MS);
          try {
            await session.deregister(symname === null ? {} : { symname }, { signal: deadline.signal });
            this.#log.info('deregistered from the discovery controller');
          } catch (err) {
            this.#log.warn({ err: describeError(err) }, 'deregistration failed');
          } finally {
            this.#deps.clock.clearTimeout(timer);
          }
        }
        await session.close().catch(() => undefined);
      }
      this.#dispatch({ kind: 'closed' });
    });
  }
}
