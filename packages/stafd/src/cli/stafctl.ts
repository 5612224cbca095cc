/**
 * stafctl's command line: global options and dispatch to verb modules.
 *
 * `runStafctl(argv, ctx)` does everything but exit: it returns the exit status (0 success, 1 failure,
 * 2 usage error) and writes only through `ctx.out`/`ctx.err`, so tests run it in-process. Nothing is
 * read before a verb needs it: `--version`, `--help` and every verb but `discover` work without a host
 * NQN (nvme-stas bug T1).
 *
 * Adding a verb: write `<verb>-command.ts` exporting a StafctlVerb, and list it in VERBS.
 *
 * Tests: stafctl.test.ts
 */
import { versionText } from '@stas/common/version';
import { adlpVerb } from './adlp-command.js';
import { discoverVerb } from './discover-command.js';
import { dlpVerb } from './dlp-command.js';
import { lsVerb } from './ls-command.js';
import { statusVerb } from './status-command.js';
import { troffVerb, tronVerb } from './tron-command.js';
import { usageError, type CliContext, type StafctlVerb } from './verb.js';

export type { CliContext } from './verb.js';

export const VERBS: readonly StafctlVerb[] = [
  lsVerb,
  statusVerb,
  dlpVerb,
  adlpVerb,
  tronVerb,
  troffVerb,
  discoverVerb,
];

export function usage(): string {
  const width = Math.max(...VERBS.map((v) => v.name.length));
  const list = VERBS.map((v) => `  ${v.name.padEnd(width)}  ${v.summary}`).join('\n');
  return `usage: stafctl [-h] [-v] COMMAND [ARGS]

Control and query stafd, the NVMe-oF discovery daemon, and talk to discovery controllers.

commands:
${list}

options:
  -v, --version   print the version
  -h, --help      print this help

Run 'stafctl COMMAND --help' for the options of a command.
Exit status: 0 success, 1 failure (one line on stderr says why), 2 usage error.`;
}

export async function runStafctl(argv: readonly string[], ctx: CliContext): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) return usageError(ctx, 'a command is required');
  if (first === '-h' || first === '--help') {
    ctx.out(usage() + '\n');
    return 0;
  }
  if (first === '-v' || first === '--version') {
    ctx.out(versionText('stafctl') + '\n');
    return 0;
  }
  if (first.startsWith('-')) return usageError(ctx, `unknown option '${first}'`);
  const verb = VERBS.find((v) => v.name === first);
  if (verb === undefined) return usageError(ctx, `unknown command "${first}"`);
  return verb.run(rest, ctx);
}
