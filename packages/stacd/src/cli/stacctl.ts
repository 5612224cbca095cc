/**
 * stacctl's command line: global options and dispatch to verb modules.
 *
 * `runStacctl(argv, ctx)` does everything but exit: it returns the exit status (0 success, 1 failure,
 * 2 usage error) and writes only through `ctx.out`/`ctx.err`, so tests run it in-process. Nothing is
 * read from disk: stacctl needs neither a host NQN nor any configuration file.
 *
 * Global options (before the verb): -v/--version, -h/--help, --bus-address ADDR.
 * Adding a verb: write `<verb>-command.ts` exporting a StacctlVerb, and list it in VERBS.
 *
 * Tests: stacctl.test.ts
 */
import { versionText } from '@stas/common/version';
import { explainVerb } from './explain-command.js';
import { lsVerb } from './ls-command.js';
import { statusVerb } from './status-command.js';
import { tronOffVerb, tronOnVerb } from './tron-command.js';
import { usageError, type CliContext, type StacctlVerb } from './verb.js';

export type { CliContext } from './verb.js';

export const VERBS: readonly StacctlVerb[] = [lsVerb, statusVerb, explainVerb, tronOnVerb, tronOffVerb];

export function usage(): string {
  const width = Math.max(...VERBS.map((v) => v.name.length));
  const list = VERBS.map((v) => `  ${v.name.padEnd(width)}  ${v.summary}`).join('\n');
  return `usage: stacctl [-h] [-v] [--bus-address ADDR] COMMAND [ARGS]

Query and control stacd, the NVMe-oF I/O controller connector daemon.

commands:
${list}

options:
  -v, --version           print the version
  -h, --help              print this help
      --bus-address ADDR  talk to stacd on this D-Bus (default: $DBUS_SYSTEM_BUS_ADDRESS, the system bus)

Run 'stacctl COMMAND --help' for the options of a command. Every command takes --json for stable
machine-readable output (packages/stacd/docs/stacctl.md).
Exit status: 0 success, 1 failure (one line on stderr says why, e.g. stacd not running), 2 usage error.`;
}

export async function runStacctl(argv: readonly string[], ctx: CliContext): Promise<number> {
  let rest = [...argv];
  let busAddress = ctx.busAddress;
  for (;;) {
    const first = rest[0];
    if (first === '--bus-address') {
      const value = rest[1];
      if (value === undefined || value === '') return usageError(ctx, '--bus-address needs an address');
      busAddress = value;
      rest = rest.slice(2);
    } else if (first?.startsWith('--bus-address=') === true) {
      busAddress = first.slice('--bus-address='.length);
      if (busAddress === '') return usageError(ctx, '--bus-address needs an address');
      rest = rest.slice(1);
    } else break;
  }
  const [first, ...args] = rest;
  if (first === undefined) return usageError(ctx, 'a command is required');
  if (first === '-h' || first === '--help') {
    ctx.out(usage() + '\n');
    return 0;
  }
  if (first === '-v' || first === '--version') {
    ctx.out(versionText('stacctl') + '\n');
    return 0;
  }
  if (first.startsWith('-')) return usageError(ctx, `unknown option '${first}'`);
  const verb = VERBS.find((v) => v.name === first);
  if (verb === undefined) return usageError(ctx, `unknown command "${first}"`);
  return verb.run(args, busAddress === undefined ? ctx : { ...ctx, busAddress });
}
