/**
 * `stafctl tron` / `stafctl troff [--json] [--bus-address ADDRESS]`: switch stafd's debug logging on or
 * off (the `tron` property of org.nvmexpress.staf.debug), then read it back. Output `tron = true`, or
 * `{"tron": true, "log-level": "DEBUG"}` with --json. Only root may set it (bus policy); refusal is
 * reported as a permission problem, not as "stafd is not running" (fix T2).
 *
 * I/O through staf-client.ts (Set, then two Gets). Exit status 0, 1, 2 (usage).
 *
 * Tests: stafctl-verbs.test.ts, test/integration/stafd-stafctl.test.ts
 */
import { STAF_DEBUG_INTERFACE } from '@stas/common/dbus/staf-api';
import { STAF, withStafd } from './staf-client.js';
import { COMMON_HELP, parseVerbArgs } from './verb-args.js';
import { usageError, type CliContext, type StafctlVerb } from './verb.js';

function usage(verb: 'tron' | 'troff'): string {
  return `usage: stafctl ${verb} [--json] [--bus-address ADDRESS]

Switch stafd's debug logging ${verb === 'tron' ? 'on' : 'off'} (needs root).

options:
${COMMON_HELP}`;
}

function tronVerbOf(verb: 'tron' | 'troff'): StafctlVerb {
  const value = verb === 'tron';
  return {
    name: verb,
    summary: `switch stafd's debug logging ${value ? 'on' : 'off'} (root only)`,
    run: async (argv: readonly string[], ctx: CliContext): Promise<number> => {
      const parsed = parseVerbArgs(argv, {});
      if (!parsed.ok) return usageError(ctx, `${verb}: ${parsed.message}`, verb);
      const { values } = parsed;
      if (values.help === true) {
        ctx.out(usage(verb) + '\n');
        return 0;
      }
      return withStafd(ctx, values['bus-address'], `setting tron to ${String(value)}`, async (bus) => {
        await bus.setProperty(STAF, STAF_DEBUG_INTERFACE, 'tron', value);
        const tron = await bus.getProperty(STAF, STAF_DEBUG_INTERFACE, 'tron');
        const level = await bus.getProperty(STAF, STAF_DEBUG_INTERFACE, 'log_level');
        ctx.out(
          values.json === true
            ? JSON.stringify({ tron, 'log-level': level }, null, 2) + '\n'
            : `tron = ${String(tron)}\n`,
        );
        return 0;
      });
    },
  };
}

export const tronVerb = tronVerbOf('tron');
export const troffVerb = tronVerbOf('troff');
