/**
 * stafctl's link to stafd: one system-bus connection per command, low-level
 * typed calls from the API mirror (no introspection: a cold start costs one
 * connect and one call per method), and one clear line per failure class
 * (fix T2: "not running" and "access denied" are told apart).
 *
 * I/O: one D-Bus connection (closed before the command returns). Errors:
 * `withStafd` turns every BusError into a line on stderr and exit status 1:
 * - no owner of org.nvmexpress.staf → `stafd is not running (…)`;
 * - the bus policy refused (e.g. `tron` as non-root) → `permission denied: …`;
 * - no bus → `cannot connect to the system bus at …`;
 * - anything else → `D-Bus call failed: …`.
 *
 * Used by: the D-Bus verbs (ls, status, dlp, adlp, tron, troff)
 * Tests:   staf-client.test.ts (messages), test/integration/stafd-stafctl.test.ts
 */
import { BusError } from '@stas/common/dbus/bus-error';
import { connectSystemBus, type SystemBus } from '@stas/common/dbus/bus';
import { STAF_API, STAF_BUS_NAME } from '@stas/common/dbus/staf-api';
import { describeError } from '@stas/common/errors';
import type { CliContext } from './verb.js';

/** Deadline of the bus connection and of each call. */
export const CONNECT_TIMEOUT_MS = 5000;
export const CALL_TIMEOUT_MS = 10_000;

export const NOT_RUNNING_MESSAGE = `stafd is not running (no owner for ${STAF_BUS_NAME} on the system bus)`;

/** The one stderr line (without "stafctl: ") for a failure of `what`. */
export function failureLine(err: unknown, what: string): string {
  if (err instanceof BusError) {
    switch (err.code) {
      case 'DBUS_SERVICE_UNKNOWN':
        return NOT_RUNNING_MESSAGE;
      case 'DBUS_ACCESS_DENIED':
        return `permission denied: ${what} is refused by the D-Bus policy of ${STAF_BUS_NAME} (it needs root)`;
      case 'DBUS_CONNECT_FAILED':
      case 'DBUS_ADDRESS_UNSUPPORTED':
        return `cannot connect to the system bus: ${err.message}`;
      case 'DBUS_TIMEOUT':
        return `stafd did not answer in time (${what})`;
      default:
        return `D-Bus call failed (${what}): ${err.remoteText ?? err.message}`;
    }
  }
  return `${what} failed: ${describeError(err)}`;
}

export const STAF = { busName: STAF_API.busName, objectPath: STAF_API.objectPath } as const;

/**
 * Connect, run `work` with the connection, close. Returns `work`'s exit status, or 1 after printing one
 * line for a failure. `what` names the operation in messages (e.g. "setting tron").
 */
export async function withStafd(
  ctx: CliContext,
  busAddress: string | undefined,
  what: string,
  work: (bus: SystemBus) => Promise<number>,
): Promise<number> {
  let bus: SystemBus;
  try {
    bus = await connectSystemBus({
      ...(busAddress !== undefined ? { address: busAddress } : {}),
      env: ctx.env,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      defaultTimeoutMs: CALL_TIMEOUT_MS,
    });
  } catch (err) {
    ctx.err(`stafctl: ${failureLine(err, what)}\n`);
    return 1;
  }
  try {
    return await work(bus);
  } catch (err) {
    ctx.err(`stafctl: ${failureLine(err, what)}\n`);
    return 1;
  } finally {
    await bus.close();
  }
}
