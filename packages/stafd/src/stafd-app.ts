/**
 * stafd assembled: paths → daemon (config, host identity, cache) → bus link
 * (service exported, name owned) → daemon started → READY=1. main.ts adds the
 * command line, signals and the exit; tests start the whole thing in-process.
 *
 * Order matters: the cache is loaded before D-Bus serves (cached pages are
 * answered at once, stale), and the name is owned before any DC is contacted,
 * so a second stafd fails fast without touching DCs or the cache.
 *
 * Failures at start reject with StartupError (stable codes, one clear
 * sentence); afterwards `fatal` resolves if stafd cannot go on (its bus name
 * was taken while reconnecting). stop() is idempotent: STOPPING=1, daemon
 * stop (deregister, close, save), release the name, close the bus.
 *
 * Used by: main.ts, test/integration/stafd-*.test.ts
 * Tests:   test/integration/stafd-daemon.test.ts
 */
import { join } from 'node:path';
import { BusError } from '@stas/common/dbus/bus-error';
import type { SystemBus } from '@stas/common/dbus/bus';
import { STAF_BUS_NAME } from '@stas/common/dbus/staf-api';
import { StasError, describeError } from '@stas/common/errors';
import type { Logger } from '@stas/common/log/logger';
import type { DcBrowser } from '@stas/common/mdns/dc-browser';
import { selectBrowser } from '@stas/common/mdns/dc-sources';
import { systemClock } from '@stas/common/nvme/session/clock';
import { resolvePaths } from '@stas/common/paths';
import type { Notifier } from '@stas/common/systemd/sd-notify';
import { DEFAULT_BACKOFF, type BackoffPolicy } from '@stas/common/util/backoff';
import { StafdDaemon, type StafdDaemonOptions } from './daemon.js';
import { BusLink } from './dbus/bus-link.js';
import { exportStafService, type StafService } from './dbus/staf-service.js';

/** Name of the cache file in stafd's runtime directory. */
export const CACHE_FILE_NAME = 'dlp-cache.json';

export type StartupErrorCode =
  | 'STAFD_NO_IDENTITY' // no usable host NQN / host ID
  | 'STAFD_ALREADY_RUNNING' // another connection owns org.nvmexpress.staf
  | 'STAFD_NAME_DENIED' // the bus policy does not let us own it
  | 'STAFD_BUS_UNAVAILABLE'; // cannot connect to the bus

export class StartupError extends StasError {
  declare readonly code: StartupErrorCode;

  constructor(code: StartupErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'StartupError';
  }
}

export type DaemonTuning = Partial<
  Pick<
    StafdDaemonOptions,
    | 'openSession'
    | 'lookup'
    | 'clock'
    | 'random'
    | 'now'
    | 'resolveTimeoutMs'
    | 'pollMs'
    | 'saveDelayMs'
    | 'maxReferralDepth'
    | 'sessionOptions'
  >
>;

export interface StafdAppOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  /** -f: stafd.conf; default <etc>/stas/stafd.conf. */
  readonly confFile?: string;
  /** --bus-address; default DBUS_SYSTEM_BUS_ADDRESS, then the system bus. */
  readonly busAddress?: string;
  readonly forceTron?: boolean;
  readonly notifier?: Notifier;
  /** The mDNS browser for a bus connection (null: none); default avahi, else the embedded browser. */
  readonly createBrowser?: (bus: SystemBus | null) => DcBrowser | null;
  readonly daemon?: DaemonTuning;
  readonly pid?: number;
  readonly busBackoff?: BackoffPolicy;
}

export interface StafdApp {
  readonly daemon: StafdDaemon;
  readonly link: BusLink<StafService>;
  /** Time from start to the bus name owned, ms. */
  readonly startupMs: number;
  reload(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves when stafd cannot go on (then stop() and exit 1). */
  readonly fatal: Promise<Error>;
}

export interface StafdFiles {
  readonly confFile: string;
  readonly sysConfFile: string;
  readonly etcNvme: string;
  readonly cacheFile: string;
}

/** Where stafd's files are: -f, STAS_* path variables, $RUNTIME_DIRECTORY (systemd) for the cache. */
export function stafdFiles(env: Readonly<Record<string, string | undefined>>, confFile?: string): StafdFiles {
  const paths = resolvePaths(env);
  const runtime = (env['RUNTIME_DIRECTORY'] ?? '').split(':')[0] ?? '';
  return {
    confFile: confFile ?? join(paths.etcStas, 'stafd.conf'),
    sysConfFile: join(paths.etcStas, 'sys.conf'),
    etcNvme: paths.etcNvme,
    cacheFile: join(runtime !== '' ? runtime : join(paths.run, 'stafd'), CACHE_FILE_NAME),
  };
}

function startupError(err: unknown): StartupError {
  if (err instanceof BusError) {
    switch (err.code) {
      case 'DBUS_NAME_TAKEN':
        return new StartupError(
          'STAFD_ALREADY_RUNNING',
          `another stafd is running: ${STAF_BUS_NAME} is owned by another connection on this bus`,
          { cause: err },
        );
      case 'DBUS_NAME_DENIED':
        return new StartupError(
          'STAFD_NAME_DENIED',
          `the D-Bus policy does not let this user own ${STAF_BUS_NAME} ` +
            '(install dbus/org.nvmexpress.staf.conf, and run stafd as a user it allows)',
          { cause: err },
        );
      default:
        return new StartupError('STAFD_BUS_UNAVAILABLE', `cannot use the system bus: ${err.message}`, {
          cause: err,
        });
    }
  }
  return new StartupError('STAFD_BUS_UNAVAILABLE', `cannot use the system bus: ${describeError(err)}`, {
    cause: err,
  });
}

export async function startStafd(options: StafdAppOptions): Promise<StafdApp> {
  const started = performance.now();
  const log = options.log;
  const notifier = options.notifier;
  const files = stafdFiles(options.env, options.confFile);
  const clock = options.daemon?.clock ?? systemClock;
  const createBrowser: (bus: SystemBus | null) => DcBrowser | null =
    options.createBrowser ??
    ((bus: SystemBus | null) =>
      selectBrowser(bus, {
        onListenerError: (err) => {
          log.error({ err: describeError(err) }, 'mDNS listener failed');
        },
      }));

  const daemon: StafdDaemon = new StafdDaemon({
    ...files,
    ...options.daemon,
    log,
    forceTron: options.forceTron ?? false,
    createBrowser: () => createBrowser(link.bus),
  });
  const loaded = await daemon.load();
  if (!loaded.ok) throw new StartupError('STAFD_NO_IDENTITY', loaded.reason);

  let reportFatal: (err: Error) => void = () => undefined;
  const fatal = new Promise<Error>((resolve) => (reportFatal = resolve));
  const processCtx = { pid: options.pid ?? process.pid, startedAt: Date.now() };
  const link: BusLink<StafService> = new BusLink<StafService>({
    ...(options.busAddress !== undefined ? { address: options.busAddress } : {}),
    env: options.env,
    log,
    clock,
    random: options.daemon?.random ?? Math.random,
    backoff: options.busBackoff ?? DEFAULT_BACKOFF,
    exportService: (bus): StafService =>
      exportStafService(bus, {
        source: daemon,
        log,
        clock,
        now: options.daemon?.now ?? Date.now,
        process: processCtx,
      }),
    onLost: () => {
      notifier?.status('D-Bus connection lost; reconnecting');
    },
    onRestored: () => {
      notifier?.status('ready');
      void daemon.restartBrowser();
    },
    onFatal: (err) => {
      reportFatal(err);
    },
  });
  try {
    await link.start();
  } catch (err) {
    await daemon.stop();
    throw startupError(err);
  }
  const startupMs = performance.now() - started;
  log.info({ name: STAF_BUS_NAME, ms: Math.round(startupMs) }, 'D-Bus name owned');

  daemon.on('log-pages-changed', (tid) => {
    link.service?.logPagesChanged(tid);
  });
  daemon.on('dc-removed', () => {
    link.service?.dcRemoved();
  });
  daemon.on('tron', (_tron, source) => {
    if (source !== 'dbus') link.service?.tronChanged();
  });
  daemon.on('reconciled', (held) => {
    notifier?.status(`${held} discovery controller${held === 1 ? '' : 's'}`);
  });

  daemon.start();
  notifier?.ready('ready');
  const watchdogMs = notifier?.watchdogIntervalMs ?? null;
  const watchdog =
    watchdogMs === null || notifier === undefined
      ? undefined
      : setInterval(() => {
          notifier.watchdog();
        }, watchdogMs);

  let reloading: Promise<void> = Promise.resolve();
  let stopping: Promise<void> | undefined;
  return {
    daemon,
    link,
    startupMs,
    fatal,
    reload: () => {
      // Reloads run one after the other; one arriving during a reload runs after it.
      reloading = reloading.then(async () => {
        if (stopping !== undefined) return;
        notifier?.reloading('reloading');
        await daemon.reload();
        notifier?.ready('ready');
      });
      return reloading;
    },
    stop: () => {
      stopping ??= (async () => {
        notifier?.stopping('stopping');
        if (watchdog !== undefined) clearInterval(watchdog);
        await reloading.catch(() => undefined);
        await daemon.stop();
        await link.close();
      })();
      return stopping;
    },
  };
}
