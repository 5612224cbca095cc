/**
 * The command-line options both daemons share, parsed one way:
 *
 *   [-f|--conf-file FILE] [--tron] [-s|--syslog] [--log-format journal|text|json]
 *   [--bus-address ADDRESS] [-v|--version] [-h|--help]  + the daemon's own flags
 *
 * `--syslog` means `--log-format journal`; asking for both with different
 * formats is a usage error (one rule for stafd and stacd, so a unit file that
 * works for one works for the other). Help and version win over everything.
 *
 * Pure: argv in, a decision out; never exits, never prints. Each daemon maps
 * the result onto its own options (stafd: main-args.ts, stacd: args.ts).
 *
 * Tests: daemon-args.test.ts
 */
import { parseArgs } from 'node:util';
import { describeError } from './errors.js';
import type { LogFormat } from './log/logger.js';

export interface DaemonOptions<Flag extends string> {
  readonly confFile: string | undefined;
  readonly tron: boolean;
  /** undefined: not asked for (the logger chooses from the environment). */
  readonly logFormat: LogFormat | undefined;
  readonly busAddress: string | undefined;
  /** The daemon's own boolean flags that were given. */
  readonly flags: ReadonlySet<Flag>;
}

export type DaemonArgs<Flag extends string> =
  | { readonly kind: 'run'; readonly options: DaemonOptions<Flag> }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'usage-error'; readonly message: string };

const LOG_FORMATS: readonly LogFormat[] = ['journal', 'text', 'json'];

/** Parse `argv` (without node and script); `flags` are the daemon's extra boolean long options. */
export function parseDaemonArgs<Flag extends string>(
  argv: readonly string[],
  flags: readonly Flag[] = [],
): DaemonArgs<Flag> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        'conf-file': { type: 'string', short: 'f' },
        tron: { type: 'boolean' },
        syslog: { type: 'boolean', short: 's' },
        'log-format': { type: 'string' },
        'bus-address': { type: 'string' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(flags.map((f) => [f, { type: 'boolean' as const }])),
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (err) {
    return { kind: 'usage-error', message: describeError(err) };
  }
  if (values['help'] === true) return { kind: 'help' };
  if (values['version'] === true) return { kind: 'version' };

  const requested = values['log-format'];
  const format = LOG_FORMATS.find((f) => f === requested);
  if (typeof requested === 'string' && format === undefined) {
    return { kind: 'usage-error', message: `--log-format must be journal, text or json, not "${requested}"` };
  }
  const syslog = values['syslog'] === true;
  if (syslog && format !== undefined && format !== 'journal') {
    return { kind: 'usage-error', message: `--syslog and --log-format ${format} contradict each other` };
  }
  const confFile = values['conf-file'];
  if (confFile === '') return { kind: 'usage-error', message: '-f/--conf-file needs a file name' };
  const busAddress = values['bus-address'];
  return {
    kind: 'run',
    options: {
      confFile: typeof confFile === 'string' ? confFile : undefined,
      tron: values['tron'] === true,
      logFormat: syslog ? 'journal' : format,
      busAddress: typeof busAddress === 'string' ? busAddress : undefined,
      flags: new Set(flags.filter((f) => values[f] === true)),
    },
  };
}
