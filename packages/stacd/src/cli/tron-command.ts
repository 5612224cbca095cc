/**
 * `stacctl tron` / `stacctl troff`: switch stacd's debug logging on or off (the `tron` property;
 * root only, by bus policy) and print the value read back: `tron = true`.
 *
 * I/O: one Set and one Get (stacd-client.ts). Tests: stacctl.test.ts, test/integration/stacd-daemon.test.ts
 */
import { STAC_API, STAC_DEBUG_INTERFACE } from '@stas/common/dbus/stac-api';
import { withStacd } from './stacd-client.js';
import { usageError, type CliContext, type StacctlVerb } from './verb.js';

function tronVerb(name: 'tron' | 'troff', on: boolean): StacctlVerb {
  return {
    name,
    summary: on ? "turn stacd's debug logging on (root)" : "turn stacd's debug logging off (root)",
    run: async (argv, ctx: CliContext) => {
      if (argv.length === 1 && (argv[0] === '-h' || argv[0] === '--help')) {
        ctx.out(`usage: stacctl ${name}\n\nTurn stacd's debug logging ${on ? 'on' : 'off'} (needs root).\n`);
        return 0;
      }
      if (argv.length > 0) return usageError(ctx, `${name} takes no arguments`, name);
      return withStacd(ctx, async (bus) => {
        await bus.setProperty(STAC_API, STAC_DEBUG_INTERFACE, 'tron', on);
        const now = await bus.getProperty(STAC_API, STAC_DEBUG_INTERFACE, 'tron');
        ctx.out(`tron = ${String(now)}\n`);
        return 0;
      });
    },
  };
}

export const tronOnVerb = tronVerb('tron', true);
export const tronOffVerb = tronVerb('troff', false);
