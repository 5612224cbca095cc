/**
 * `stacctl status [--json]`: stacd's process information (process_info) and every managed controller
 * in detail (list_controllers(true)).
 *
 * --json: `{"process": <process_info object>, "controllers": [<details dict>, …]}` (docs/stacctl.md).
 * I/O: two D-Bus calls (stacd-client.ts). Tests: stacctl.test.ts, test/integration/stacd-daemon.test.ts
 */
import { STAC_API, STAC_DEBUG_INTERFACE, STAC_INTERFACE } from '@stas/common/dbus/stac-api';
import { controllerTable } from './ls-command.js';
import { withStacd } from './stacd-client.js';
import { renderPairs } from './table.js';
import { parseVerbFlags, type CliContext, type StacctlVerb } from './verb.js';

export const STATUS_USAGE = `usage: stacctl status [--json]

Show stacd's state (host identity, log level, stafd, last planning round) and its controllers.

options:
      --json       JSON output (schema: packages/stacd/docs/stacctl.md)
  -h, --help       print this help`;

function show(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export const statusVerb: StacctlVerb = {
  name: 'status',
  summary: "show stacd's state and its controllers",
  run: async (argv, ctx: CliContext) => {
    const parsed = parseVerbFlags(argv, ctx, { name: 'status', usage: STATUS_USAGE });
    if (typeof parsed === 'number') return parsed;
    return withStacd(ctx, async (bus) => {
      const infoText = await bus.callMethod(STAC_API, STAC_DEBUG_INTERFACE, 'process_info', {});
      const controllers = await bus.callMethod(STAC_API, STAC_INTERFACE, 'list_controllers', {
        detailed: true,
      });
      const info = JSON.parse(infoText) as Record<string, unknown>;
      if (parsed.json) {
        ctx.out(`${JSON.stringify({ process: info, controllers }, null, 2)}\n`);
      } else {
        ctx.out(renderPairs(Object.entries(info).map(([k, v]) => [k, show(v)])));
        ctx.out(`\n${controllerTable(controllers)}`);
      }
      return 0;
    });
  },
};
