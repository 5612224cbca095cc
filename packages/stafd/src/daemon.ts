/**
 * stafd's daemon: which Discovery Controllers to hold and their runners, from
 * start through reloads to stop.
 *
 * The loop (style §6): a trigger (start, reload, an mDNS change, a DC whose
 * referrals changed, a lost-DC deadline, an mDNS DC whose connection came or
 * went) marks the set dirty; triggers coalesce into one reconciliation round
 * at a time. A round observes (config, configured host names resolved with a
 * deadline, the mDNS snapshot, each DC's referrals from its known log page),
 * plans with planDcSet, logs every decision with its reason, and applies it
 * (create/start runners, stop removed ones, update origins and `lostSince`,
 * emit `dc-removed`). Events never feed a round, they only trigger one.
 *
 * The log-page cache is loaded by load(), before D-Bus serves anything: its
 * pages are served at once, marked stale until each DC is read again. It is
 * saved (debounced, atomically) after a page changes or becomes fresh, after
 * the DC set changes, and at stop. A corrupt cache is logged and ignored.
 *
 * reload() re-reads stafd.conf and sys.conf (fix C13): diagnostics are logged
 * (file:line) and the valid parts applied; only differences are applied, so
 * DCs that stay keep their runner and session (a new symbolic name makes them
 * register again). A sys.conf without a usable host identity keeps the last
 * good identity.
 *
 * Bounds ([Limits] in stafd.conf, read at load and at every reload): at most
 * max-discovery-controllers DCs are held (configured DCs always are; mDNS and
 * referred DCs beyond the limit are not added, and after the limit is lowered
 * the most recently added of them are dropped), with one warning naming the
 * key; a log page above max-log-page-entries is refused after its header
 * (a DC setting the runner reads under), the runner's warning naming the key.
 * Work that grows with the number of DCs is sliced across event-loop turns so
 * that D-Bus calls are answered in between: a round applies
 * APPLY_ACTIONS_PER_TURN actions per turn (a new runner starts as it is added)
 * and at most SESSION_OPENS_PER_TURN sessions open per turn (open-pacer.ts:
 * retries of many DCs failing together too).
 *
 * stop() is idempotent: it cancels the loop and timers, stops the mDNS
 * browser, stops every runner (deregister where registered, close sessions),
 * and saves the cache. The daemon needs no privilege: sockets to DCs and
 * one file under its runtime directory.
 *
 * I/O through injected dependencies (sessions, name lookup, mDNS browser,
 * clock) so tests run it against fakes. Never throws from a round: failures
 * are logged.
 *
 * Used by: stafd-app.ts (main), dbus/staf-service.ts (reads views)
 * Tests:   daemon.test.ts, test/integration/stafd-daemon.test.ts
 */
import { EventEmitter } from 'node:events';
import { networkInterfaces } from 'node:os';
import type { ConfiguredController } from '@stas/common/config/controllers-section';
import { formatDiagnostic, type Diagnostic } from '@stas/common/config/diagnostic';
import type { HostIdentity } from '@stas/common/config/host-identity';
import { STAFD_LIMIT_DEFAULTS, type StafdConfig } from '@stas/common/config/stafd-conf';
import { describeError } from '@stas/common/errors';
import type { Logger } from '@stas/common/log/logger';
import type { BrowserKind, BrowserState, DcBrowser, DcBrowserEvent } from '@stas/common/mdns/dc-browser';
import { systemClock, type Clock, type TimerHandle } from '@stas/common/nvme/session/clock';
import type { DiscoverySessionOptions } from '@stas/common/nvme/session/discovery-session';
import { formatTid, type Tid, type TidKey } from '@stas/common/nvme/tid';
import { observed, unknown, type Observation } from '@stas/common/util/observation';
import { CacheWriter } from './cache/cache-writer.js';
import { loadCache, saveCache, type CachedDc } from './cache/dlp-cache-file.js';
import { readIdentity, readStafdConf } from './config-files.js';
import { openRealSession, type OpenSession } from './dc/dc-session.js';
import { pacedOpen } from './dc/open-pacer.js';
import { DcRunner, LOG_ENTRY_LIMIT_SETTING, type PageChange, type RunnerSnapshot } from './dc/runner.js';
import {
  announcedDcs,
  configuredTid,
  dcSettings,
  planPolicy,
  referralSignature,
  referralTids,
  sameSettings,
  type HostIds,
  type TuningOptions,
} from './dc-set/inputs.js';
import { formatDcAction, planDcSet, type DcAction, type DcOrigin } from './dc-set/plan.js';
import { resolveConfigured, systemLookup, type Lookup } from './dc-set/resolve-configured.js';

export interface DaemonPaths {
  readonly confFile: string;
  readonly sysConfFile: string;
  /** Directory of the default hostnqn/hostid/hostkey files. */
  readonly etcNvme: string;
  readonly cacheFile: string;
}

/** Creates the mDNS browser (called at start, when zeroconf is enabled again, and by restartBrowser()). */
export type BrowserFactory = () => DcBrowser | null;

export interface StafdDaemonOptions extends DaemonPaths {
  readonly log: Logger;
  /** --tron: debug logging whatever stafd.conf says. */
  readonly forceTron?: boolean;
  readonly openSession?: OpenSession;
  readonly lookup?: Lookup;
  readonly createBrowser?: BrowserFactory;
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Wall clock, ms since the epoch (lost-DC bookkeeping, fetch times). */
  readonly now?: () => number;
  /** Deadline of one configured host name resolution; default 5000 ms. */
  readonly resolveTimeoutMs?: number;
  /** Poll interval with persistent-connections = false; default 60 s. */
  readonly pollMs?: number;
  /** Cache write debounce; default 200 ms. */
  readonly saveDelayMs?: number;
  /** Referral levels followed; default 5. */
  readonly maxReferralDepth?: number;
  /** Extra options for every discovery session (tests: shorter deadlines). */
  readonly sessionOptions?: Partial<DiscoverySessionOptions>;
}

/** The stafd.conf keys of the limits, as log lines name them. */
export const LIMIT_KEYS = {
  maxDcs: '[Limits] max-discovery-controllers',
  maxLogEntries: LOG_ENTRY_LIMIT_SETTING,
} as const;
/**
 * Sessions opened per event-loop turn (open-pacer.ts). Opening a session and handling its failure
 * cost a fraction of a millisecond of CPU each; hundreds of DCs starting or retrying together are
 * opened in slices (a runner's start() itself is the open; the rest costs microseconds).
 */
export const SESSION_OPENS_PER_TURN = 16;
/** Round actions (add, keep, remove, skip) applied per event-loop turn: each may log and build a runner. */
export const APPLY_ACTIONS_PER_TURN = 64;

/** Resolves in the next event-loop turn, after pending I/O callbacks ran. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export type LoadOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export type TronSource = 'config' | 'dbus';

export interface DaemonEvents {
  /** A DC's log page entries really changed (not sent for a re-read that found the same entries). */
  'log-pages-changed': [tid: Tid];
  /** One or more DCs were removed. */
  'dc-removed': [];
  tron: [tron: boolean, source: TronSource];
  /** A reconciliation round was applied: how many DCs are held now. */
  reconciled: [held: number];
}

/** One held DC as D-Bus shows it. */
export interface DcView {
  readonly tid: Tid;
  readonly origin: DcOrigin;
  readonly depth: number;
  readonly referrer: TidKey | null;
  /** Wall-clock ms when an mDNS DC was last seen neither announced nor connected; null when not lost. */
  readonly lostSince: number | null;
  /** zeroconf-connections-persistence, s (negative: forever). */
  readonly persistenceSec: number;
  /** The `controller=` line of a configured DC (its per-DC options; secrets only as presence). */
  readonly controller: ConfiguredController | null;
  readonly runner: RunnerSnapshot;
}

export interface MdnsInfo {
  readonly enabled: boolean;
  readonly source: BrowserKind;
  readonly state: BrowserState | null;
  /** Services in the browser's current set; null when unknown. */
  readonly services: number | null;
}

export interface DaemonInfo {
  readonly tron: boolean;
  readonly identity: HostIdentity | null;
  readonly paths: DaemonPaths;
  readonly persistentConnections: boolean;
  readonly mdns: MdnsInfo;
  readonly rounds: number;
  readonly lastRoundReasons: readonly string[];
  readonly cacheWrites: number;
}

interface HeldDc {
  readonly runner: DcRunner;
  origin: DcOrigin;
  depth: number;
  referrer: TidKey | undefined;
  configuredAddress: string | undefined;
  lostSince: number | null;
  controller: ConfiguredController | null;
}

const DEFAULT_TUNING: TuningOptions = { pollMs: 60_000, maxReferralDepth: 5 };

export class StafdDaemon extends EventEmitter<DaemonEvents> {
  readonly paths: DaemonPaths;
  readonly #log: Logger;
  readonly #forceTron: boolean;
  readonly #openSession: OpenSession;
  readonly #lookup: Lookup;
  readonly #createBrowser: BrowserFactory;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #resolveTimeoutMs: number;
  readonly #tuning: TuningOptions;
  readonly #sessionOptions: Partial<DiscoverySessionOptions>;
  readonly #owner = new AbortController();
  readonly #held = new Map<TidKey, HeldDc>();
  readonly #retiring = new Set<Promise<void>>();
  readonly #tracked = new Set<Promise<unknown>>();
  readonly #cache: CacheWriter;
  /** Decisions already logged at info (skips, resolution problems, rejected services): later ones at debug. */
  readonly #reported = new Map<string, string>();
  /** Keys reported during the current round (the others may be reported afresh when they recur). */
  #seen = new Set<string>();
  #conf: StafdConfig | undefined;
  #identity: HostIdentity | undefined;
  #tron = false;
  #browser: DcBrowser | null = null;
  #unlistenBrowser: (() => void) | undefined;
  #dirty = new Set<string>();
  #loop: Promise<void> | undefined;
  #lostTimer: TimerHandle | undefined;
  #started = false;
  #stopping: Promise<void> | undefined;
  #rounds = 0;
  #lastReasons: readonly string[] = [];

  constructor(options: StafdDaemonOptions) {
    super();
    this.paths = {
      confFile: options.confFile,
      sysConfFile: options.sysConfFile,
      etcNvme: options.etcNvme,
      cacheFile: options.cacheFile,
    };
    this.#log = options.log;
    this.#forceTron = options.forceTron ?? false;
    this.#openSession = pacedOpen(
      options.openSession ?? openRealSession,
      SESSION_OPENS_PER_TURN,
      networkInterfaces,
    ).open;
    this.#lookup = options.lookup ?? systemLookup;
    this.#createBrowser = options.createBrowser ?? (() => null);
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.#resolveTimeoutMs = options.resolveTimeoutMs ?? 5000;
    this.#tuning = {
      pollMs: options.pollMs ?? DEFAULT_TUNING.pollMs,
      maxReferralDepth: options.maxReferralDepth ?? DEFAULT_TUNING.maxReferralDepth,
    };
    this.#sessionOptions = options.sessionOptions ?? {};
    this.#cache = new CacheWriter({
      path: options.cacheFile,
      records: () => this.#cacheRecords(),
      save: saveCache,
      clock: this.#clock,
      delayMs: options.saveDelayMs ?? 200,
      onError: (err) => {
        this.#log.error(
          { file: options.cacheFile, err: describeError(err) },
          'cannot save the log page cache',
        );
      },
      onSaved: (count) => {
        this.#log.debug({ file: options.cacheFile, dcs: count }, 'log page cache saved');
      },
    });
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  /** Read the configuration, the host identity and the cache. Nothing is connected yet. */
  async load(): Promise<LoadOutcome> {
    const conf = await readStafdConf(this.paths.confFile);
    this.#logDiagnostics(conf.diagnostics);
    if (!conf.exists) this.#log.info({ file: this.paths.confFile }, 'no configuration file; defaults apply');
    const resolved = await readIdentity(this.paths.sysConfFile, this.paths.etcNvme);
    this.#logDiagnostics(resolved.diagnostics);
    if (resolved.identity === null) {
      const first = resolved.diagnostics.find((d) => d.severity === 'error');
      return {
        ok: false,
        reason: `no usable host NQN and host ID${first === undefined ? '' : `: ${formatDiagnostic(first)}`}`,
      };
    }
    this.#conf = conf.config;
    this.#identity = resolved.identity;
    this.#applyTron();
    await this.#loadCache();
    return { ok: true };
  }

  /** Start browsing mDNS and run the first reconciliation round (not awaited: see whenIdle()). */
  start(): void {
    if (this.#started || this.#stopping !== undefined) return;
    if (this.#conf === undefined) throw new Error('StafdDaemon.start() before a successful load()');
    this.#started = true;
    this.#startBrowser();
    this.#trigger('start');
  }

  /** Re-read stafd.conf and sys.conf and apply the differences; resolves after the round. */
  async reload(): Promise<void> {
    if (this.#stopping !== undefined || this.#conf === undefined) return;
    const conf = await readStafdConf(this.paths.confFile);
    this.#logDiagnostics(conf.diagnostics);
    const resolved = await readIdentity(this.paths.sysConfFile, this.paths.etcNvme);
    this.#logDiagnostics(resolved.diagnostics);
    if (this.#isStopping()) return;
    if (resolved.identity === null) {
      this.#log.error('sys.conf has no usable host NQN and host ID; keeping the previous identity');
    } else {
      this.#identity = resolved.identity;
    }
    const zeroconfBefore = this.#conf['Service Discovery'].zeroconf;
    const limitsBefore = this.#limits();
    this.#conf = conf.config;
    this.#log.info({ file: this.paths.confFile }, 'configuration reloaded');
    this.#applyLimits(limitsBefore, conf.config.Limits);
    this.#applyTron();
    const zeroconf = conf.config['Service Discovery'].zeroconf;
    if (this.#started && zeroconf !== zeroconfBefore) {
      if (zeroconf) this.#startBrowser();
      else await this.#stopBrowser();
    }
    this.#trigger('reload');
    await this.whenIdle();
  }

  /**
   * After a reload: log each limit that changed. They apply in the round that follows: the DC limit
   * there, the log entry limit as a DC setting (a raised one re-reads at once the pages it refused, a
   * lowered one applies at each DC's next read).
   */
  #applyLimits(before: StafdConfig['Limits'], after: StafdConfig['Limits']): void {
    for (const key of Object.keys(after) as (keyof StafdConfig['Limits'])[]) {
      if (after[key] === before[key]) continue;
      this.#log.info(
        { limit: key, from: before[key], to: after[key] },
        `[Limits] ${key} changed from ${before[key]} to ${after[key]}`,
      );
    }
  }

  /** Replace the mDNS browser by a new one from the factory (e.g. after a new bus connection). */
  async restartBrowser(): Promise<void> {
    if (!this.#started || this.#stopping !== undefined) return;
    await this.#stopBrowser();
    this.#startBrowser();
    this.#trigger('mdns-restarted');
  }

  /** Stop everything (see the module header). Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#owner.abort(new Error('stafd is stopping'));
    this.#dirty.clear();
    if (this.#lostTimer !== undefined) this.#clock.clearTimeout(this.#lostTimer);
    this.#lostTimer = undefined;
    await this.whenIdle();
    await this.#stopBrowser();
    await Promise.all([...this.#held.values()].map((h) => h.runner.stop()));
    while (this.#retiring.size > 0) await Promise.all([...this.#retiring]);
    // A stafd that never started (e.g. another one owns the bus name) must not touch the cache.
    if (this.#started) {
      this.#cache.schedule();
      await this.#cache.flush();
    }
    while (this.#tracked.size > 0) await Promise.allSettled([...this.#tracked]);
    if (this.#started) this.#log.info('stopped');
  }

  /** Resolves when no round is running or pending. */
  async whenIdle(): Promise<void> {
    while (this.#loop !== undefined) await this.#loop;
  }

  // ---- what D-Bus reads --------------------------------------------------------------------------

  get tron(): boolean {
    return this.#tron;
  }

  /** Set tron from D-Bus (until the next reload, where stafd.conf's value applies again). */
  setTron(tron: boolean): void {
    this.#setTron(tron, 'dbus');
  }

  get ignoreIface(): boolean {
    return this.#conf?.Global['ignore-iface'] ?? false;
  }

  get identity(): HostIdentity | null {
    return this.#identity ?? null;
  }

  /** The held DCs, in the order they were added. */
  controllers(): DcView[] {
    const persistenceSec = this.#persistenceSec();
    return [...this.#held.values()].map((h) => ({
      tid: h.runner.tid,
      origin: h.origin,
      depth: h.depth,
      referrer: h.referrer ?? null,
      lostSince: h.lostSince,
      persistenceSec,
      controller: h.controller,
      runner: h.runner.snapshot(),
    }));
  }

  info(): DaemonInfo {
    const enabled = this.#conf?.['Service Discovery'].zeroconf ?? false;
    const browser = this.#browser;
    const snapshot = browser?.snapshot();
    return {
      tron: this.#tron,
      identity: this.#identity ?? null,
      paths: this.paths,
      persistentConnections:
        this.#conf?.['Discovery controller connection management']['persistent-connections'] ?? true,
      mdns: {
        enabled,
        source: browser?.kind ?? 'none',
        state: browser?.state() ?? null,
        services: snapshot?.ok === true ? snapshot.value.length : null,
      },
      rounds: this.#rounds,
      lastRoundReasons: this.#lastReasons,
      cacheWrites: this.#cache.writes,
    };
  }

  // ---- tron --------------------------------------------------------------------------------------

  #applyTron(): void {
    this.#setTron(this.#forceTron || (this.#conf?.Global.tron ?? false), 'config');
  }

  #setTron(tron: boolean, source: TronSource): void {
    const changed = tron !== this.#tron;
    this.#tron = tron;
    this.#log.level = tron ? 'debug' : 'info';
    if (changed) {
      this.#log.info({ tron, source }, tron ? 'debug logging on' : 'debug logging off');
      this.emit('tron', tron, source);
    }
  }

  // ---- the reconciliation loop -------------------------------------------------------------------

  #trigger(reason: string): void {
    if (this.#stopping !== undefined || !this.#started) return;
    this.#dirty.add(reason);
    this.#kick();
  }

  /** Start the loop if a round is due and none is running (also when a loop ends with work left). */
  #kick(): void {
    if (this.#loop !== undefined || this.#dirty.size === 0 || this.#stopping !== undefined) return;
    this.#loop = this.#runLoop().finally(() => {
      this.#loop = undefined;
      this.#kick();
    });
  }

  async #runLoop(): Promise<void> {
    // Let a burst of triggers from the same turn coalesce into one round.
    await nextTurn();
    while (this.#dirty.size > 0 && this.#stopping === undefined) {
      const reasons = [...this.#dirty];
      this.#dirty.clear();
      try {
        await this.#round(reasons);
      } catch (err) {
        this.#log.error({ err: describeError(err) }, 'reconciliation round failed');
      }
    }
  }

  async #round(reasons: readonly string[]): Promise<void> {
    const conf = this.#conf;
    const identity = this.#identity;
    if (conf === undefined || identity === undefined) return;
    this.#rounds++;
    this.#lastReasons = reasons;
    this.#seen = new Set();
    this.#log.debug({ reasons }, 'reconciling discovery controllers');
    const host: HostIds = { hostnqn: identity.hostnqn, hostid: identity.hostid };
    const ignoreIface = conf.Global['ignore-iface'];

    const inputs = conf.controllers.map((c) => ({ controller: c, tid: configuredTid(c, host, ignoreIface) }));
    const { configured, problems } = await resolveConfigured(
      inputs.map((i) => ({ tid: i.tid, line: i.controller.line })),
      {
        lookup: this.#lookup,
        timeoutMs: this.#resolveTimeoutMs,
        ipFamily: conf.Global['ip-family'],
        signal: this.#owner.signal,
      },
    );
    if (this.#isStopping()) return;
    for (const p of problems) {
      this.#report(`resolve:${p.line}:${p.name}`, p.message, 'warn', {
        file: this.paths.confFile,
        line: p.line,
      });
    }
    const controllerOf = new Map<TidKey, ConfiguredController>();
    configured.forEach((dc, i) => {
      const input = inputs[i];
      if (dc.tid !== null && input !== undefined && !controllerOf.has(dc.tid.key)) {
        controllerOf.set(dc.tid.key, input.controller);
      }
    });

    const held = [...this.#held.values()];
    const actions = planDcSet({
      configured,
      announced: this.#announced(conf, host),
      referrals: held.map((h) => ({
        referrer: h.runner.tid.key,
        tids: h.runner.page === null ? null : referralTids(h.runner.page.entries, h.runner.tid),
      })),
      current: held.map((h) => ({
        tid: h.runner.tid,
        origin: h.origin,
        depth: h.depth,
        connected: h.runner.connected,
        lostSince: h.lostSince,
        ...(h.configuredAddress === undefined ? {} : { configuredAddress: h.configuredAddress }),
        ...(h.referrer === undefined ? {} : { referrer: h.referrer }),
      })),
      exclusions: conf.exclusions,
      policy: planPolicy(conf, this.#tuning),
      now: this.#now(),
    });
    await this.#apply(actions, conf, identity, controllerOf);
  }

  /** Carry out a round's actions, APPLY_ACTIONS_PER_TURN per event-loop turn. */
  async #apply(
    actions: readonly DcAction[],
    conf: StafdConfig,
    identity: HostIdentity,
    controllerOf: ReadonlyMap<TidKey, ConfiguredController>,
  ): Promise<void> {
    const maxDcs = conf.Limits['max-discovery-controllers'];
    let removed = 0;
    let changed = false;
    let appliedThisTurn = 0;
    for (const action of actions) {
      if (appliedThisTurn === APPLY_ACTIONS_PER_TURN) {
        appliedThisTurn = 0;
        await nextTurn();
        // What is held so far is stopped by stop(); the rest of the round is moot.
        if (this.#isStopping()) return;
      }
      appliedThisTurn++;
      const line = formatDcAction(action);
      const fields = { action: action.kind, reason: action.reason };
      switch (action.kind) {
        case 'add': {
          if (action.origin !== 'configured' && this.#held.size >= maxDcs) {
            this.#reportDcLimit(maxDcs);
            this.#log.debug(fields, `${line} (not added: ${LIMIT_KEYS.maxDcs})`);
            break;
          }
          const controller = action.origin === 'configured' ? (controllerOf.get(action.key) ?? null) : null;
          const runner = this.#newRunner(action.tid, dcSettings(conf, identity, controller, this.#tuning));
          this.#held.set(action.key, {
            runner,
            origin: action.origin,
            depth: action.depth,
            referrer: action.referrer,
            configuredAddress: action.configuredAddress,
            lostSince: null,
            controller,
          });
          this.#log.info(fields, line);
          // Cheap: its first effect is an open, paced by open-pacer.ts.
          runner.start();
          changed = true;
          break;
        }
        case 'keep': {
          const h = this.#held.get(action.key);
          if (h === undefined) break;
          if (h.origin !== action.origin) {
            this.#log.info({ ...fields, from: h.origin, to: action.origin }, `${line} (origin changed)`);
            changed = true;
          } else if (action.lostSince !== undefined) {
            this.#log.info(fields, line);
          } else {
            this.#log.debug(fields, line);
          }
          h.origin = action.origin;
          h.depth = action.depth;
          h.referrer = action.referrer ?? (action.origin === 'referral' ? h.referrer : undefined);
          if (action.configuredAddress !== undefined) h.configuredAddress = action.configuredAddress;
          if (action.lostSince !== undefined) h.lostSince = action.lostSince;
          if (action.origin === 'configured') h.controller = controllerOf.get(action.key) ?? h.controller;
          else h.controller = null;
          const settings = dcSettings(conf, identity, h.controller, this.#tuning);
          if (!sameSettings(settings, h.runner.settings)) h.runner.updateSettings(settings);
          if (!h.runner.started) h.runner.start();
          break;
        }
        case 'remove': {
          const h = this.#held.get(action.key);
          if (h === undefined) break;
          this.#held.delete(action.key);
          this.#log.info(fields, line);
          this.#retire(h.runner);
          removed++;
          changed = true;
          break;
        }
        case 'skip':
          this.#report(`skip:${action.key}`, line, 'info', fields);
          break;
      }
    }
    const trimmed = this.#trimToLimit(maxDcs);
    removed += trimmed;
    if (trimmed > 0) changed = true;
    // A problem that went away is logged at its level again when it comes back.
    for (const key of [...this.#reported.keys()]) {
      if (!this.#seen.has(key)) this.#reported.delete(key);
    }
    if (removed > 0) this.emit('dc-removed');
    if (changed) this.#cache.schedule();
    this.#armLostTimer();
    this.emit('reconciled', this.#held.size);
  }

  /** The limit of held DCs is reached: one warning naming the key (then debug while it stays reached). */
  #reportDcLimit(maxDcs: number): void {
    this.#report(
      'limit:max-dcs',
      `limit of ${maxDcs} discovery controllers reached (${LIMIT_KEYS.maxDcs}): mDNS and referred DCs beyond it are not held`,
      'warn',
      { limit: 'max-discovery-controllers', value: maxDcs },
    );
  }

  /**
   * After the limit was lowered (reload) or a larger cache was loaded: drop the most recently added mDNS
   * and referred DCs beyond it (configured DCs always stay). Returns how many were dropped.
   */
  #trimToLimit(maxDcs: number): number {
    const excess = this.#held.size - maxDcs;
    if (excess <= 0) return 0;
    const dropped = [...this.#held]
      .reverse()
      .filter(([, h]) => h.origin !== 'configured')
      .slice(0, excess);
    if (dropped.length > 0) this.#reportDcLimit(maxDcs);
    for (const [key, h] of dropped) {
      this.#held.delete(key);
      this.#log.info(
        { action: 'remove', reason: 'limit', limit: 'max-discovery-controllers' },
        `${formatTid(h.runner.tid)} remove (limit): over the limit of ${maxDcs} discovery controllers (${LIMIT_KEYS.maxDcs})`,
      );
      this.#retire(h.runner);
    }
    return dropped.length;
  }

  #newRunner(tid: Tid, settings: ReturnType<typeof dcSettings>, page?: CachedDc): DcRunner {
    return new DcRunner(
      tid,
      settings,
      {
        openSession: this.#openSession,
        clock: this.#clock,
        random: this.#random,
        now: this.#now,
        log: this.#log,
        sessionOptions: this.#sessionOptions,
      },
      {
        onPage: (runner, change) => {
          this.#onPage(runner, change);
        },
        onConnectedChange: (runner) => {
          if (this.#heldOf(runner)?.origin === 'discovered') this.#trigger('mdns-dc-connection');
        },
      },
      page === undefined
        ? undefined
        : { entries: page.entries, genctr: page.genctr, fetchedAt: page.fetchedAt, stale: true },
    );
  }

  #heldOf(runner: DcRunner): HeldDc | undefined {
    const h = this.#held.get(runner.tid.key);
    return h?.runner === runner ? h : undefined;
  }

  #onPage(runner: DcRunner, change: PageChange): void {
    if (this.#heldOf(runner) === undefined) return;
    if (change.entriesChanged || change.previousState !== 'fresh') this.#cache.schedule();
    if (change.entriesChanged) this.emit('log-pages-changed', runner.tid);
    const before = referralSignature(change.previous);
    const after = referralSignature(runner.page?.entries ?? null);
    if (before !== after) this.#trigger('referrals-changed');
  }

  #retire(runner: DcRunner): void {
    const done = runner.stop();
    this.#retiring.add(done);
    void done.finally(() => this.#retiring.delete(done));
  }

  #persistenceSec(): number {
    return (
      this.#conf?.['Discovery controller connection management']['zeroconf-connections-persistence'] ?? -1
    );
  }

  /** Wake a round when the earliest lost mDNS DC's persistence runs out. */
  #armLostTimer(): void {
    if (this.#lostTimer !== undefined) this.#clock.clearTimeout(this.#lostTimer);
    this.#lostTimer = undefined;
    const persistenceSec = this.#persistenceSec();
    if (persistenceSec < 0 || this.#stopping !== undefined) return;
    let earliest = Infinity;
    for (const h of this.#held.values()) {
      if (h.origin === 'discovered' && h.lostSince !== null) {
        earliest = Math.min(earliest, h.lostSince + persistenceSec * 1000);
      }
    }
    if (!Number.isFinite(earliest)) return;
    const delay = Math.max(0, earliest - this.#now()) + 1;
    this.#lostTimer = this.#clock.setTimeout(() => {
      this.#lostTimer = undefined;
      this.#trigger('lost-deadline');
    }, delay);
  }

  // ---- mDNS --------------------------------------------------------------------------------------

  #announced(conf: StafdConfig, host: HostIds): Observation<readonly Tid[]> {
    if (!conf['Service Discovery'].zeroconf) return observed([]);
    const browser = this.#browser;
    if (browser === null) return unknown('not-running', 'no mDNS browser');
    const snapshot = browser.snapshot();
    if (!snapshot.ok) return snapshot;
    const result = announcedDcs(snapshot.value, host, conf.Global['ignore-iface']);
    for (const r of result.rejected) this.#report(`mdns:${r.service}`, r.detail, 'info', {});
    for (const w of result.warnings) this.#report(`mdns-warning:${w}`, w, 'warn', {});
    return observed(result.tids);
  }

  #startBrowser(): void {
    if (this.#browser !== null || this.#conf?.['Service Discovery'].zeroconf !== true) return;
    let browser: DcBrowser | null;
    try {
      browser = this.#createBrowser();
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'cannot create the mDNS browser; working without mDNS');
      return;
    }
    if (browser === null) return;
    this.#browser = browser;
    this.#unlistenBrowser = browser.on((event) => {
      this.#onBrowserEvent(event);
    });
    this.#track(browser.start({ signal: this.#owner.signal }));
  }

  async #stopBrowser(): Promise<void> {
    const browser = this.#browser;
    if (browser === null) return;
    this.#browser = null;
    this.#unlistenBrowser?.();
    this.#unlistenBrowser = undefined;
    await browser.stop().catch((err: unknown) => {
      this.#log.warn({ err: describeError(err) }, 'mDNS browser did not stop cleanly');
    });
  }

  #onBrowserEvent(event: DcBrowserEvent): void {
    switch (event.type) {
      case 'services-changed':
        this.#log.debug({ services: event.services.length }, 'mDNS services changed');
        this.#trigger('mdns');
        return;
      case 'state':
        if (event.state.kind === 'unavailable') {
          this.#log.warn({ reason: event.state.reason }, `mDNS browsing unavailable: ${event.state.detail}`);
        } else {
          this.#log.info({ state: event.state.kind }, 'mDNS browsing state');
        }
        this.#trigger('mdns');
        return;
      case 'problem':
        this.#log.warn({ code: event.code }, `mDNS: ${event.detail}`);
        return;
      case 'source':
        this.#log.info({ source: event.source }, 'mDNS source');
        return;
    }
  }

  // ---- cache -------------------------------------------------------------------------------------

  async #loadCache(): Promise<void> {
    const file = this.paths.cacheFile;
    const loaded = await loadCache(file);
    if (!loaded.ok) {
      if (loaded.reason === 'absent') this.#log.debug({ file }, 'no log page cache');
      else this.#log.warn({ file, reason: loaded.reason }, `log page cache ignored: ${loaded.detail}`);
      return;
    }
    const conf = this.#conf;
    const identity = this.#identity;
    if (conf === undefined || identity === undefined) return;
    for (const record of loaded.records) {
      if (this.#held.has(record.tid.key)) continue;
      const runner = this.#newRunner(record.tid, dcSettings(conf, identity, null, this.#tuning), record);
      this.#held.set(record.tid.key, {
        runner,
        origin: record.origin,
        depth: record.origin === 'referral' ? 1 : 0,
        referrer: undefined,
        configuredAddress: record.origin === 'configured' ? record.tid.traddr : undefined,
        lostSince: null,
        controller: null,
      });
    }
    this.#log.info({ file, dcs: loaded.records.length }, 'log page cache loaded (stale until refreshed)');
  }

  #cacheRecords(): CachedDc[] {
    const records: CachedDc[] = [];
    for (const h of this.#held.values()) {
      const page = h.runner.page;
      if (page === null) continue;
      records.push({
        tid: h.runner.tid,
        origin: h.origin,
        entries: page.entries,
        genctr: page.genctr,
        fetchedAt: page.fetchedAt,
      });
    }
    return records;
  }

  // ---- helpers -----------------------------------------------------------------------------------

  /** The [Limits] in force (the defaults before the first load). */
  #limits(): StafdConfig['Limits'] {
    return this.#conf?.Limits ?? { ...STAFD_LIMIT_DEFAULTS };
  }

  /** (A method, so the compiler does not assume the flag unchanged across awaits.) */
  #isStopping(): boolean {
    return this.#stopping !== undefined;
  }

  #track(work: Promise<unknown>): void {
    const promise = work.catch((err: unknown) => {
      this.#log.warn({ err: describeError(err) }, 'background task failed');
    });
    this.#tracked.add(promise);
    void promise.finally(() => this.#tracked.delete(promise));
  }

  /** Log at `level` the first time (or when the message changes), at debug afterwards. */
  #report(key: string, message: string, level: 'info' | 'warn', fields: Record<string, unknown>): void {
    this.#seen.add(key);
    if (this.#reported.get(key) === message) {
      this.#log.debug(fields, message);
      return;
    }
    this.#reported.set(key, message);
    this.#log[level](fields, message);
  }

  #logDiagnostics(diagnostics: readonly Diagnostic[]): void {
    for (const d of diagnostics) {
      const fields = { file: d.file, line: d.line };
      if (d.severity === 'error') this.#log.error(fields, formatDiagnostic(d));
      else this.#log.warn(fields, formatDiagnostic(d));
    }
  }
}
