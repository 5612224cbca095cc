/**
 * Applies stafd's discovery log entry limit ([Limits] max-log-page-entries) to every log read of the
 * sessions an OpenSession hands out. The limit is read at each read, so a new value (SIGHUP) applies
 * to sessions already open. A page above it is refused by the log reader after the 20-byte header,
 * before any entry is fetched, with StasError NVME_DLP_TOO_LARGE whose message names the setting; the
 * runner logs that message (and D-Bus shows it as the DC's last error).
 *
 * No I/O of its own: a thin wrapper over the sessions it is given.
 *
 * Used by: daemon.ts
 * Tests:   log-entry-limit.test.ts, daemon.test.ts
 */
import type { DcSession, OpenSession } from './dc-session.js';

export interface LogEntryLimit {
  /** Largest NUMREC accepted. */
  readonly maxEntries: number;
  /** Where the limit is set, named when a page exceeds it (e.g. `[Limits] max-log-page-entries`). */
  readonly setting: string;
}

/** `open`, whose sessions read the discovery log under `current()`'s limit. */
export function withLogEntryLimit(open: OpenSession, current: () => LogEntryLimit): OpenSession {
  return async (options, control) => limitedSession(await open(options, control), current);
}

function limitedSession(session: DcSession, current: () => LogEntryLimit): DcSession {
  return {
    get identify() {
      return session.identify;
    },
    get aenEnabled() {
      return session.aenEnabled;
    },
    get events() {
      return session.events;
    },
    readDiscoveryLog: (options) => {
      const limit = current();
      return session.readDiscoveryLog({
        ...options,
        maxEntries: limit.maxEntries,
        maxEntriesSetting: limit.setting,
      });
    },
    register: (info, options) => session.register(info, options),
    deregister: (info, options) => session.deregister(info, options),
    close: () => session.close(),
  };
}
