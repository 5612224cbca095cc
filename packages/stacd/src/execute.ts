/**
 * Carries out the planner's actions: connects through the FabricsDevice,
 * claims (`owner=stas`) what it creates or adopts in the controller registry,
 * disconnects and releases, and remembers per controller how that went
 * (connecting / connected / failed with the last error, attempt count and
 * next retry).
 *
 * The executor decides nothing. It is:
 * - serialized per controller identity (transport, traddr, trsvcid, subsystem):
 *   a disconnect never overtakes a pending connect (serial-queue.ts), and
 *   bounded (`concurrency` kernel operations at once, default 16, see below);
 * - idempotent: an action already queued or running for a key is not queued
 *   again; `already-connected` (EALREADY) is success, and the controller the
 *   kernel already has is located and claimed;
 * - not fooled by its own lag: a plan made from an observation taken before
 *   a job on the same controller finished is stale for that controller
 *   (its snapshot may predate the controller the job created or deleted).
 *   The daemon takes `observationMark()` before it observes and passes it to
 *   `execute()`; stale actions are left out (logged at debug) and a new round
 *   is asked for, so the planner decides them again from a fresh snapshot.
 *   Without this, every round that overlaps a burst of connects repeats the
 *   connects that finished during its observation (EALREADY, and a full
 *   sysfs re-read to locate the controller);
 * - patient: a failed connect is not repeated before its backoff delay
 *   (util/backoff.ts: transient errors back off from 1 s to 60 s; errors
 *   that need a configuration change wait the full 60 s); when the delay is
 *   over it asks for a new planning round (`requestRound`), so the planner
 *   (NCC budget, exclusions, stafd) has the last word on every retry.
 * It never steals a controller another owner claimed meanwhile, and re-reads
 * the owner right before a disconnect. A controller without its own
 * `dhchap-secret` gets the host's DH-HMAC-CHAP key (sys.conf), as nvme-stas
 * does; the controller's own key wins (nvme-stas let the host key win).
 *
 * Logging (style §7.6): ONE info line per decision to connect, adopt,
 * disconnect or skip, with its reason code and TID, logged again only when
 * the decision for that controller changes; keeps at debug. Outcomes: the
 * first failure (warn) and the recovery (info), not every retry.
 *
 * Concurrency (DEFAULT_EXECUTOR_CONCURRENCY = 16): how many controllers can
 * have a kernel operation outstanding. Linux serialises /dev/nvme-fabrics
 * writes under one global mutex (nvmf_dev_mutex in
 * drivers/nvme/host/fabrics.c, held across nvmf_create_ctrl), so on today's
 * kernels concurrent connects queue in the kernel. The bound still matters:
 * disconnects (delete_controller, not under that mutex) overlap; one connect
 * hung on a dead target does not hold up the queue of unrelated work behind
 * it in userspace; and a kernel without the global lock connects in
 * parallel. It matches DEFAULT_FABRICS_CONCURRENCY (the worker threads that
 * do the calls), so queueing happens here, per controller, not in the pool.
 *
 * Dry run (`dryRun`): the FabricsDevice given is a dry-run one (it logs what
 * it would write); the registry is not touched and nothing is retried.
 *
 * Used by: daemon.ts. Tests: execute.test.ts
 */
import type { ConnectSecrets } from '@stas/common/kernel/connect-args';
import { ConnectArgsError, buildConnectArgs } from '@stas/common/kernel/connect-args';
import type { FabricsDevice } from '@stas/common/kernel/fabrics-device';
import type { FabricsOptionSet } from '@stas/common/kernel/fabrics-options';
import type { DeviceName } from '@stas/common/kernel/fabrics-outcome';
import type { RegistryLocations } from '@stas/common/kernel/registry';
import { STAS_OWNER, claimController, readOwner, releaseController } from '@stas/common/kernel/registry';
import type { Logger } from '@stas/common/log/logger';
import type { Tid } from '@stas/common/nvme/tid';
import { formatTid } from '@stas/common/nvme/tid';
import { describeError } from '@stas/common/errors';
import type { BackoffPolicy } from '@stas/common/util/backoff';
import type { Secret } from '@stas/common/util/secret';
import { DEFAULT_BACKOFF, nextDelayMs } from '@stas/common/util/backoff';
import type { HostIds, IocAction } from './plan.js';
import { SerialQueue } from './serial-queue.js';

export type IocPhase = 'connecting' | 'connected' | 'failed' | 'disconnecting' | 'dry-run';

/** What the executor knows about one controller (by desired TID key, or the kernel TID key for disconnects). */
export interface IocRecord {
  readonly key: string;
  readonly tid: Tid;
  readonly phase: IocPhase;
  readonly device: DeviceName | undefined;
  /** Failed connects in a row. */
  readonly attempts: number;
  readonly lastError: string | undefined;
  /** Epoch ms of the next connect attempt; undefined when none is waiting. */
  readonly nextRetryAt: number | undefined;
  /** The last connect string written (secrets redacted). */
  readonly connectArgs: string | undefined;
  /** Epoch ms of the last phase change. */
  readonly since: number;
}

export interface ExecutorOptions {
  readonly fabrics: FabricsDevice;
  readonly registry: RegistryLocations;
  readonly log: Logger;
  /** The host NQN/ID connect strings use when the TID has none. */
  readonly identity: () => HostIds;
  /** The host's DH-HMAC-CHAP key (sys.conf), used when a controller has no dhchap-secret of its own. */
  readonly hostKey?: () => Secret | null;
  /** The controller the kernel already has for `tid` (after EALREADY), from a fresh snapshot. */
  readonly locate: (tid: Tid) => Promise<DeviceName | undefined>;
  /** Ask the daemon for a planning round (something changed, or a retry is due). */
  readonly requestRound: (why: string) => void;
  readonly backoff?: BackoffPolicy;
  readonly random?: () => number;
  readonly now?: () => number;
  readonly concurrency?: number;
  readonly dryRun?: boolean;
}

export const DEFAULT_EXECUTOR_CONCURRENCY = 16;

export interface ExecuteOptions {
  /**
   * `observationMark()` taken before the observation the plan was made from;
   * actions on controllers whose jobs finished after it are stale (skipped).
   * Omitted: no action is considered stale.
   */
  readonly observedAt?: number;
}

type ConnectAction = Extract<IocAction, { kind: 'connect' }>;
type AdoptAction = Extract<IocAction, { kind: 'adopt' }>;
type DisconnectAction = Extract<IocAction, { kind: 'disconnect' }>;

/** Jobs on one controller run in this lane, whatever key the planner used for them. */
function laneOf(tid: Tid): string {
  return [tid.transport, tid.traddr, tid.trsvcid, tid.subsysnqn].join('|');
}

export class Executor {
  readonly #opts: ExecutorOptions;
  readonly #queue: SerialQueue;
  readonly #backoff: BackoffPolicy;
  readonly #now: () => number;
  readonly #records = new Map<string, IocRecord>();
  /** Kinds of the jobs queued or running, per key (a key with a job is busy). */
  readonly #pending = new Map<string, Set<string>>();
  /** Jobs finished so far (the observation mark). */
  #finished = 0;
  /** Per lane, the value of #finished right after its latest job finished. */
  readonly #laneFinished = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  /** Last decision logged per key (`kind:reason`). */
  readonly #decisions = new Map<string, string>();
  #supported: Promise<FabricsOptionSet> | undefined;
  #closed = false;

  constructor(opts: ExecutorOptions) {
    this.#opts = opts;
    this.#queue = new SerialQueue(opts.concurrency ?? DEFAULT_EXECUTOR_CONCURRENCY);
    this.#backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.#now = opts.now ?? Date.now;
  }

  /** Per-controller state, sorted by key. */
  records(): IocRecord[] {
    return [...this.#records.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  record(key: string): IocRecord | undefined {
    return this.#records.get(key);
  }

  /** Failed connects in a row, per key (the planner's NCC budget input). */
  attempts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.#records.values()) if (r.attempts > 0) out.set(r.key, r.attempts);
    return out;
  }

  /** Forget every backoff delay (SIGHUP: try failed controllers now). Attempt counts stay. */
  resetBackoff(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    for (const [key, r] of this.#records) {
      if (r.nextRetryAt !== undefined) this.#records.set(key, { ...r, nextRetryAt: undefined });
    }
    this.#supported = undefined;
  }

  /** Resolves once no job is queued or running. */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  /** Jobs queued or running. */
  get busy(): boolean {
    return this.#queue.size > 0;
  }

  /** Take before observing; pass to execute() as `observedAt` (see the module header). */
  observationMark(): number {
    return this.#finished;
  }

  /** Stop: no new jobs, no retries; waits for running kernel operations (never disconnects anything). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await this.#queue.close();
  }

  /** Carry out one plan (see the module header). Returns at once; jobs run in the background. */
  execute(actions: readonly IocAction[], opts: ExecuteOptions = {}): void {
    if (this.#closed) return;
    // Stale actions still count here: their keys' records stay until a fresh plan decides.
    const keys = new Set(actions.map((a) => a.key));
    for (const key of [...this.#decisions.keys()]) if (!keys.has(key)) this.#decisions.delete(key);
    for (const key of [...this.#records.keys()]) {
      if (keys.has(key) || this.#busy(key)) continue;
      this.#records.delete(key);
      this.#clearTimer(key);
    }
    let stale = 0;
    if (opts.observedAt !== undefined) {
      // Rounds execute in order, so no later plan can be stale for these lanes.
      for (const [lane, n] of this.#laneFinished) if (n <= opts.observedAt) this.#laneFinished.delete(lane);
    }
    for (const a of actions) {
      if (this.#isStale(a, opts.observedAt)) {
        stale++;
        continue;
      }
      this.#logDecision(a);
      switch (a.kind) {
        case 'connect':
          this.#startConnect(a);
          break;
        case 'adopt':
          this.#enqueue('adopt', a.key, a.tid, () => this.#adopt(a));
          break;
        case 'disconnect':
          this.#enqueue('disconnect', a.key, a.tid, () => this.#disconnect(a));
          break;
        case 'keep':
          if (a.device !== undefined && a.tid !== null && a.owner === STAS_OWNER && !this.#busy(a.key)) {
            const r = this.#records.get(a.key);
            if (r?.phase !== 'connected' || r.device !== a.device)
              this.#set(a.key, a.tid, {
                phase: 'connected',
                device: a.device,
                attempts: 0,
                lastError: undefined,
              });
            this.#clearTimer(a.key);
          }
          break;
        case 'skip':
          if (a.reason !== 'ncc-gave-up' && !this.#busy(a.key)) {
            this.#records.delete(a.key);
            this.#clearTimer(a.key);
          } else if (a.reason === 'ncc-gave-up') {
            this.#clearTimer(a.key);
            const r = this.#records.get(a.key);
            if (r !== undefined && r.nextRetryAt !== undefined)
              this.#records.set(a.key, { ...r, nextRetryAt: undefined });
          }
          break;
      }
    }
    if (stale > 0) {
      this.#opts.log.debug(
        { stale },
        `${stale} actions planned before their controllers' last jobs finished; planning again`,
      );
      this.#opts.requestRound(`${stale} stale actions`);
    }
  }

  /** A job on this action's controller finished after the observation the action was planned from. */
  #isStale(a: IocAction, observedAt: number | undefined): boolean {
    if (observedAt === undefined || a.tid === null) return false;
    return (this.#laneFinished.get(laneOf(a.tid)) ?? 0) > observedAt;
  }

  #busy(key: string): boolean {
    return this.#pending.has(key);
  }

  #logDecision(a: IocAction): void {
    const decision = `${a.kind}:${a.reason}`;
    const repeated = this.#decisions.get(a.key) === decision;
    this.#decisions.set(a.key, decision);
    const fields = {
      action: a.kind,
      reason: a.reason,
      ...(a.tid === null ? {} : { tid: formatTid(a.tid) }),
      ...('device' in a && a.device !== undefined ? { device: a.device } : {}),
    };
    const line = `${a.kind} (${a.reason}): ${a.detail}`;
    if (a.kind === 'keep' || repeated) this.#opts.log.debug(fields, line);
    else this.#opts.log.info(fields, line);
  }

  #enqueue(kind: string, key: string, tid: Tid, job: () => Promise<void>): void {
    const kinds = this.#pending.get(key) ?? new Set<string>();
    if (kinds.has(kind)) return;
    kinds.add(kind);
    this.#pending.set(key, kinds);
    const lane = laneOf(tid);
    this.#queue
      .run(lane, async () => {
        try {
          await job();
        } finally {
          // Counted once the job's effects are done: an observation marked after this sees them.
          this.#finished++;
          this.#laneFinished.set(lane, this.#finished);
        }
      })
      .catch((err: unknown) => {
        if (!this.#closed)
          this.#opts.log.error({ err, key }, `${kind} job failed unexpectedly: ${describeError(err)}`);
      })
      .finally(() => {
        kinds.delete(kind);
        if (kinds.size === 0) this.#pending.delete(key);
      });
  }

  #set(key: string, tid: Tid, change: Partial<Omit<IocRecord, 'key' | 'tid' | 'since'>>): IocRecord {
    const old = this.#records.get(key);
    const base: IocRecord = old ?? {
      key,
      tid,
      phase: 'connecting',
      device: undefined,
      attempts: 0,
      lastError: undefined,
      nextRetryAt: undefined,
      connectArgs: undefined,
      since: this.#now(),
    };
    const phaseChanged = change.phase !== undefined && change.phase !== base.phase;
    const next: IocRecord = { ...base, ...change, tid, ...(phaseChanged ? { since: this.#now() } : {}) };
    this.#records.set(key, next);
    return next;
  }

  #clearTimer(key: string): void {
    const timer = this.#timers.get(key);
    if (timer !== undefined) clearTimeout(timer);
    this.#timers.delete(key);
  }

  #startConnect(a: ConnectAction): void {
    const r = this.#records.get(a.key);
    if (r !== undefined) {
      if (r.phase === 'failed' && r.nextRetryAt !== undefined && r.nextRetryAt > this.#now()) return;
      if (r.phase === 'dry-run') return;
    }
    this.#enqueue('connect', a.key, a.tid, () => this.#connect(a));
  }

  #supportedOptions(): Promise<FabricsOptionSet> {
    this.#supported ??= this.#opts.fabrics.probeOptions();
    const probe = this.#supported;
    probe.catch(() => {
      if (this.#supported === probe) this.#supported = undefined;
    });
    return probe;
  }

  async #connect(a: ConnectAction): Promise<void> {
    const log = this.#opts.log.child({ tid: formatTid(a.tid) });
    this.#set(a.key, a.tid, { phase: 'connecting', nextRetryAt: undefined });
    let text: string;
    let redacted: string;
    try {
      const supported = await this.#supportedOptions();
      const secrets: ConnectSecrets = {
        dhchapSecret: a.params.dhchapSecret ?? this.#opts.hostKey?.() ?? null,
        dhchapCtrlSecret: a.params.dhchapCtrlSecret,
      };
      const args = buildConnectArgs({
        tid: a.tid,
        role: 'io',
        options: a.params.options,
        host: this.#opts.identity(),
        secrets,
        supported: supported.options,
      });
      text = args.text;
      redacted = args.redacted;
      if (args.omitted.length > 0)
        log.debug({ omitted: args.omitted }, `the kernel does not support: ${args.omitted.join(', ')}`);
    } catch (err) {
      const permanent = err instanceof ConnectArgsError;
      this.#failed(a, `cannot build the connect string: ${describeError(err)}`, !permanent, log);
      return;
    }
    this.#set(a.key, a.tid, { connectArgs: redacted });
    const outcome = await this.#opts.fabrics.connect(text);
    if (this.#opts.dryRun === true) {
      this.#set(a.key, a.tid, { phase: 'dry-run', lastError: undefined });
      return;
    }
    if (!outcome.ok) {
      this.#failed(a, outcome.message, outcome.transient, log);
      return;
    }
    let device: DeviceName | undefined;
    if (outcome.kind === 'connected') {
      device = outcome.device;
    } else {
      device = await this.#opts.locate(a.tid);
      if (device === undefined) {
        this.#failed(
          a,
          'the kernel reports the controller already exists, but no matching controller was found',
          true,
          log,
        );
        return;
      }
    }
    const previous = this.#records.get(a.key);
    const claim = await this.#claim(device, log);
    this.#set(a.key, a.tid, {
      phase: 'connected',
      device,
      attempts: 0,
      lastError: undefined,
      nextRetryAt: undefined,
    });
    const after =
      previous !== undefined && previous.attempts > 0 ? ` after ${previous.attempts} failed attempts` : '';
    const how = outcome.kind === 'connected' ? 'connected' : 'already connected';
    log.info(
      { device, reason: a.reason },
      `${how} as ${device}${after}${claim === 'refused' ? ' (not claimed)' : ''}`,
    );
    // Plan again only if something changed: an EALREADY for a controller we already own changes nothing.
    if (outcome.kind === 'connected' || claim === 'claimed') this.#opts.requestRound(`${a.key} connected`);
  }

  /** Claim `device` for stas; `refused` when another owner has it or the registry failed (logged). */
  async #claim(device: DeviceName, log: Logger): Promise<'claimed' | 'already-ours' | 'refused'> {
    if (this.#opts.dryRun === true) return 'already-ours';
    try {
      const result = await claimController(this.#opts.registry, device, STAS_OWNER);
      if (result.ok) return result.kind === 'already-ours' ? 'already-ours' : 'claimed';
      log.warn({ device, owner: result.owner }, `${device} belongs to ${result.owner}; not claimed`);
      return 'refused';
    } catch (err) {
      log.warn({ device, err }, `cannot record ${device} in the registry: ${describeError(err)}`);
      return 'refused';
    }
  }

  #failed(a: ConnectAction, message: string, transient: boolean, log: Logger): void {
    const old = this.#records.get(a.key);
    const attempts = (old?.attempts ?? 0) + 1;
    const delay = transient
      ? nextDelayMs(attempts - 1, this.#backoff, this.#opts.random ?? Math.random)
      : this.#backoff.capMs;
    const nextRetryAt = this.#now() + delay;
    this.#set(a.key, a.tid, { phase: 'failed', attempts, lastError: message, nextRetryAt });
    const text = `connect failed: ${message}; next attempt in ${Math.round(delay / 100) / 10} s`;
    if (attempts === 1 || old?.lastError !== message) log.warn({ attempts, reason: a.reason }, text);
    else log.debug({ attempts }, text);
    this.#clearTimer(a.key);
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(a.key);
      const r = this.#records.get(a.key);
      if (r?.nextRetryAt !== undefined) this.#records.set(a.key, { ...r, nextRetryAt: undefined });
      this.#opts.requestRound(`retry ${a.key}`);
    }, delay);
    timer.unref();
    this.#timers.set(a.key, timer);
  }

  async #adopt(a: AdoptAction): Promise<void> {
    const log = this.#opts.log.child({ tid: formatTid(a.tid) });
    if ((await this.#claim(a.device, log)) !== 'refused') {
      this.#set(a.key, a.tid, { phase: 'connected', device: a.device, attempts: 0, lastError: undefined });
      log.info({ device: a.device }, `adopted ${a.device} (owner=stas) without reconnecting`);
    }
  }

  async #disconnect(a: DisconnectAction): Promise<void> {
    const log = this.#opts.log.child({ tid: formatTid(a.tid), device: a.device });
    if (this.#opts.dryRun === true) {
      log.info(`dry run: would delete ${a.device}`);
      return;
    }
    let owner: string | undefined;
    try {
      owner = await readOwner(this.#opts.registry, a.device);
    } catch (err) {
      log.warn({ err }, `cannot read the owner of ${a.device}; not disconnecting: ${describeError(err)}`);
      return;
    }
    if (owner !== a.owner && owner !== undefined && owner !== STAS_OWNER) {
      log.info({ owner }, `${a.device} now belongs to ${owner}; not disconnecting`);
      return;
    }
    this.#set(a.key, a.tid, { phase: 'disconnecting', device: a.device });
    const outcome = await this.#opts.fabrics.disconnect(a.device);
    if (!outcome.ok) {
      this.#set(a.key, a.tid, { phase: 'failed', lastError: outcome.message });
      log.warn(`disconnect failed: ${outcome.message}`);
      return;
    }
    try {
      await releaseController(this.#opts.registry, a.device, STAS_OWNER);
    } catch (err) {
      log.warn({ err }, `cannot remove ${a.device} from the registry: ${describeError(err)}`);
    }
    this.#records.delete(a.key);
    log.info(outcome.kind === 'deleted' ? `disconnected ${a.device}` : `${a.device} was already gone`);
    this.#opts.requestRound(`${a.device} disconnected`);
  }
}
