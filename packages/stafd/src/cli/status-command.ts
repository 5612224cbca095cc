/**
 * `stafctl status [--json] [--bus-address ADDRESS]`: stafd's process information (process_info) and
 * every controller in detail (list_controllers(true)) with its cached log page entries
 * (get_log_pages). JSON: `{"process": {…}, "controllers": [{…details, "log-pages": [<entry>, …]}]}`.
 *
 * I/O through staf-client.ts (2 + one call per controller). Exit status 0, 1, 2 (usage).
 *
 * Tests: stafctl-verbs.test.ts, test/integration/stafd-stafctl.test.ts
 */
import { STAF_DEBUG_INTERFACE, STAF_INTERFACE } from '@stas/common/dbus/staf-api';
import { controllersTable, describeController, entriesTable, keyValueLines } from './dbus-format.js';
import { STAF, withStafd } from './staf-client.js';
import { COMMON_HELP, parseVerbArgs } from './verb-args.js';
import { usageError, type CliContext, type StafctlVerb } from './verb.js';

export const STATUS_USAGE = `usage: stafctl status [--json] [--bus-address ADDRESS]

Show stafd's state: process information, every discovery controller and its log page entries.

options:
${COMMON_HELP}`;

export async function runStatus(argv: readonly string[], ctx: CliContext): Promise<number> {
  const parsed = parseVerbArgs(argv, {});
  if (!parsed.ok) return usageError(ctx, `status: ${parsed.message}`, 'status');
  const { values } = parsed;
  if (values.help === true) {
    ctx.out(STATUS_USAGE + '\n');
    return 0;
  }
  return withStafd(ctx, values['bus-address'], 'status', async (bus) => {
    const infoJson = await bus.callMethod(STAF, STAF_DEBUG_INTERFACE, 'process_info', {});
    const process = JSON.parse(infoJson) as Record<string, unknown>;
    const dicts = await bus.callMethod(STAF, STAF_INTERFACE, 'list_controllers', { detailed: true });
    const controllers = await Promise.all(
      dicts.map(async (d) => {
        const logPages = await bus.callMethod(STAF, STAF_INTERFACE, 'get_log_pages', {
          transport: d['transport'] ?? '',
          traddr: d['traddr'] ?? '',
          trsvcid: d['trsvcid'] ?? '',
          subsysnqn: d['subsysnqn'] ?? '',
          host_traddr: d['host-traddr'] ?? '',
          host_iface: d['host-iface'] ?? '',
          host_nqn: d['host-nqn'] ?? '',
        });
        return { dict: d, logPages };
      }),
    );
    if (values.json === true) {
      const list = controllers.map((c) => ({ ...c.dict, 'log-pages': c.logPages }));
      ctx.out(JSON.stringify({ process, controllers: list }, null, 2) + '\n');
      return 0;
    }
    let text = keyValueLines(process) + '\n' + controllersTable(dicts, true);
    for (const { dict, logPages } of controllers) {
      const state = dict['log-pages-state'] ?? '-';
      text += `\n${describeController(dict)}: ${state}, ${logPages.length} entries\n`;
      text += entriesTable(logPages, '  ');
    }
    ctx.out(text);
    return 0;
  });
}

export const statusVerb: StafctlVerb = {
  name: 'status',
  summary: "show stafd's state, its discovery controllers and their log pages",
  run: runStatus,
};
