/**
 * stacd's command line, parsed (pure: argv in, a decision out; never exits).
 * The shared options come from @stas/common/daemon-args (one rule for both
 * daemons); stacd adds --dry-run.
 *
 *   stacd [-f FILE] [--tron] [-s|--syslog] [--log-format journal|text|json]
 *         [--bus-address ADDR] [--dry-run] [-v|--version] [-h|--help]
 *
 * Tests: args.test.ts
 */
import { parseDaemonArgs } from '@stas/common/daemon-args';
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
  /** journal for --syslog; undefined: the logger chooses from the environment. */
  readonly logFormat: LogFormat | undefined;
  readonly busAddress: string | undefined;
  readonly dryRun: boolean;
}

export type ParsedStacdArgs =
  | { readonly kind: 'run'; readonly args: StacdArgs }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'error'; readonly message: string };

export function parseStacdArgs(argv: readonly string[]): ParsedStacdArgs {
  const parsed = parseDaemonArgs(argv, ['dry-run']);
  switch (parsed.kind) {
    case 'usage-error':
      return { kind: 'error', message: parsed.message };
    case 'help':
    case 'version':
      return parsed;
    case 'run': {
      const { confFile, tron, logFormat, busAddress, flags } = parsed.options;
      return { kind: 'run', args: { confFile, tron, logFormat, busAddress, dryRun: flags.has('dry-run') } };
    }
  }
}
