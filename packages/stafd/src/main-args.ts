/**
 * stafd's command line:
 *   stafd [-f FILE] [--tron] [-s|--syslog] [--log-format journal|text|json]
 *         [--bus-address ADDRESS] [-v|--version] [-h|--help]
 *
 * Pure: argv in, a decision out (run with options, print help or version, or a
 * usage error with its message). Exit codes are main.ts's business: 0 for
 * help/version, 2 for usage errors (as argparse).
 *
 * Used by: main.ts
 * Tests:   main-args.test.ts
 */
import { parseArgs } from 'node:util';
import { describeError } from '@stas/common/errors';
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

const LOG_FORMATS: readonly LogFormat[] = ['journal', 'text', 'json'];

export function parseStafdArgs(argv: readonly string[]): StafdArgs {
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
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (err) {
    return { kind: 'usage-error', message: describeError(err) };
  }
  if (values.help === true) return { kind: 'help' };
  if (values.version === true) return { kind: 'version' };
  const requested = values['log-format'];
  const format = LOG_FORMATS.find((f) => f === requested);
  if (requested !== undefined && format === undefined) {
    return { kind: 'usage-error', message: `--log-format must be journal, text or json, not "${requested}"` };
  }
  if (values.syslog === true && format !== undefined && format !== 'journal') {
    return { kind: 'usage-error', message: `--syslog and --log-format ${format} contradict each other` };
  }
  const confFile = values['conf-file'];
  if (confFile === '') return { kind: 'usage-error', message: '-f/--conf-file needs a file name' };
  return {
    kind: 'run',
    options: {
      confFile,
      tron: values.tron === true,
      logFormat: values.syslog === true ? 'journal' : format,
      busAddress: values['bus-address'],
    },
  };
}
