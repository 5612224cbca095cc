/**
 * stafd's D-Bus service: `org.nvmexpress.staf` and `org.nvmexpress.staf.debug` at
 * /org/nvmexpress/staf, exactly as staf-api.ts / dbus/org.nvmexpress.staf.xml
 * declare them. A thin adapter: every answer is built by controller-dicts.ts
 * from the daemon's current views; nothing is cached here.
 *
 * - list_controllers(b) → aa{ss}; get_log_pages(7×s) → aa{ss} ([] if unknown);
 *   get_all_log_pages(b) → JSON text; signals log_pages_changed (sent by the
 *   caller only when entries really changed, F15) and dc_removed.
 * - debug: tron (read-write; Set changes the log level at once; only root may
 *   Set it, by bus policy), log_level (read-only), process_info() → JSON,
 *   controller_info(7×s) → JSON ('{}' if unknown).
 * - Secrets are never returned, to anyone (controller-dicts.ts), so replies do
 *   not depend on the caller's uid.
 *
 * Touches the bus connection it is given. Handler failures become
 * `org.nvmexpress.staf.Error.*` replies (service-export.ts) and are logged.
 *
 * Used by: stafd-app.ts (on every bus (re)connection)
 * Tests:   test/integration/stafd-daemon.test.ts, stafd-gdbus.test.ts
 */
import type { SystemBus, ExportedInterface } from '@stas/common/dbus/bus';
import type { Logger } from '@stas/common/log/logger';
import type { Clock } from '@stas/common/nvme/session/clock';
import type { Tid } from '@stas/common/nvme/tid';
import {
  STAF_API,
  STAF_DEBUG_INTERFACE,
  STAF_INTERFACE,
  type StafDebugInterface,
  type StafInterface,
} from '@stas/common/dbus/staf-api';
import { describeError } from '@stas/common/errors';
import type { DaemonInfo, DcView } from '../daemon.js';
import {
  allLogPages,
  controllerIdDict,
  detailsDict,
  findController,
  infoDict,
  logPageDicts,
  processInfo,
  tidSignalArgs,
  type Now,
  type ProcessContext,
} from './controller-dicts.js';

/** What the service reads and sets (the daemon). */
export interface StafServiceSource {
  controllers(): DcView[];
  info(): DaemonInfo;
  readonly tron: boolean;
  setTron(tron: boolean): void;
  readonly ignoreIface: boolean;
}

export interface StafServiceOptions {
  readonly source: StafServiceSource;
  readonly log: Logger;
  readonly clock: Clock;
  /** Wall clock, ms since the epoch. */
  readonly now: () => number;
  readonly process: ProcessContext;
}

export interface StafService {
  /** Send log_pages_changed for this DC; false if the connection is gone. */
  logPagesChanged(tid: Tid): boolean;
  dcRemoved(): boolean;
  /** Send PropertiesChanged for tron/log_level (after a change not made through Set). */
  tronChanged(): boolean;
  unexport(): void;
}

export function exportStafService(bus: SystemBus, options: StafServiceOptions): StafService {
  const { source, log } = options;
  const now = (): Now => ({ clock: options.clock.now(), wall: options.now() });
  const exportOptions = {
    errorPrefix: STAF_API.errorPrefix,
    onHandlerError: (err: unknown, where: { interface: string; member: string }) => {
      log.error({ err: describeError(err), ...where }, 'D-Bus handler failed');
    },
  };

  const main: ExportedInterface<StafInterface> = bus.exportInterface(
    STAF_API.objectPath,
    STAF_INTERFACE,
    {
      methods: {
        list_controllers: ({ detailed }) => {
          const t = now();
          return source.controllers().map((v) => (detailed ? detailsDict(v, t) : controllerIdDict(v)));
        },
        get_log_pages: (args) => {
          const view = findController(source.controllers(), args, source.ignoreIface);
          return view === null ? [] : logPageDicts(view);
        },
        get_all_log_pages: ({ detailed }) =>
          JSON.stringify(allLogPages(source.controllers(), detailed, now())),
      },
      properties: {},
    },
    exportOptions,
  );

  let debug: ExportedInterface<StafDebugInterface>;
  try {
    debug = bus.exportInterface(
      STAF_API.objectPath,
      STAF_DEBUG_INTERFACE,
      {
        methods: {
          process_info: () =>
            JSON.stringify(processInfo(source.info(), source.controllers(), options.process)),
          controller_info: (args) => {
            const view = findController(source.controllers(), args, source.ignoreIface);
            return JSON.stringify(view === null ? {} : infoDict(view, now()));
          },
        },
        properties: {
          tron: {
            get: () => source.tron,
            set: (value) => {
              source.setTron(value);
            },
          },
          log_level: { get: () => (source.tron ? 'DEBUG' : 'INFO') },
        },
      },
      exportOptions,
    );
  } catch (err) {
    main.unexport();
    throw err;
  }

  return {
    logPagesChanged: (tid) => main.emit('log_pages_changed', tidSignalArgs(tid)),
    dcRemoved: () => main.emit('dc_removed', {}),
    tronChanged: () => debug.propertiesChanged(['tron', 'log_level']),
    unexport: () => {
      // @particle/dbus-next 0.11.4 drops the whole object when the first of its interfaces is
      // unexported (it tests `interfaces.length` on an object), so the second call may throw.
      for (const iface of [main, debug]) {
        try {
          iface.unexport();
        } catch {
          // already gone with the object
        }
      }
    },
  };
}
