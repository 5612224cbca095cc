/**
 * stacctl's way to stacd: connect to the bus, run one exchange, close, and
 * turn every failure into ONE clear line on stderr with exit status 1:
 * stacd not running, access denied by the bus policy (e.g. `tron` as a user
 * other than root), no bus at all, no answer in time, or an older stacd
 * without the member (behaviour spec §9 T2: nvme-stas said "Is stacd
 * running?" for all of them).
 *
 * I/O: one D-Bus connection. Used by: the *-command.ts modules.
 * Tests: stacctl.test.ts (private dbus-daemon in test/integration/stacd-*.test.ts)
 */
import type { SystemBus } from '@stas/common/dbus/bus';
import { connectSystemBus } from '@stas/common/dbus/bus';
import { BusError } from '@stas/common/dbus/bus-error';
import { STAC_BUS_NAME } from '@stas/common/dbus/stac-api';
import { describeError } from '@stas/common/errors';
import type { CliContext } from './verb.js';

export const CALL_TIMEOUT_MS = 10_000;

/** The one-line explanation of a failure (without the `stacctl: ` prefix). */
export function failureText(err: unknown, address: string): string {
  if (err instanceof BusError) {
    switch (err.code) {
      case 'DBUS_SERVICE_UNKNOWN':
        return `stacd is not running (nobody owns ${STAC_BUS_NAME} on ${address})`;
      case 'DBUS_ACCESS_DENIED':
        return `access denied by the D-Bus policy: ${err.remoteText ?? err.message} (changing tron needs root)`;
      case 'DBUS_CONNECT_FAILED':
      case 'DBUS_ADDRESS_UNSUPPORTED':
        return `cannot reach D-Bus: ${err.message}`;
      case 'DBUS_TIMEOUT':
        return `stacd did not answer within ${CALL_TIMEOUT_MS / 1000} s`;
      case 'DBUS_UNKNOWN_MEMBER':
        return `this stacd does not offer that (an older version?): ${err.remoteText ?? err.message}`;
      default:
        return `D-Bus error: ${err.message}`;
    }
  }
  return describeError(err);
}

/** Connect, run `exchange`, close. Returns its status, or 1 after printing why it failed. */
export async function withStacd(
  ctx: CliContext,
  exchange: (bus: SystemBus) => Promise<number>,
): Promise<number> {
  let bus: SystemBus | undefined;
  let address = ctx.busAddress ?? ctx.env['DBUS_SYSTEM_BUS_ADDRESS'] ?? 'the system bus';
  try {
    bus = await connectSystemBus({
      ...(ctx.busAddress === undefined ? {} : { address: ctx.busAddress }),
      env: ctx.env,
      defaultTimeoutMs: CALL_TIMEOUT_MS,
    });
    address = bus.address;
    return await exchange(bus);
  } catch (err) {
    ctx.err(`stacctl: ${failureText(err, address)}\n`);
    return 1;
  } finally {
    await bus?.close();
  }
}
