/**
 * stafd's command line:
 *   stafd [-f FILE] [--tron] [-s|--syslog] [--log-format journal|text|json]
 *         [--bus-address ADDRESS] [-v|--version] [-h|--help]
 *
 * The shared options are parsed by @stas/common/daemon-args (one rule for both
 * daemons). Pure: argv in, a decision out (run with options, print help or version, or a
 * usage error with its message). Exit codes are main.ts's business: 0 for
 * help/version, 2 for usage errors (as argparse).
 *
 * Used by: main.ts
 * Tests:   main-args.test.ts
 */
import { parseDaemonArgs } from '@stas/common/daemon-args';
import type { LogFormat } from '@stas/common/log/logger';

export const STAFD_USAGE = `usage: stafd [-h] [-v] [-f FILE] [--tron] [-s] [--log-format FORMAT] [--bus-address ADDRESS]

STorage Appliance Finder: finds NVMe-oF discovery controllers (configured, announced over mDNS,
referred to), keeps their discovery log pages and publishes them on D-Bus (org.nvmexpress.staf).

options:
  -f, --conf-file FILE      configuration file (default /etc/stas/stafd.conf)
      --tron                debug logging, whatever the configuration file says
  -s, --syslog              log for the journal (priority prefixes); the default under systemd
      --log-format FORMAT   journal, text or json (default: journal under systemd, text on a terminal)
      --bus-address ADDRESS D-Bus address of the system bus (default: DBUS_SYSTEM_BUS_ADDRESS,
                            then unix:path=/run/dbus/system_bus_socket)
  -v, --version             print the version
  -h, --help                print this help

Signals: SIGHUP reloads stafd.conf and sys.conf; SIGTERM and SIGINT stop.
Exit status: 0 stopped cleanly, 1 failure (the reason is logged and printed), 2 usage error.`;

export interface StafdRunOptions {
  readonly confFile: string | undefined;
  readonly tron: boolean;
  readonly logFormat: LogFormat | undefined;
  readonly busAddress: string | undefined;
}

export type StafdArgs =
  | { readonly kind: 'run'; readonly options: StafdRunOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'usage-error'; readonly message: string };

export function parseStafdArgs(argv: readonly string[]): StafdArgs {
  const parsed = parseDaemonArgs(argv);
  if (parsed.kind !== 'run') return parsed;
  const { confFile, tron, logFormat, busAddress } = parsed.options;
  return { kind: 'run', options: { confFile, tron, logFormat, busAddress } };
}
