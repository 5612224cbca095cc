/**
 * `stafctl dlp -a TRADDR -s TRSVCID [-t TRANSPORT] [-w HOST_TRADDR] [-f HOST_IFACE] [-q HOST_NQN]
 * [-n NQN] [--json] [--bus-address ADDRESS]`: the cached log page entries of one discovery controller
 * (get_log_pages). The lookup is exact (§2.2): a DC found through mDNS needs `-f <iface>` (unless
 * ignore-iface). JSON: `{"controller": {<the seven fields>}, "log-pages": [<entry>, …]}`; an unknown
 * controller gives an empty list (exit 0), as stafd answers.
 *
 * I/O: reads sys.conf and /etc/nvme/hostnqn only when -q is not given (the only D-Bus verb that does:
 * fix T1), then one D-Bus call. Exit status 0, 1, 2 (usage).
 *
 * Tests: stafctl-verbs.test.ts, test/integration/stafd-stafctl.test.ts
 */
import { resolveHostIdentity } from '@stas/common/config/host-identity';
import type { TidArgs } from '@stas/common/dbus/api-shared';
import { STAF_INTERFACE } from '@stas/common/dbus/staf-api';
import { TRANSPORTS, WELL_KNOWN_DISCOVERY_NQN, isTransport } from '@stas/common/nvme/tid';
import { resolvePaths } from '@stas/common/paths';
import { entriesTable } from './dbus-format.js';
import { STAF, withStafd } from './staf-client.js';
import { COMMON_HELP, parseVerbArgs } from './verb-args.js';
import { usageError, type CliContext, type StafctlVerb } from './verb.js';

export const DLP_USAGE = `usage: stafctl dlp -a TRADDR -s TRSVCID [-t TRANSPORT] [-w HOST_TRADDR] [-f HOST_IFACE]
                   [-q HOST_NQN] [-n NQN] [--json] [--bus-address ADDRESS]

Show the cached discovery log page entries of one discovery controller held by stafd.

options:
  -t, --transport TRANSPORT   ${TRANSPORTS.join(', ')} (default tcp)
  -a, --traddr TRADDR         controller address (required)
  -s, --trsvcid TRSVCID       controller port (required)
  -w, --host-traddr ADDR      host address the controller is reached from (default none)
  -f, --host-iface IFACE      host interface (needed for DCs found through mDNS)
  -q, --host-nqn NQN          host NQN (default: sys.conf / /etc/nvme/hostnqn)
  -n, --nqn NQN               controller NQN (default ${WELL_KNOWN_DISCOVERY_NQN})
${COMMON_HELP}`;

const OPTIONS = {
  transport: { type: 'string', short: 't' },
  traddr: { type: 'string', short: 'a' },
  trsvcid: { type: 'string', short: 's' },
  'host-traddr': { type: 'string', short: 'w' },
  'host-iface': { type: 'string', short: 'f' },
  'host-nqn': { type: 'string', short: 'q' },
  nqn: { type: 'string', short: 'n' },
} as const;

/** The system host NQN (sys.conf, then /etc/nvme/hostnqn), or a sentence saying why there is none. */
async function systemHostNqn(ctx: CliContext): Promise<{ nqn: string } | { problem: string }> {
  const paths = resolvePaths(ctx.env);
  const resolved = await resolveHostIdentity({
    sysConf: `${paths.etcStas}/sys.conf`,
    etcNvme: paths.etcNvme,
  });
  const nqn = resolved.found.hostnqn;
  if (nqn === null) {
    return { problem: `no host NQN (give -q, or create ${paths.etcNvme}/hostnqn with 'stasadm hostnqn')` };
  }
  return { nqn };
}

export async function runDlp(argv: readonly string[], ctx: CliContext): Promise<number> {
  const parsed = parseVerbArgs(argv, OPTIONS);
  if (!parsed.ok) return usageError(ctx, `dlp: ${parsed.message}`, 'dlp');
  const { values } = parsed;
  if (values.help === true) {
    ctx.out(DLP_USAGE + '\n');
    return 0;
  }
  const transport = values.transport ?? 'tcp';
  if (!isTransport(transport)) {
    return usageError(ctx, `dlp: transport "${transport}" is not one of ${TRANSPORTS.join(', ')}`, 'dlp');
  }
  if (values.traddr === undefined || values.traddr === '') {
    return usageError(ctx, 'dlp: -a/--traddr is required', 'dlp');
  }
  if (values.trsvcid === undefined) return usageError(ctx, 'dlp: -s/--trsvcid is required', 'dlp');
  let hostNqn = values['host-nqn'];
  if (hostNqn === undefined) {
    const found = await systemHostNqn(ctx);
    if ('problem' in found) {
      ctx.err(`stafctl: ${found.problem}\n`);
      return 1;
    }
    hostNqn = found.nqn;
  }
  const args: TidArgs = {
    transport,
    traddr: values.traddr,
    trsvcid: values.trsvcid,
    subsysnqn: values.nqn ?? WELL_KNOWN_DISCOVERY_NQN,
    host_traddr: values['host-traddr'] ?? '',
    host_iface: values['host-iface'] ?? '',
    host_nqn: hostNqn,
  };
  return withStafd(ctx, values['bus-address'], 'get_log_pages', async (bus) => {
    const entries = await bus.callMethod(STAF, STAF_INTERFACE, 'get_log_pages', args);
    ctx.out(
      values.json === true
        ? JSON.stringify({ controller: args, 'log-pages': entries }, null, 2) + '\n'
        : entriesTable(entries),
    );
    return 0;
  });
}

export const dlpVerb: StafctlVerb = {
  name: 'dlp',
  summary: "show one discovery controller's cached log page (from stafd)",
  run: runDlp,
};
