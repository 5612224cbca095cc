/**
 * stacd's command line, parsed (pure: argv in, a decision out; never exits).
 *
 *   stacd [-f FILE] [--tron] [-s|--syslog] [--log-format journal|text|json]
 *         [--bus-address ADDR] [--dry-run] [-v|--version] [-h|--help]
 *
 * Tests: args.test.ts
 */
import { parseArgs } from 'node:util';
import type { LogFormat } from '@stas/common/log/logger';

export const USAGE = `usage: stacd [-f FILE] [--tron] [-s] [--log-format FORMAT] [--bus-address ADDR] [--dry-run]
             [-v] [-h]

STorage Appliance Connector: connects the NVMe-oF I/O controllers that stacd.conf names and that
stafd discovers, and disconnects what is no longer wanted (never on missing information).

options:
  -f, --conf-file FILE     configuration file (default /etc/stas/stacd.conf)
      --tron               debug logging (also: tron = true in the file, or stacctl tron)
  -s, --syslog             log for the journal/syslog (<N> priority prefixes)
      --log-format FORMAT  journal, text or json (default: journal under systemd, text on a terminal)
      --bus-address ADDR   D-Bus address instead of the system bus (unix:path=…)
      --dry-run            never write to the kernel: log each connect string it would write
                           (also automatic when /dev/nvme-fabrics does not exist)
  -v, --version            print the version
  -h, --help               print this help

Signals: SIGHUP reloads stacd.conf and sys.conf; SIGTERM stops without disconnecting anything.`;

export interface StacdArgs {
  readonly confFile: string | undefined;
  readonly tron: boolean;
  readonly syslog: boolean;
  readonly logFormat: LogFormat | undefined;
  readonly busAddress: string | undefined;
  readonly dryRun: boolean;
}

export type ParsedStacdArgs =
  | { readonly kind: 'run'; readonly args: StacdArgs }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'error'; readonly message: string };

const FORMATS: readonly LogFormat[] = ['journal', 'text', 'json'];

export function parseStacdArgs(argv: readonly string[]): ParsedStacdArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        'conf-file': { type: 'string', short: 'f' },
        tron: { type: 'boolean' },
        syslog: { type: 'boolean', short: 's' },
        'log-format': { type: 'string' },
        'bus-address': { type: 'string' },
        'dry-run': { type: 'boolean' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return { kind: 'error', message: err instanceof Error ? err.message : String(err) };
  }
  if (values.help === true) return { kind: 'help' };
  if (values.version === true) return { kind: 'version' };
  const format = values['log-format'];
  const logFormat = FORMATS.find((f) => f === format);
  if (format !== undefined && logFormat === undefined)
    return { kind: 'error', message: `--log-format must be journal, text or json, not '${format}'` };
  const confFile = values['conf-file'];
  if (confFile === '') return { kind: 'error', message: '--conf-file needs a file name' };
  return {
    kind: 'run',
    args: {
      confFile,
      tron: values.tron === true,
      syslog: values.syslog === true,
      logFormat,
      busAddress: values['bus-address'],
      dryRun: values['dry-run'] === true,
    },
  };
}
