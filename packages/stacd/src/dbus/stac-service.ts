/**
 * stacd's D-Bus service: `org.nvmexpress.stac` (list_controllers, explain) and
 * `org.nvmexpress.stac.debug` (tron, log_level, process_info,
 * controller_info) at /org/nvmexpress/stac, exported from the API mirror
 * (common/dbus/stac-api.ts) over a backend the daemon implements.
 *
 * A thin adapter: it only maps bus calls to the backend. The backend answers
 * from the last plan (dbus/controller-dicts.ts); its values are clean strings
 * and never contain secrets, for root and non-root callers alike. Setting
 * `tron` is root-only by bus policy (dbus/org.nvmexpress.stac.conf).
 * A handler that throws becomes `org.nvmexpress.stac.Error.Internal` (the
 * text goes to `onHandlerError`, never to the caller).
 *
 * Export before claiming the bus name (the name is the readiness signal).
 * Used by: daemon.ts. Tests: test/integration/stacd-daemon.test.ts
 */
import type { ExportedInterface, SystemBus } from '@stas/common/dbus/bus';
import type { LogLevelName, StringDict, TidArgs } from '@stas/common/dbus/api-shared';
import { STAC_API, STAC_DEBUG_INTERFACE, STAC_INTERFACE } from '@stas/common/dbus/stac-api';

export interface StacServiceBackend {
  listControllers(detailed: boolean): StringDict[];
  explain(): Promise<string>;
  processInfo(): string;
  controllerInfo(args: TidArgs): string;
  tron(): boolean;
  setTron(on: boolean): void;
}

export interface StacService {
  /** Tell listeners that tron/log_level changed (after a SIGHUP reload). */
  tronChanged(): void;
  unexport(): void;
}

export function exportStacService(
  bus: SystemBus,
  backend: StacServiceBackend,
  onHandlerError: (err: unknown, where: { interface: string; member: string }) => void,
): StacService {
  const options = { errorPrefix: STAC_API.errorPrefix, onHandlerError };
  const main = bus.exportInterface(
    STAC_API.objectPath,
    STAC_INTERFACE,
    {
      methods: {
        list_controllers: ({ detailed }) => backend.listControllers(detailed),
        explain: () => backend.explain(),
      },
      properties: {},
    },
    options,
  );
  let debug: ExportedInterface<typeof STAC_DEBUG_INTERFACE>;
  try {
    debug = bus.exportInterface(
      STAC_API.objectPath,
      STAC_DEBUG_INTERFACE,
      {
        methods: {
          process_info: () => backend.processInfo(),
          controller_info: (args) => backend.controllerInfo(args),
        },
        properties: {
          tron: {
            get: () => backend.tron(),
            set: (value) => {
              backend.setTron(value);
            },
          },
          log_level: { get: (): LogLevelName => (backend.tron() ? 'DEBUG' : 'INFO') },
        },
      },
      options,
    );
  } catch (err) {
    main.unexport();
    throw err;
  }
  return {
    tronChanged: () => {
      debug.propertiesChanged(['tron', 'log_level']);
    },
    unexport: () => {
      // @particle/dbus-next drops the whole object when the first of its interfaces is unexported
      // (it tests `interfaces.length` on an object), so the second unexport may find nothing left.
      for (const iface of [debug, main]) {
        try {
          iface.unexport();
        } catch {
          // already gone with the object
        }
      }
    },
  };
}
