/**
 * `stacctl ls [-d|--detailed] [--json]`: the I/O controllers stacd manages.
 *
 * Human output: a table (device, state, origin, transport, address, subsystem, host interface);
 * with --detailed, every key of the details dict per controller. --json: exactly what
 * list_controllers(detailed) returns, as a JSON array of objects of strings (docs/stacctl.md).
 *
 * I/O: one D-Bus call (stacd-client.ts). Tests: stacctl.test.ts, test/integration/stacd-daemon.test.ts
 */
import type { StringDict } from '@stas/common/dbus/api-shared';
import { STAC_API, STAC_INTERFACE } from '@stas/common/dbus/stac-api';
import { withStacd } from './stacd-client.js';
import { renderPairs, renderTable } from './table.js';
import { parseVerbFlags, type CliContext, type StacctlVerb } from './verb.js';

export const LS_USAGE = `usage: stacctl ls [-d] [--json]

List the I/O controllers stacd manages: those it wants (configured or discovered) and those it owns.

options:
  -d, --detailed   every detail (state, decision, reason, attempts, last error, sysfs attributes)
      --json       JSON output (schema: packages/stacd/docs/stacctl.md)
  -h, --help       print this help`;

function address(c: StringDict): string {
  const traddr = c['traddr'] ?? '';
  const port = c['trsvcid'] ?? '';
  const host = traddr.includes(':') ? `[${traddr}]` : traddr;
  return port === '' ? host : `${host}:${port}`;
}

/** The table of `ls` and `status` (from details dicts). */
export function controllerTable(controllers: readonly StringDict[]): string {
  return renderTable(
    ['DEVICE', 'STATE', 'ORIGIN', 'TRANSPORT', 'ADDRESS', 'SUBSYSNQN', 'HOST-IFACE'],
    controllers.map((c) => [
      c['device'] === 'nvme?' ? '' : (c['device'] ?? ''),
      c['state'] ?? '',
      c['origin'] ?? '',
      c['transport'] ?? '',
      address(c),
      c['subsysnqn'] ?? '',
      c['host-iface'] ?? '',
    ]),
  );
}

export const lsVerb: StacctlVerb = {
  name: 'ls',
  summary: 'list the I/O controllers stacd manages',
  run: async (argv, ctx: CliContext) => {
    const parsed = parseVerbFlags(argv, ctx, {
      name: 'ls',
      usage: LS_USAGE,
      flags: { detailed: { type: 'boolean', short: 'd' } },
    });
    if (typeof parsed === 'number') return parsed;
    const detailed = parsed.flags.detailed;
    const json = parsed.json;
    return withStacd(ctx, async (bus) => {
      const list = await bus.callMethod(STAC_API, STAC_INTERFACE, 'list_controllers', {
        detailed: detailed || !json,
      });
      if (json) ctx.out(`${JSON.stringify(list, null, 2)}\n`);
      else if (detailed)
        ctx.out(list.map((c) => renderPairs(Object.entries(c))).join('\n') || 'no controllers\n');
      else ctx.out(controllerTable(list));
      return 0;
    });
  },
};
