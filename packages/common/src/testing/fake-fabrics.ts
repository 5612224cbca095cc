/**
 * A FabricsDevice for tests of the daemons: records every connect string and
 * disconnect, answers after a configurable delay, and (given a sys root)
 * creates and removes the controllers in a fake sysfs tree
 * (testing/sysfs-tree.ts), so that sysfs.ts reads what was "connected".
 *
 * Default answers behave like the kernel: the lowest free instance number;
 * EALREADY (`already-connected`) for a second I/O connection with the same
 * nqn, transport, traddr, trsvcid, host_traddr, host_iface and hostnqn
 * (never for discovery controllers or with duplicate_connect); EINVAL for a
 * string without nqn or transport; delete of an unknown device → already-gone.
 * `respond` overrides the answer per call (return undefined for the default).
 *
 * Timing: every answer comes `delayMs` after the call. A connect is decided
 * when it starts, as the kernel does (it checks for a duplicate and takes the
 * instance early, under its global nvmf_dev_mutex), so a concurrent connect
 * of the same controller gets EALREADY, and its controller appears in the
 * fake sysfs tree during the delay, not after it: the answer comes after
 * `delayMs` or the tree update, whichever is later, not their sum (on a busy
 * disk the update alone can take tens of ms). A disconnect removes the
 * controller after its delay (the kernel frees the instance at the end).
 *
 * The fake has no concurrency bound of its own; `maxInFlight` tells tests of
 * executors what they allowed. Timers: node timers (vitest fake timers work).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { FabricsDevice, FabricsRequestOptions } from '../kernel/fabrics-device.js';
import type { FabricsOptionSet } from '../kernel/fabrics-options.js';
import { parseFabricsOptions } from '../kernel/fabrics-options.js';
import type {
  ConnectFailure,
  ConnectOutcome,
  DeviceName,
  DisconnectOutcome,
} from '../kernel/fabrics-outcome.js';
import { connectOutcomeFromErrno, deviceNameOf, errnoNumber } from '../kernel/fabrics-outcome.js';
import { StasError } from '../errors.js';
import { removeFakeController, writeFakeController } from './sysfs-tree.js';

/** What `cat /dev/nvme-fabrics` shows on Debian 12's kernel 6.1. */
export const KERNEL_6_1_OPTION_LIST =
  'instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,queue_size=%d,nr_io_queues=%d,' +
  'reconnect_delay=%d,ctrl_loss_tmo=%d,keep_alive_tmo=%d,hostnqn=%s,host_traddr=%s,host_iface=%s,' +
  'hostid=%s,duplicate_connect,disable_sqflow,hdr_digest,data_digest,nr_write_queues=%d,' +
  'nr_poll_queues=%d,tos=%d,fast_io_fail_tmo=%d,discovery,dhchap_secret=%s,dhchap_ctrl_secret=%s\n';

const WK_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

/** Key/value view of a connect string (flags map to ''). First `=` splits. */
export function parseConnectString(text: string): Map<string, string> {
  const tokens = new Map<string, string>();
  for (const part of text.split(/[,\n]/)) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    tokens.set(eq === -1 ? part : part.slice(0, eq), eq === -1 ? '' : part.slice(eq + 1));
  }
  return tokens;
}

/** A connect failure as the kernel's errno would give it (`fakeFailure('ECONNREFUSED')`). */
export function fakeFailure(errno: string): ConnectFailure {
  const n = errnoNumber(errno);
  if (n === undefined) throw new RangeError(`unknown errno name ${errno}`);
  const outcome = connectOutcomeFromErrno(n, 'write');
  if (outcome.ok) throw new RangeError(`${errno} is not a failure`);
  return outcome;
}

export interface FakeConnectRecord {
  readonly text: string;
  readonly tokens: ReadonlyMap<string, string>;
  readonly outcome: ConnectOutcome;
}

export interface FakeFabricsOptions {
  /** Delay before every answer; default 0. */
  readonly delayMs?: number;
  /** When set, controllers appear in / vanish from this fake sysfs tree. */
  readonly sysRoot?: string;
  /** Answer of probeOptions(); default Debian 12's 6.1 list. */
  readonly options?: FabricsOptionSet;
  /** Custom answer for call `index` (0-based); undefined = default behaviour. */
  readonly respond?: (text: string, index: number) => ConnectOutcome | undefined;
  /** Custom disconnect answer; undefined = default. */
  readonly respondDisconnect?: (device: DeviceName) => DisconnectOutcome | undefined;
}

interface LiveController {
  readonly instance: number;
  readonly tokens: ReadonlyMap<string, string>;
}

const IDENTITY = ['nqn', 'transport', 'traddr', 'trsvcid', 'host_traddr', 'host_iface', 'hostnqn'] as const;

export class FakeFabricsDevice implements FabricsDevice {
  readonly connects: FakeConnectRecord[] = [];
  readonly disconnects: DeviceName[] = [];
  inFlight = 0;
  maxInFlight = 0;
  readonly #opts: FakeFabricsOptions;
  readonly #live = new Map<number, LiveController>();
  #closed = false;

  constructor(opts: FakeFabricsOptions = {}) {
    this.#opts = opts;
  }

  /** Devices the fake currently holds, by instance (a connect's from the moment it starts). */
  get live(): DeviceName[] {
    return [...this.#live.keys()].sort((a, b) => a - b).map(deviceNameOf);
  }

  /** Run `fn` after the delay, or (`during`) alongside it, answering when both are done. */
  async #enter<T>(
    opts: FabricsRequestOptions | undefined,
    fn: () => Promise<T>,
    when: 'after' | 'during' = 'after',
  ): Promise<T> {
    if (this.#closed) throw new StasError('KERNEL_POOL_CLOSED', 'fake fabrics device: closed');
    opts?.signal?.throwIfAborted();
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const ms = this.#opts.delayMs ?? 0;
      if (ms <= 0) return await fn();
      if (when === 'after') {
        await delay(ms);
        return await fn();
      }
      const [value] = await Promise.all([fn(), delay(ms)]);
      return value;
    } finally {
      this.inFlight--;
    }
  }

  #defaultConnect(tokens: ReadonlyMap<string, string>): ConnectOutcome {
    if (!tokens.has('nqn') || !tokens.has('transport')) return fakeFailure('EINVAL');
    const discovery = tokens.get('nqn') === WK_NQN || tokens.has('discovery');
    if (!discovery && !tokens.has('duplicate_connect')) {
      const same = [...this.#live.values()].some((c) =>
        IDENTITY.every((k) => c.tokens.get(k) === tokens.get(k)),
      );
      if (same) return { ok: true, kind: 'already-connected' };
    }
    let instance = 0;
    while (this.#live.has(instance)) instance++;
    return { ok: true, kind: 'connected', device: deviceNameOf(instance), instance, cntlid: instance + 1 };
  }

  async connect(text: string, opts?: FabricsRequestOptions): Promise<ConnectOutcome> {
    const index = this.connects.length;
    const tokens = parseConnectString(text);
    const record = { text, tokens, outcome: { ok: true, kind: 'already-connected' } as ConnectOutcome };
    this.connects.push(record);
    return this.#enter(
      opts,
      async () => {
        const outcome = this.#opts.respond?.(text, index) ?? this.#defaultConnect(tokens);
        record.outcome = outcome;
        if (outcome.ok && outcome.kind === 'connected') {
          this.#live.set(outcome.instance, { instance: outcome.instance, tokens });
          if (this.#opts.sysRoot !== undefined)
            await this.#writeSysfs(outcome.instance, outcome.cntlid, tokens);
        }
        return outcome;
      },
      'during',
    );
  }

  async #writeSysfs(instance: number, cntlid: number, tokens: ReadonlyMap<string, string>): Promise<void> {
    const sysRoot = this.#opts.sysRoot;
    if (sysRoot === undefined) return;
    const nqn = tokens.get('nqn') ?? '';
    const discovery = nqn === WK_NQN || tokens.has('discovery');
    await writeFakeController(sysRoot, {
      instance,
      cntlid,
      transport: tokens.get('transport'),
      traddr: tokens.get('traddr') ?? '',
      trsvcid: tokens.get('trsvcid') ?? 'none',
      hostTraddr: tokens.get('host_traddr'),
      hostIface: tokens.get('host_iface'),
      srcAddr: tokens.get('transport') === 'tcp' ? (tokens.get('host_traddr') ?? '127.0.0.1') : undefined,
      subsysnqn: nqn,
      cntrltype: discovery ? 'discovery' : 'io',
      hostnqn: tokens.get('hostnqn'),
      hostid: tokens.get('hostid'),
      kato: Number(tokens.get('keep_alive_tmo') ?? (discovery ? 0 : 5)),
      namespaces: discovery ? [] : [1],
    });
  }

  async disconnect(device: DeviceName, opts?: FabricsRequestOptions): Promise<DisconnectOutcome> {
    this.disconnects.push(device);
    return this.#enter(opts, async () => {
      const custom = this.#opts.respondDisconnect?.(device);
      if (custom !== undefined) return custom;
      const instance = Number(device.slice(4));
      if (!this.#live.delete(instance)) return { ok: true, kind: 'already-gone' };
      if (this.#opts.sysRoot !== undefined) await removeFakeController(this.#opts.sysRoot, instance);
      return { ok: true, kind: 'deleted' };
    });
  }

  probeOptions(opts?: FabricsRequestOptions): Promise<FabricsOptionSet> {
    return this.#enter(opts, () =>
      Promise.resolve(
        this.#opts.options ?? { options: parseFabricsOptions(KERNEL_6_1_OPTION_LIST), source: 'kernel' },
      ),
    );
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
