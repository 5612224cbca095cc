/**
 * stasadm's command line: argument parsing, help, and dispatch to commands.
 *
 * `runStasadm(argv, context)` does everything but exit: it returns the exit
 * status (0 success, 1 failure, 2 usage error) and writes only through the
 * context's `out`/`err`, so tests run it in-process with their own paths.
 *
 * Tests: cli.test.ts
 */
import { parseArgs } from 'node:util';
import { resolvePaths } from '@stas/common/paths';
import type { StasPaths } from '@stas/common/paths';
import { versionText } from '@stas/common/version';
import { runCheck } from './commands/check.js';
import { runClearSymname, runHostid, runHostnqn, runSetSymname } from './commands/identity.js';
import { runShow } from './commands/show.js';

export interface CliContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** What every command gets: parsed options, resolved paths and the output channels. */
export interface CommandContext extends CliContext {
  readonly paths: StasPaths;
  /** sys.conf path, or null when `-c ''` asked not to touch sys.conf. */
  readonly sysConf: string | null;
}

export const USAGE = `usage: stasadm [-c FILE] COMMAND [ARGS]

Manage this host's NVMe-oF identity and check stas configuration files.

commands:
  hostnqn [NQN] [-f FILE]       set the host NQN: the given one, or one derived
                                from /etc/machine-id (the same as nvme-stas)
  hostid [UUID] [-f FILE]       set the host ID: the given one, or the UUID of
                                the host NQN when it has one
  set-symname NAME [-f FILE]    set the host's symbolic name (sent to CDCs)
  clear-symname                 remove the symbolic name
  show [--json]                 print the resolved host identity
  check [FILE...] [--kind K] [--json]
                                validate sys.conf, stafd.conf and stacd.conf
                                (K: sys, stafd or stacd when the name does not tell)

options:
  -c, --conf-file FILE   sys.conf to use (default /etc/stas/sys.conf);
                         -c '' leaves sys.conf alone
  -f, --file FILE        write the value to FILE and make sys.conf point to it
                         (key = file://FILE)
  --json                 machine-readable output
  -v, --version          print the version
  -h, --help             print this help

Exit status: 0 success, 1 failure (the message says why), 2 usage error.`;

const OPTIONS = {
  'conf-file': { type: 'string', short: 'c' },
  file: { type: 'string', short: 'f' },
  kind: { type: 'string' },
  json: { type: 'boolean' },
  version: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const;

type OptionName = keyof typeof OPTIONS;

/** Options each command accepts besides -c, -h (anything else is a usage error). */
const COMMAND_OPTIONS: Readonly<Record<string, readonly OptionName[]>> = {
  hostnqn: ['file'],
  hostid: ['file'],
  'set-symname': ['file'],
  'clear-symname': [],
  show: ['json'],
  check: ['kind', 'json'],
};

/** Positional arguments each command takes: [min, max]. */
const COMMAND_ARITY: Readonly<Record<string, readonly [number, number]>> = {
  hostnqn: [0, 1],
  hostid: [0, 1],
  'set-symname': [1, 1],
  'clear-symname': [0, 0],
  show: [0, 0],
  check: [0, Number.POSITIVE_INFINITY],
};

export async function runStasadm(argv: readonly string[], context: CliContext): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    return usageError(context, err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    context.out(USAGE + '\n');
    return 0;
  }
  if (values.version === true) {
    context.out(versionText('stasadm') + '\n');
    return 0;
  }
  const [command, ...args] = positionals;
  if (command === undefined) return usageError(context, 'a command is required');
  const accepted = COMMAND_OPTIONS[command];
  const arity = COMMAND_ARITY[command];
  if (accepted === undefined || arity === undefined)
    return usageError(context, `unknown command "${command}"`);
  for (const name of Object.keys(values) as OptionName[]) {
    if (name !== 'conf-file' && !accepted.includes(name)) {
      return usageError(context, `${command} does not take --${name}`);
    }
  }
  if (args.length < arity[0] || args.length > arity[1]) {
    return usageError(context, `${command}: wrong number of arguments`);
  }

  const paths = resolvePaths(context.env);
  const confFile = values['conf-file'];
  const ctx: CommandContext = {
    ...context,
    paths,
    sysConf: confFile === undefined ? `${paths.etcStas}/sys.conf` : confFile === '' ? null : confFile,
  };
  const file = values.file ?? null;
  const json = values.json === true;
  switch (command) {
    case 'hostnqn':
      return runHostnqn(ctx, args[0] ?? null, file);
    case 'hostid':
      return runHostid(ctx, args[0] ?? null, file);
    case 'set-symname':
      return runSetSymname(ctx, args[0] ?? '', file);
    case 'clear-symname':
      return runClearSymname(ctx);
    case 'show':
      return runShow(ctx, json);
    default:
      return runCheck(ctx, args, values.kind ?? null, json);
  }
}

function usageError(context: CliContext, message: string): number {
  context.err(`stasadm: ${message}\nTry 'stasadm --help'.\n`);
  return 2;
}
