/**
 * stacd's control loop: triggers → one coalesced round → observe → plan →
 * log → execute.
 *
 * Triggers: start; SIGHUP (`reload`); stafd's `log_pages_changed` and
 * `dc_removed` signals; stafd appearing on or leaving the bus; kernel uevents
 * (add/remove/change on the nvme subsystem; `resync-needed` too); executor
 * outcomes (a new controller, a retry that is due). Events only trigger:
 * every round reads one fresh sysfs snapshot and decides from the whole
 * state (level-based), so bursts coalesce into one round and no event's
 * content can be lost or stale.
 *
 * Scheduling (a round with hundreds of controllers reads thousands of sysfs
 * files, so rounds are paid per burst, never per event):
 * - the first trigger starts a round after `coalesceMs` (20 ms); triggers
 *   until then join it;
 * - rounds never overlap: triggers during a round make ONE more round, which
 *   starts after a pause as long as the round just run took (at least
 *   `coalesceMs`, at most 1 s: a slow stafd or resolver must not add much
 *   latency), so even a storm of uevents keeps rounds to about half the
 *   time, and each picks up everything that happened meanwhile;
 * - the executor's own outcomes while it still has jobs queued or running
 *   (a burst of connects finishing one by one) are held until it is idle,
 *   or it has reported nothing new for `outcomeQuietMs` (1 s: only slow jobs
 *   are left, e.g. a connect hung in the kernel), and never longer than
 *   `outcomeHoldMs` (5 s, for a long steady burst). Other triggers are not
 *   held;
 * - the executor drops actions planned from an observation older than the
 *   last job on their controller (execute.ts, `observationMark`), and asks
 *   for another round instead.
 *
 * Lifecycle:
 * - start(): read stacd.conf and the host identity, connect to the bus,
 *   export org.nvmexpress.stac, watch stafd, claim the bus name, then run the
 *   first round. That round adopts (claims) matching kernel controllers
 *   without reconnecting them. A missing bus is not fatal (configured
 *   controllers still work; the bus is retried); the name being owned by
 *   another stacd is (rejects with BusError DBUS_NAME_TAKEN).
 * - reload() (SIGHUP): re-read stacd.conf and sys.conf; every problem is
 *   logged as `file:line: …`; the valid parts apply, and a file that cannot be
 *   read at all leaves the previous configuration in force. Backoff delays are
 *   reset, and the next round applies only the differences.
 * - stop() (SIGTERM): stops planning and waits for running kernel operations.
 *   It NEVER disconnects anything (I/O controllers survive a restart).
 *
 * A round that cannot observe (sysfs or the registry unreadable) logs the
 * error and is retried after a delay; it decides nothing meanwhile.
 *
 * Used by: main.ts, test/integration/stacd-*.test.ts. Tests: those, and
 * daemon.test.ts.
 */
import { resolveHostIdentity } from '@stas/common/config/host-identity';
import type { HostIdentity } from '@stas/common/config/host-identity';
import type { Diagnostic } from '@stas/common/config/diagnostic';
import { formatDiagnostic } from '@stas/common/config/diagnostic';
import type { StacdConfig } from '@stas/common/config/stacd-conf';
import type { ConnectOptions, Disposer, SystemBus } from '@stas/common/dbus/bus';
import { connectSystemBus } from '@stas/common/dbus/bus';
import type { TidArgs } from '@stas/common/dbus/api-shared';
import { BusError } from '@stas/common/dbus/bus-error';
import { STAC_BUS_NAME } from '@stas/common/dbus/stac-api';
import { STAF_API, STAF_BUS_NAME, STAF_INTERFACE } from '@stas/common/dbus/staf-api';
import { StasError, describeError } from '@stas/common/errors';
import { findControllerForTid } from '@stas/common/kernel/controller-match';
import type { FabricsDevice } from '@stas/common/kernel/fabrics-device';
import type { InterfaceAddresses } from '@stas/common/kernel/net-interfaces';
import { readInterfaces } from '@stas/common/kernel/net-interfaces';
import { readSysfsSnapshot } from '@stas/common/kernel/sysfs';
import type { UeventMonitor } from '@stas/common/kernel/uevents';
import type { Logger } from '@stas/common/log/logger';
import type { StasPaths } from '@stas/common/paths';
import type { Notifier } from '@stas/common/systemd/sd-notify';
import { createTid, isTransport } from '@stas/common/nvme/tid';
import type { BackoffPolicy } from '@stas/common/util/backoff';
import type { Observation } from '@stas/common/util/observation';
import { unknown } from '@stas/common/util/observation';
import { STAS_VERSION } from '@stas/common/version';
import type { StacView, TidQuery } from './dbus/controller-dicts.js';
import { controllerInfo, explain, listControllers, managedIocs } from './dbus/controller-dicts.js';
import type { StacService } from './dbus/stac-service.js';
import { exportStacService } from './dbus/stac-service.js';
import { Executor } from './execute.js';
import type { NameResolver, Observed } from './observe.js';
import { observe } from './observe.js';
import type { DiscoveredPage, IocAction, IocPolicy, PlanInput } from './plan.js';
import { planIocs } from './plan.js';
import { loadStacdConf, policyOf } from './stacd-config.js';
import { fetchStafdPages } from './stafd-client.js';

/** Longest pause between a round and the one its triggers asked for (see the module header). */
const MAX_ROUND_PAUSE_MS = 1000;

export interface DaemonOptions {
  readonly confFile: string;
  readonly sysConfFile: string;
  readonly paths: StasPaths;
  readonly log: Logger;
  readonly fabrics: FabricsDevice;
  readonly dryRun?: boolean;
  /** --tron: debug logging whatever the file says. */
  readonly tron?: boolean;
  /** Bus address (--bus-address); default: DBUS_SYSTEM_BUS_ADDRESS, then the system bus. */
  readonly busAddress?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** false: run without D-Bus at all (tests). */
  readonly useBus?: boolean;
  readonly connectBus?: (opts: ConnectOptions) => Promise<SystemBus>;
  /** Kernel uevents; null: none (tests on a fake sysfs). */
  readonly uevents?: UeventMonitor | null;
  readonly notifier?: Notifier;
  /** Host identity; default: resolved from sys.conf and /etc/nvme at start and on reload. */
  readonly identity?: HostIdentity;
  readonly resolve?: NameResolver;
  readonly interfaces?: () => InterfaceAddresses;
  readonly backoff?: BackoffPolicy;
  readonly concurrency?: number;
  /** Delay between the first trigger and the round it starts (coalescing); default 20 ms. */
  readonly coalesceMs?: number;
  /** Executor outcomes wait while it is busy, until it has reported nothing for this long; default 1000 ms. */
  readonly outcomeQuietMs?: number;
  /** …and never longer than this; default 5000 ms. */
  readonly outcomeHoldMs?: number;
  /** Retry delay for the bus connection and for a round that failed; default 5000 ms. */
  readonly retryMs?: number;
  /** Timeout of the stafd call; default 5000 ms. */
  readonly stafdTimeoutMs?: number;
  /** Rounds without uevents (none available): one every this many ms; default 30 000. */
  readonly pollMs?: number;
}

/** What the last round saw and decided. */
export interface RoundResult {
  readonly time: number;
  readonly actions: readonly IocAction[];
  readonly discovered: Observation<readonly DiscoveredPage[]>;
  readonly observed: Observed;
  readonly policy: IocPolicy;
}

export class StacDaemon {
  readonly #opts: DaemonOptions;
  readonly #log: Logger;
  readonly #executor: Executor;
  readonly #abort = new AbortController();
  #config: StacdConfig | undefined;
  #identity: HostIdentity | undefined;
  #tronFromFile = false;
  #tron = false;
  #bus: SystemBus | null = null;
  #service: StacService | null = null;
  #disposers: Disposer[] = [];
  #stafdOwner: string | null = null;
  #last: RoundResult | undefined;
  #rounds = 0;
  #dirty = false;
  #reasons: string[] = [];
  #roundTimer: NodeJS.Timeout | undefined;
  /** Set while executor outcomes are held (see the module header): the cap, and the quiet timer. */
  #holdTimer: NodeJS.Timeout | undefined;
  #quietTimer: NodeJS.Timeout | undefined;
  #held: string[] = [];
  #watchingIdle = false;
  /** How long the last round's observe + plan took (paces the next one). */
  #lastRoundMs = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #busTimer: NodeJS.Timeout | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #lastStatus = '';
  #lastRoundError = '';
  #reported = new Set<string>();
  readonly #roundListeners = new Set<(r: RoundResult) => void>();

  constructor(opts: DaemonOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#executor = new Executor({
      fabrics: opts.fabrics,
      registry: { run: opts.paths.run, sys: opts.paths.sys },
      log: opts.log,
      identity: () => ({
        hostnqn: this.#identity?.hostnqn ?? '',
        hostid: this.#identity?.hostid ?? '',
      }),
      hostKey: () => this.#identity?.hostkey ?? null,
      locate: (tid) => this.#locate(tid),
      requestRound: (why) => {
        this.#outcome(why);
      },
      ...(opts.backoff === undefined ? {} : { backoff: opts.backoff }),
      ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }),
      dryRun: opts.dryRun === true,
    });
  }

  /** Rounds completed so far. */
  get rounds(): number {
    return this.#rounds;
  }

  get lastRound(): RoundResult | undefined {
    return this.#last;
  }

  get executor(): Executor {
    return this.#executor;
  }

  get tron(): boolean {
    return this.#tron;
  }

  /** Hear about every completed round (tests, status). Returns an unsubscribe. */
  onRound(listener: (r: RoundResult) => void): () => void {
    this.#roundListeners.add(listener);
    return () => this.#roundListeners.delete(listener);
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  async start(): Promise<void> {
    const conf = await loadStacdConf(this.#opts.confFile);
    this.#reportDiagnostics(conf.diagnostics);
    if (conf.missing) this.#log.info(`${this.#opts.confFile} does not exist; using the defaults`);
    if (conf.config === null)
      throw new StasError('STACD_CONFIG_UNREADABLE', `cannot read ${this.#opts.confFile}`);
    this.#config = conf.config;
    const identity = this.#opts.identity ?? (await this.#readIdentity());
    if (identity === null)
      throw new StasError('STACD_NO_HOST_IDENTITY', 'no valid host NQN and host ID (see stasadm --help)');
    this.#identity = identity;
    this.#tronFromFile = conf.config.Global.tron;
    this.#setTron(this.#opts.tron === true || this.#tronFromFile);

    if (this.#opts.useBus !== false) {
      try {
        await this.#connectBus();
      } catch (err) {
        if (err instanceof BusError && (err.code === 'DBUS_NAME_TAKEN' || err.code === 'DBUS_NAME_DENIED'))
          throw err;
        this.#log.error(
          { err },
          `cannot use D-Bus: ${describeError(err)}; retrying every ${this.#retryMs / 1000} s`,
        );
        this.#scheduleBusReconnect();
      }
    }
    this.#watchUevents();
    this.requestRound('start');
  }

  /** SIGHUP: reload stacd.conf and sys.conf (see the module header). */
  async reload(): Promise<void> {
    if (this.#stopped) return;
    this.#opts.notifier?.reloading('reloading configuration');
    const conf = await loadStacdConf(this.#opts.confFile);
    this.#reportDiagnostics(conf.diagnostics, true);
    if (conf.config === null) {
      this.#log.error(`${this.#opts.confFile} could not be read; the previous configuration stays in force`);
    } else if (conf.missing) {
      this.#log.warn(`${this.#opts.confFile} does not exist; the previous configuration stays in force`);
    } else {
      this.#config = conf.config;
      this.#tronFromFile = conf.config.Global.tron;
    }
    if (this.#opts.identity === undefined) {
      const identity = await this.#readIdentity(true);
      if (identity === null)
        this.#log.error('sys.conf: no valid host identity; the previous one stays in force');
      else this.#identity = identity;
    }
    this.#setTron(this.#opts.tron === true || this.#tronFromFile);
    this.#service?.tronChanged();
    this.#executor.resetBackoff();
    this.#log.info('configuration reloaded');
    this.requestRound('reload');
    await this.settled();
    this.#opts.notifier?.ready(this.#statusLine());
  }

  /** SIGTERM: stop planning, wait for running kernel operations, leave every connection in place. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#opts.notifier?.stopping('stopping; I/O controllers stay connected');
    this.#abort.abort();
    for (const t of [this.#roundTimer, this.#holdTimer, this.#quietTimer, this.#retryTimer, this.#busTimer])
      clearTimeout(t);
    this.#holdTimer = undefined;
    this.#quietTimer = undefined;
    clearInterval(this.#pollTimer);
    await this.#running;
    await this.#executor.close();
    await this.#closeBus();
    this.#log.info('stopped; no controller was disconnected');
  }

  /** Resolves once no round is pending or running and the executor is idle (for tests and reload). */
  async settled(): Promise<void> {
    for (;;) {
      if (this.#quiet()) {
        await this.#executor.idle();
        if (this.#quiet()) return;
      }
      await (this.#running ?? new Promise<void>((resolve) => setTimeout(resolve, this.#coalesceMs)));
    }
  }

  #quiet(): boolean {
    return this.#roundTimer === undefined && this.#running === undefined && this.#holdTimer === undefined;
  }

  // ---- rounds ------------------------------------------------------------------------------------

  /** Ask for a round; triggers arriving before it starts (or while one runs) make one more round. */
  requestRound(why: string): void {
    if (this.#stopped) return;
    this.#dirty = true;
    if (this.#reasons.length < 20) this.#reasons.push(why);
    this.#schedule(this.#coalesceMs);
  }

  get #coalesceMs(): number {
    return this.#opts.coalesceMs ?? 20;
  }

  /** Start a round after `delayMs`, unless one is running (it schedules the next) or already scheduled. */
  #schedule(delayMs: number): void {
    if (this.#running !== undefined || this.#roundTimer !== undefined) return;
    this.#roundTimer = setTimeout(() => {
      this.#roundTimer = undefined;
      this.#running = this.#runRound().finally(() => {
        this.#running = undefined;
        if (this.#dirty && !this.#stopped)
          this.#schedule(Math.max(this.#coalesceMs, Math.min(this.#lastRoundMs, MAX_ROUND_PAUSE_MS)));
      });
    }, delayMs);
  }

  /**
   * The executor's trigger: held while it still has jobs (their outcomes come
   * in one by one), until it is idle, quiet for `outcomeQuietMs`, or
   * `outcomeHoldMs` has passed since the first held one.
   */
  #outcome(why: string): void {
    if (this.#stopped) return;
    if (!this.#executor.busy) {
      this.requestRound(why);
      return;
    }
    if (this.#held.length < 20) this.#held.push(why);
    const release = (): void => {
      this.#release();
    };
    this.#holdTimer ??= setTimeout(release, this.#opts.outcomeHoldMs ?? 5000);
    clearTimeout(this.#quietTimer);
    this.#quietTimer = setTimeout(release, this.#opts.outcomeQuietMs ?? 1000);
    if (this.#watchingIdle) return;
    this.#watchingIdle = true;
    void this.#executor.idle().then(() => {
      this.#watchingIdle = false;
      this.#release();
    });
  }

  #release(): void {
    if (this.#holdTimer === undefined) return;
    clearTimeout(this.#holdTimer);
    clearTimeout(this.#quietTimer);
    this.#holdTimer = undefined;
    this.#quietTimer = undefined;
    for (const why of this.#held.splice(0)) this.requestRound(why);
  }

  async #runRound(): Promise<void> {
    if (this.#stopped) return;
    this.#dirty = false;
    const reasons = this.#reasons.splice(0);
    const started = performance.now();
    try {
      await this.#round(reasons);
      this.#lastRoundError = '';
    } catch (err) {
      const text = describeError(err);
      if (text !== this.#lastRoundError) this.#log.error({ err }, `round failed: ${text}; retrying`);
      this.#lastRoundError = text;
      clearTimeout(this.#retryTimer);
      this.#retryTimer = setTimeout(() => {
        this.requestRound('retry after a failed round');
      }, this.#retryMs);
    } finally {
      this.#lastRoundMs = performance.now() - started;
    }
  }

  get #retryMs(): number {
    return this.#opts.retryMs ?? 5000;
  }

  #policy(): IocPolicy {
    if (this.#config === undefined) throw new StasError('STACD_NOT_STARTED', 'stacd is not started');
    return policyOf(this.#config);
  }

  /** Observe and plan, without executing; `mark` is the executor's observation mark taken first. */
  async #plan(): Promise<RoundResult & { readonly mark: number }> {
    const config = this.#config;
    const identity = this.#identity;
    if (config === undefined || identity === undefined)
      throw new StasError('STACD_NOT_STARTED', 'stacd is not started');
    const policy = policyOf(config);
    const mark = this.#executor.observationMark();
    const observed = await observe(
      { controllers: config.controllers, ipFamily: policy.ipFamily },
      {
        registry: { run: this.#opts.paths.run, sys: this.#opts.paths.sys },
        etcNvme: this.#opts.paths.etcNvme,
        stafd: () =>
          fetchStafdPages(this.#bus, {
            ...(this.#opts.stafdTimeoutMs === undefined ? {} : { timeoutMs: this.#opts.stafdTimeoutMs }),
          }),
        ...(this.#opts.resolve === undefined ? {} : { resolve: this.#opts.resolve }),
        ...(this.#opts.interfaces === undefined ? {} : { interfaces: this.#opts.interfaces }),
      },
    );
    const input: PlanInput = {
      configured: observed.configured,
      discovered: observed.discovered,
      kernel: observed.kernel,
      exclusions: config.exclusions,
      hostExclusions: observed.exclusions.entries,
      policy,
      attempts: this.#executor.attempts(),
      identity: { hostnqn: identity.hostnqn, hostid: identity.hostid },
      ifaces: observed.ifaces,
    };
    return {
      time: Date.now(),
      actions: planIocs(input),
      discovered: observed.discovered,
      observed,
      policy,
      mark,
    };
  }

  async #round(reasons: readonly string[]): Promise<void> {
    const { mark, ...result } = await this.#plan();
    if (this.#stopped) return;
    this.#log.debug({ triggers: reasons }, `round ${this.#rounds + 1}`);
    this.#reportOnce([
      ...result.observed.stafdProblems.map((p) => `stafd: ${p}`),
      ...result.observed.unresolved.map((u) => `cannot resolve ${u}`),
      ...result.observed.exclusions.diagnostics.map(formatDiagnostic),
    ]);
    this.#last = result;
    this.#executor.execute(result.actions, { observedAt: mark });
    this.#rounds++;
    const status = this.#statusLine();
    if (status !== this.#lastStatus) {
      this.#lastStatus = status;
      this.#opts.notifier?.status(status);
    }
    for (const listener of this.#roundListeners) listener(result);
  }

  #statusLine(): string {
    const records = this.#executor.records();
    const count = (phase: string): number => records.filter((r) => r.phase === phase).length;
    const stafd =
      this.#last === undefined
        ? 'unknown'
        : this.#last.discovered.ok
          ? 'answering'
          : this.#last.discovered.reason;
    return `${count('connected')} connected, ${count('connecting')} connecting, ${count('failed')} failing; stafd ${stafd}`;
  }

  /** Warnings that repeat every round are logged once (until they go away). */
  #reportOnce(problems: readonly string[]): void {
    const now = new Set(problems);
    for (const p of now) if (!this.#reported.has(p)) this.#log.warn(p);
    this.#reported = now;
  }

  #reportDiagnostics(diagnostics: readonly Diagnostic[], reload = false): void {
    for (const d of diagnostics) {
      const line = formatDiagnostic(d);
      if (d.severity === 'error') this.#log.error({ reload }, line);
      else this.#log.warn({ reload }, line);
    }
  }

  async #readIdentity(reload = false): Promise<HostIdentity | null> {
    const resolved = await resolveHostIdentity({
      sysConf: this.#opts.sysConfFile,
      etcNvme: this.#opts.paths.etcNvme,
    });
    this.#reportDiagnostics(resolved.diagnostics, reload);
    return resolved.identity;
  }

  #setTron(on: boolean): void {
    this.#tron = on;
    this.#log.level = on ? 'debug' : 'info';
  }

  async #locate(tid: Parameters<typeof findControllerForTid>[1]) {
    const snapshot = await readSysfsSnapshot(this.#opts.paths.sys);
    const ifaces = (this.#opts.interfaces ?? readInterfaces)();
    return findControllerForTid(snapshot.controllers, tid, ifaces, { role: 'io' })?.device;
  }

  // ---- uevents -----------------------------------------------------------------------------------

  #watchUevents(): void {
    const monitor = this.#opts.uevents;
    const poll = (why: string): void => {
      const ms = this.#opts.pollMs ?? 30_000;
      this.#log.warn(`no kernel uevents (${why}); checking the kernel every ${ms / 1000} s instead`);
      this.#pollTimer = setInterval(() => {
        this.requestRound('poll');
      }, ms);
    };
    if (monitor === undefined || monitor === null) {
      if (monitor === undefined) poll('no monitor');
      return;
    }
    const watch = monitor.watch({ signal: this.#abort.signal });
    void (async () => {
      try {
        for await (const notice of watch) {
          if (notice.kind === 'resync-needed') this.requestRound(`uevents lost (${notice.reason})`);
          else if (['add', 'remove', 'change'].includes(notice.event.action))
            this.requestRound(`uevent ${notice.event.action} ${notice.event.devpath}`);
        }
      } catch (err) {
        if (!this.#stopped) poll(describeError(err));
      }
    })();
  }

  // ---- D-Bus -------------------------------------------------------------------------------------

  async #connectBus(): Promise<void> {
    const connect = this.#opts.connectBus ?? connectSystemBus;
    const bus = await connect({
      ...(this.#opts.busAddress === undefined ? {} : { address: this.#opts.busAddress }),
      ...(this.#opts.env === undefined ? {} : { env: this.#opts.env }),
      onListenerError: (err, where) => {
        this.#log.error({ err }, `D-Bus listener failed (${where}): ${describeError(err)}`);
      },
    });
    try {
      bus.onDisconnect((info) => {
        if (this.#bus !== bus) return;
        this.#bus = null;
        this.#service = null;
        this.#disposers = [];
        this.#log.error(`${info.reason}; reconnecting`);
        this.requestRound('D-Bus lost');
        this.#scheduleBusReconnect();
      });
      this.#service = exportStacService(bus, this.#backend(), (err, where) => {
        this.#log.error({ err }, `D-Bus ${where.interface}.${where.member} failed: ${describeError(err)}`);
      });
      this.#bus = bus;
      const stafd = { busName: STAF_BUS_NAME, objectPath: STAF_API.objectPath };
      this.#disposers.push(
        await bus.watchNameOwner(STAF_BUS_NAME, (owner) => {
          const before = this.#stafdOwner;
          this.#stafdOwner = owner;
          if (before === owner) return;
          this.#log.info(owner === null ? 'stafd is not on the bus' : `stafd is on the bus (${owner})`);
          this.requestRound(owner === null ? 'stafd left' : 'stafd appeared');
        }),
        await bus.subscribe(stafd, STAF_INTERFACE, 'log_pages_changed', (args) => {
          this.requestRound(`log_pages_changed ${args.transport} ${args.traddr} ${args.trsvcid}`);
        }),
        await bus.subscribe(stafd, STAF_INTERFACE, 'dc_removed', () => {
          this.requestRound('dc_removed');
        }),
      );
      await bus.requestName(STAC_BUS_NAME);
      this.#log.info(`serving ${STAC_BUS_NAME} on ${bus.address}`);
    } catch (err) {
      this.#bus = null;
      this.#service = null;
      this.#disposers = [];
      await bus.close();
      throw err;
    }
  }

  #scheduleBusReconnect(): void {
    if (this.#stopped || this.#busTimer !== undefined) return;
    this.#busTimer = setTimeout(() => {
      this.#busTimer = undefined;
      this.#connectBus().then(
        () => {
          this.requestRound('D-Bus back');
        },
        (err: unknown) => {
          this.#log.debug({ err }, `D-Bus still unavailable: ${describeError(err)}`);
          this.#scheduleBusReconnect();
        },
      );
    }, this.#retryMs);
  }

  async #closeBus(): Promise<void> {
    const bus = this.#bus;
    this.#bus = null;
    if (bus === null) return;
    for (const dispose of this.#disposers.splice(0)) await dispose().catch(() => undefined);
    this.#service?.unexport();
    this.#service = null;
    await bus.releaseName(STAC_BUS_NAME).catch(() => undefined);
    await bus.close();
  }

  // ---- what the bus sees -------------------------------------------------------------------------

  #view(result: RoundResult | undefined = this.#last): StacView {
    const records = new Map(this.#executor.records().map((r) => [r.key, r]));
    const controllers = new Map(
      (result?.observed.snapshot.controllers ?? []).map((c) => [c.device as string, c]),
    );
    return { actions: result?.actions ?? [], records, controllers, now: Date.now() };
  }

  /** `explain`: a fresh plan (observe + plan, nothing executed); the last round's if that fails. */
  async explainJson(): Promise<string> {
    let result: RoundResult | undefined;
    let fresh = true;
    try {
      result = await this.#plan();
    } catch (err) {
      this.#log.debug({ err }, `explain: fresh plan failed, showing the last round: ${describeError(err)}`);
      result = this.#last;
      fresh = false;
    }
    const policy = result?.policy ?? this.#policy();
    return JSON.stringify(
      explain(this.#view(result), {
        time: result?.time ?? Date.now(),
        fresh,
        discovered: result?.discovered ?? unknown('not-loaded'),
        policy,
        dryRun: this.#opts.dryRun === true,
      }),
    );
  }

  processInfo(): Record<string, unknown> {
    const identity = this.#identity;
    const managed = managedIocs(this.#view());
    return {
      version: STAS_VERSION,
      tron: this.#tron,
      'log-level': this.#tron ? 'DEBUG' : 'INFO',
      hostnqn: identity?.hostnqn ?? '',
      hostid: identity?.hostid ?? '',
      hostkey: identity?.hostkey === null || identity === undefined ? null : '[redacted]',
      symname: identity?.symname ?? null,
      'config file': this.#opts.confFile,
      'dry run': this.#opts.dryRun === true,
      stafd: this.#stafdOwner === null ? 'not on the bus' : 'on the bus',
      rounds: this.#rounds,
      'last round': this.#last === undefined ? null : new Date(this.#last.time).toISOString(),
      status: this.#statusLine(),
      controllers: managed.length,
    };
  }

  #backend() {
    return {
      listControllers: (detailed: boolean) => listControllers(this.#view(), detailed),
      explain: () => this.explainJson(),
      processInfo: () => JSON.stringify(this.processInfo()),
      controllerInfo: (args: TidArgs) => controllerInfo(this.#view(), args, (q) => this.#queryTid(q)),
      tron: () => this.#tron,
      setTron: (on: boolean) => {
        this.#setTron(on);
        this.#log.info(`tron ${on ? 'on' : 'off'} (set over D-Bus)`);
      },
    };
  }

  #queryTid(q: TidQuery) {
    if (!isTransport(q.transport)) return null;
    return createTid(
      {
        transport: q.transport,
        traddr: q.traddr,
        trsvcid: q.trsvcid,
        subsysnqn: q.subsysnqn,
        hostTraddr: q.host_traddr,
        hostIface: q.host_iface,
        hostNqn: q.host_nqn,
      },
      { role: 'io' },
    );
  }
}
