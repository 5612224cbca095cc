/**
 * `stafctl ls [-d|--detailed] [--json] [--bus-address ADDRESS]`: the discovery controllers stafd holds
 * (list_controllers), as a table or as `{"controllers": [<dict>, …]}`.
 *
 * I/O through staf-client.ts (one D-Bus call). Exit status 0, 1 (one line on stderr), 2 usage error.
 *
 * Tests: stafctl-verbs.test.ts, test/integration/stafd-stafctl.test.ts
 */
import { STAF_INTERFACE } from '@stas/common/dbus/staf-api';
import { controllersTable } from './dbus-format.js';
import { STAF, withStafd } from './staf-client.js';
import { COMMON_HELP, parseVerbArgs } from './verb-args.js';
import { usageError, type CliContext, type StafctlVerb } from './verb.js';

export const LS_USAGE = `usage: stafctl ls [-d] [--json] [--bus-address ADDRESS]

List the discovery controllers stafd holds.

options:
  -d, --detailed              add origin, connection and log page state
${COMMON_HELP}`;

export async function runLs(argv: readonly string[], ctx: CliContext): Promise<number> {
  const parsed = parseVerbArgs(argv, { detailed: { type: 'boolean', short: 'd' } });
  if (!parsed.ok) return usageError(ctx, `ls: ${parsed.message}`, 'ls');
  const { values } = parsed;
  if (values.help === true) {
    ctx.out(LS_USAGE + '\n');
    return 0;
  }
  const detailed = values.detailed === true;
  return withStafd(ctx, values['bus-address'], 'list_controllers', async (bus) => {
    const controllers = await bus.callMethod(STAF, STAF_INTERFACE, 'list_controllers', { detailed });
    ctx.out(
      values.json === true
        ? JSON.stringify({ controllers }, null, 2) + '\n'
        : controllersTable(controllers, detailed),
    );
    return 0;
  });
}

export const lsVerb: StafctlVerb = {
  name: 'ls',
  summary: 'list the discovery controllers stafd holds',
  run: runLs,
};
