/**
 * Kernel uevent monitor: `for await (const n of monitor.watch({ signal }))`
 * yields NVMe uevents (add / change NVME_EVENT / change NVME_AEN / remove) and
 * `resync-needed` notices (wire digest §9.3; style §7.5).
 *
 * Sources, tried in order with `source: 'auto'` (the default):
 * 1. the netlink socket (uevent-socket.ts), non-blocking, open ONLY while at
 *    least one watch is open, and drained (everything pending) when the
 *    kernel signals it: signal-driven I/O, a SIGIO whenever a datagram
 *    arrives or the buffer overflows, sent to the main thread only (so it
 *    never interrupts a worker's blocking system call, such as a fabrics
 *    write). An idle daemon then never wakes for uevents; a slow safety
 *    drain (every 30 s) covers a signal that some security module might
 *    suppress. Why not libuv: it cannot watch a foreign fd for Node code,
 *    and a blocking recv on the threadpool (koffi `.async`) would hold a
 *    threadpool thread for as long as anyone listens, starving fs and dns.
 *    Off the main thread (Node delivers no
 *    signals to workers), with `signalDriven: false`, or if fcntl refuses,
 *    the socket is polled instead (default every 100 ms; ~0.2 ms of CPU per
 *    poll in an idle stacd, so about 0.2 % of a CPU while watched).
 *    SIGIO: this module installs one process listener the first time it
 *    needs one and never removes it (a no-op while no socket is open):
 *    removing it would restore SIGIO's default action, which ends the
 *    process, while a late signal might still be on its way.
 * 2. `udevadm monitor --kernel --property` (uevent-udevadm.ts).
 * The source opens when the first watch starts and closes when the last ends.
 * Subscribe BEFORE reading a sysfs snapshot: events from before `ready` are
 * not delivered.
 *
 * Each watch has a bounded queue (default 256 notices). Bursts coalesce:
 * an event equal to the last queued one except for SEQNUM replaces it, and a
 * full queue is replaced by ONE `resync-needed` (`queue-overflow`). A kernel
 * buffer overflow (ENOBUFS) also yields `resync-needed` (`kernel-overflow`).
 * Either means: events were lost, re-read sysfs once.
 *
 * Ending: the signal's abort, `return()` (a `break` in for-await) or
 * monitor.close() end the iteration normally (done). If no source can be
 * opened or the source dies, `ready` rejects and `next()` rejects with
 * StasError KERNEL_UEVENT_UNAVAILABLE (after the notices already queued).
 *
 * Tests: uevents.test.ts (real socket + real uevent through
 * /sys/class/mem/null/uevent as root; udevadm fallback); the NVMe events in
 * test/e2e/kernel-interface.e2e.test.ts.
 */
import { isMainThread } from 'node:worker_threads';
import { StasError } from '../errors.js';
import type { Uevent } from './uevent-parse.js';
import { parseUeventDatagram } from './uevent-parse.js';
import { UeventQueue } from './uevent-queue.js';
import type { UeventSourceKind, UeventWatch } from './uevent-queue.js';
import type { UeventSocket } from './uevent-socket.js';
import { openUeventSocket } from './uevent-socket.js';
import { startUdevadmMonitor } from './uevent-udevadm.js';

export type { UeventNotice, UeventSourceKind, UeventWatch } from './uevent-queue.js';

export interface WatchOptions {
  readonly signal?: AbortSignal;
  /** SUBSYSTEM values to deliver; default ['nvme']. */
  readonly subsystems?: readonly string[];
  /** Most notices queued before the queue collapses into one resync-needed; default 256. */
  readonly queueLimit?: number;
}

export interface UeventMonitorOptions {
  /** 'auto' (netlink, else udevadm), or one source only. */
  readonly source?: 'auto' | UeventSourceKind;
  /** Drain the netlink socket on SIGIO (default true; only on the main thread). */
  readonly signalDriven?: boolean;
  /** Netlink poll period while watched when not signal-driven; default 100 ms. */
  readonly pollIntervalMs?: number;
  /** udevadm executable; default 'udevadm' (from PATH). */
  readonly udevadm?: string;
  readonly receiveBufferBytes?: number;
}

export const DEFAULT_POLL_INTERVAL_MS = 100;
/** Signal-driven netlink: a drain this often anyway, in case a SIGIO never comes. */
export const SAFETY_DRAIN_INTERVAL_MS = 30_000;
/** Datagrams handled in one go before yielding to the event loop. */
const DRAIN_BATCH = 512;

/** Drains to run on SIGIO, one per signal-driven socket (see the module header). */
const sigioDrains = new Set<() => void>();
let sigioListener: (() => void) | undefined;

/** Run `drain` on every SIGIO until the returned function is called. */
function onSigio(drain: () => void): () => void {
  if (sigioListener === undefined) {
    sigioListener = () => {
      for (const d of [...sigioDrains]) d();
    };
    process.on('SIGIO', sigioListener); // kept for the life of the process: see the module header
  }
  sigioDrains.add(drain);
  return () => {
    sigioDrains.delete(drain);
  };
}

interface Source {
  readonly kind: UeventSourceKind;
  /** Netlink drained on SIGIO rather than polled. */
  readonly signalDriven: boolean;
  stop(): void;
}

interface Sink {
  event(event: Uevent): void;
  overflow(): void;
  failure(err: StasError): void;
}

export class UeventMonitor {
  readonly #opts: UeventMonitorOptions;
  readonly #watchers = new Set<UeventQueue>();
  #source: Source | undefined;
  #sourceReady: Promise<UeventSourceKind> | undefined;
  #generation = 0;

  constructor(opts: UeventMonitorOptions = {}) {
    this.#opts = opts;
  }

  /** The source in use, once open. */
  get source(): UeventSourceKind | undefined {
    return this.#source?.kind;
  }

  /** Whether the open source is the netlink socket drained on SIGIO (undefined while none is open). */
  get signalDriven(): boolean | undefined {
    return this.#source?.signalDriven;
  }

  /** Start receiving (see the module header). Registered at once; events flow once `ready` resolves. */
  watch(opts: WatchOptions = {}): UeventWatch {
    const { signal } = opts;
    if (signal?.aborted === true) {
      const ended = new UeventQueue({
        ready: Promise.reject(new DOMException('This operation was aborted', 'AbortError')),
      });
      ended.ready.catch(() => undefined);
      ended.end();
      return ended;
    }
    if (this.#sourceReady === undefined) {
      this.#sourceReady = this.#open();
      this.#sourceReady.catch(() => undefined); // delivered through each watch's ready/next()
    }
    const watcher = new UeventQueue({
      ready: this.#sourceReady,
      subsystems: opts.subsystems,
      limit: opts.queueLimit,
      onEnd: (w) => {
        this.#detach(w);
      },
    });
    this.#watchers.add(watcher);
    signal?.addEventListener(
      'abort',
      () => {
        watcher.end();
      },
      { once: true },
    );
    return watcher;
  }

  /** End every watch and close the source. */
  close(): void {
    for (const w of [...this.#watchers]) w.end();
    this.#stopSource();
  }

  #detach(w: UeventQueue): void {
    this.#watchers.delete(w);
    if (this.#watchers.size === 0) this.#stopSource();
  }

  #stopSource(): void {
    this.#generation++;
    this.#source?.stop();
    this.#source = undefined;
    this.#sourceReady = undefined;
  }

  #sink(generation: number): Sink {
    const live = (): boolean => generation === this.#generation;
    return {
      event: (event) => {
        if (!live()) return;
        for (const w of this.#watchers) if (w.wants(event)) w.push({ kind: 'uevent', event });
      },
      overflow: () => {
        if (!live()) return;
        for (const w of this.#watchers) w.push({ kind: 'resync-needed', reason: 'kernel-overflow' });
      },
      failure: (err) => {
        if (!live()) return;
        for (const w of [...this.#watchers]) w.fail(err);
        this.#stopSource();
      },
    };
  }

  async #open(): Promise<UeventSourceKind> {
    const generation = this.#generation;
    const sink = this.#sink(generation);
    const wanted = this.#opts.source ?? 'auto';
    const problems: string[] = [];
    if (wanted !== 'udevadm') {
      try {
        const socket = await openUeventSocket({ receiveBufferBytes: this.#opts.receiveBufferBytes });
        return this.#install(generation, this.#readNetlink(socket, sink));
      } catch (err) {
        if (!(err instanceof StasError) || wanted === 'netlink') return this.#abandon(generation, sink, err);
        problems.push(err.message);
      }
    }
    const monitor = startUdevadmMonitor(this.#opts.udevadm ?? 'udevadm', {
      onEvent: (e) => {
        sink.event(e);
      },
      onFailure: (e) => {
        sink.failure(e);
      },
    });
    try {
      await monitor.ready;
    } catch (err) {
      monitor.stop();
      const detail = [...problems, err instanceof Error ? err.message : String(err)].join('; ');
      return this.#abandon(
        generation,
        sink,
        new StasError('KERNEL_UEVENT_UNAVAILABLE', `no uevent source: ${detail}`),
      );
    }
    return this.#install(generation, {
      kind: 'udevadm',
      signalDriven: false,
      stop: () => {
        monitor.stop();
      },
    });
  }

  #install(generation: number, source: Source): UeventSourceKind {
    if (generation !== this.#generation) {
      source.stop(); // every watch ended while opening
      return source.kind;
    }
    this.#source = source;
    return source.kind;
  }

  #abandon(generation: number, sink: Sink, err: unknown): never {
    const failure =
      err instanceof StasError
        ? err
        : new StasError('KERNEL_UEVENT_UNAVAILABLE', String(err), { cause: err });
    if (generation === this.#generation) sink.failure(failure);
    throw failure;
  }

  #readNetlink(socket: UeventSocket, sink: Sink): Source {
    let stopped = false;
    let immediate: NodeJS.Immediate | undefined;
    const drain = (): void => {
      immediate = undefined;
      for (let i = 0; i < DRAIN_BATCH && !stopped; i++) {
        const r = socket.receive();
        switch (r.kind) {
          case 'empty':
            return;
          case 'overflow':
            sink.overflow();
            break;
          case 'error':
            sink.failure(
              new StasError(
                'KERNEL_UEVENT_UNAVAILABLE',
                `uevent socket: recvfrom failed with errno ${r.errno}`,
              ),
            );
            return;
          case 'datagram': {
            if (!r.fromKernel) break;
            const event = parseUeventDatagram(r.bytes);
            if (event !== null) sink.event(event);
            break;
          }
        }
      }
      if (!stopped) immediate = setImmediate(drain); // more pending: continue after other work
    };
    const drainNow = (): void => {
      if (immediate === undefined && !stopped) drain();
    };
    let unsubscribe: (() => void) | undefined;
    if (this.#opts.signalDriven !== false && isMainThread) {
      unsubscribe = onSigio(drainNow); // SIGIO handled first: only then may the kernel send it
      if (socket.signalWhenReadable(process.pid)) {
        immediate = setImmediate(drain); // what arrived before O_ASYNC raised no signal
      } else {
        unsubscribe();
        unsubscribe = undefined;
      }
    }
    const timer = setInterval(
      drainNow,
      unsubscribe !== undefined
        ? SAFETY_DRAIN_INTERVAL_MS
        : (this.#opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS),
    );
    return {
      kind: 'netlink',
      signalDriven: unsubscribe !== undefined,
      stop: () => {
        stopped = true;
        unsubscribe?.();
        clearInterval(timer);
        if (immediate !== undefined) clearImmediate(immediate);
        socket.close();
      },
    };
  }
}
