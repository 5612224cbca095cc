/**
 * `stafctl discover`: read the Discovery Log Page of one discovery controller directly over NVMe/TCP
 * (no daemon), like `nvme discover`, and print it as a table or as JSON (discover-format.ts).
 *
 *   stafctl discover -t tcp -a ADDR [-s PORT] [-q HOSTNQN] [-I HOSTID] [-n SUBSYSNQN] [-w HOST_TRADDR]
 *                    [-f HOST_IFACE] [-k KATO] [--hdr-digest] [--data-digest] [--json] [--timeout SEC]
 *
 * I/O: reads sys.conf and /etc/nvme/host{nqn,id} (through @stas/common/paths and host-identity) only
 * when -q/-I do not give both, and opens one TCP connection (nvme/session/discover.ts).
 *
 * Exit status: 0 with the log on stdout; 2 for usage errors (bad options, a TRADDR that is not an IP
 * address, a bad port); 1 with ONE line `stafctl: cannot discover at ADDR:PORT: <reason>` on stderr
 * for everything else (unreachable, refused, timed out, NVMe status, no usable host NQN/ID).
 *
 * Tests: discover-command.test.ts (simulator, in-process)
 */
import { parseArgs } from 'node:util';
import { resolveHostIdentity } from '@stas/common/config/host-identity';
import { ConnectError, StasError, describeError } from '@stas/common/errors';
import { parseIpAddress } from '@stas/common/net/ip-address';
import { hostIdProblem, nqnProblem } from '@stas/common/nvme/host-ids';
import { discover } from '@stas/common/nvme/session/discover';
import { formatPeer, parsePort } from '@stas/common/nvme/session/endpoint';
import { resolvePaths } from '@stas/common/paths';
import { discoveryJson, discoveryTable } from './discover-format.js';
import { usageError, type CliContext, type StafctlVerb } from './verb.js';

export const DISCOVER_USAGE = `usage: stafctl discover -t tcp -a ADDR [-s PORT] [-q HOSTNQN] [-I HOSTID]
                        [-n SUBSYSNQN] [-w HOST_TRADDR] [-f HOST_IFACE] [-k KATO]
                        [--hdr-digest] [--data-digest] [--json] [--timeout SEC]

Read the discovery log of an NVMe/TCP discovery controller directly (stafd is not needed).

options:
  -t, --transport TYPE        transport; only tcp (the default)
  -a, --traddr ADDR           controller IPv4/IPv6 address (required; fe80::…%IFACE for link-local)
  -s, --trsvcid PORT          controller port (default 8009)
  -q, --hostnqn NQN           host NQN (default: sys.conf / /etc/nvme/hostnqn)
  -I, --hostid UUID           host ID (default: sys.conf / /etc/nvme/hostid)
  -n, --nqn NQN               discovery subsystem NQN (default nqn.2014-08.org.nvmexpress.discovery)
  -w, --host-traddr ADDR      source address to connect from
  -f, --host-iface IFACE      source interface (binds to its address; scopes link-local)
  -k, --keep-alive-tmo SEC    KATO sent in Connect (default 0: none for a one-shot read)
      --hdr-digest            ask for header digests
      --data-digest           ask for data digests
      --json                  JSON output (schema: packages/stafd/docs/stafctl-discover.md)
      --timeout SEC           give up after SEC seconds (default: per-step deadlines only)
  -h, --help                  print this help

Exit status: 0 success, 1 failure (one line on stderr), 2 usage error.`;

const OPTIONS = {
  transport: { type: 'string', short: 't' },
  traddr: { type: 'string', short: 'a' },
  trsvcid: { type: 'string', short: 's' },
  hostnqn: { type: 'string', short: 'q' },
  hostid: { type: 'string', short: 'I' },
  nqn: { type: 'string', short: 'n' },
  'host-traddr': { type: 'string', short: 'w' },
  'host-iface': { type: 'string', short: 'f' },
  'keep-alive-tmo': { type: 'string', short: 'k' },
  'hdr-digest': { type: 'boolean' },
  'data-digest': { type: 'boolean' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A non-negative decimal number of seconds (integer unless `fraction`), or null. */
function seconds(text: string, fraction: boolean): number | null {
  const re = fraction ? /^\d+(\.\d+)?$/ : /^\d+$/;
  return re.test(text.trim()) ? Number(text.trim()) : null;
}

interface HostIds {
  readonly hostnqn: string;
  readonly hostid: string;
}

/** -q/-I, else sys.conf and /etc/nvme; a string says what is missing or wrong. */
async function hostIds(
  ctx: CliContext,
  q: string | undefined,
  id: string | undefined,
): Promise<HostIds | string> {
  let hostnqn = q;
  let hostid = id;
  if (hostnqn === undefined || hostid === undefined) {
    const paths = resolvePaths(ctx.env);
    const resolved = await resolveHostIdentity({
      sysConf: `${paths.etcStas}/sys.conf`,
      etcNvme: paths.etcNvme,
    });
    hostnqn ??= resolved.found.hostnqn ?? undefined;
    hostid ??= resolved.found.hostid ?? undefined;
    if (hostnqn === undefined) {
      return `no host NQN (give -q, or create ${paths.etcNvme}/hostnqn with 'stasadm hostnqn')`;
    }
    if (hostid === undefined)
      return `no host ID (give -I, or create ${paths.etcNvme}/hostid with 'stasadm hostid')`;
  }
  const nqn = nqnProblem(hostnqn);
  if (nqn !== null) return `host NQN: ${nqn}`;
  const idProblem = hostIdProblem(hostid);
  if (idProblem !== null) return `host ID: ${idProblem}`;
  return { hostnqn, hostid: hostid.toLowerCase() };
}

export async function runDiscover(argv: readonly string[], ctx: CliContext): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (err) {
    return usageError(ctx, `discover: ${describeError(err)}`, 'discover');
  }
  if (values.help === true) {
    ctx.out(DISCOVER_USAGE + '\n');
    return 0;
  }
  const transport = values.transport ?? 'tcp';
  if (transport !== 'tcp')
    return usageError(ctx, `discover: transport "${transport}" is not supported (only tcp)`, 'discover');
  const traddr = values.traddr;
  if (traddr === undefined || traddr === '')
    return usageError(ctx, 'discover: -a/--traddr is required', 'discover');
  const address = parseIpAddress(traddr);
  if (address === null) {
    return usageError(ctx, `discover: traddr "${traddr}" is not an IPv4 or IPv6 address`, 'discover');
  }
  let port: number;
  try {
    port = parsePort(values.trsvcid);
  } catch (err) {
    return usageError(ctx, `discover: ${describeError(err)}`, 'discover');
  }
  const kato = seconds(values['keep-alive-tmo'] ?? '0', false);
  if (kato === null || kato > 4_294_967) {
    return usageError(
      ctx,
      `discover: keep-alive-tmo "${values['keep-alive-tmo'] ?? ''}" is not a number of seconds`,
      'discover',
    );
  }
  const timeout = values.timeout === undefined ? undefined : seconds(values.timeout, true);
  if (timeout === null || timeout === 0) {
    return usageError(
      ctx,
      `discover: timeout "${values.timeout ?? ''}" is not a positive number of seconds`,
      'discover',
    );
  }

  const where = formatPeer(address.text, port);
  const fail = (reason: string): number => {
    ctx.err(`stafctl: cannot discover at ${where}: ${reason}\n`);
    return 1;
  };
  const ids = await hostIds(ctx, values.hostnqn, values.hostid);
  if (typeof ids === 'string') return fail(ids);

  const controller = new AbortController();
  const timer =
    timeout === undefined
      ? undefined
      : setTimeout(() => {
          controller.abort(new StasError('STAFCTL_TIMEOUT', `no result within ${timeout} s`));
        }, timeout * 1000);
  try {
    const result = await discover(
      {
        traddr,
        trsvcid: port,
        hostnqn: ids.hostnqn,
        hostid: ids.hostid,
        katoMs: kato * 1000,
        hdgst: values['hdr-digest'] === true,
        ddgst: values['data-digest'] === true,
        ...(values.nqn !== undefined ? { subsysnqn: values.nqn } : {}),
        ...(values['host-traddr'] !== undefined ? { hostTraddr: values['host-traddr'] } : {}),
        ...(values['host-iface'] !== undefined ? { hostIface: values['host-iface'] } : {}),
      },
      { signal: controller.signal },
    );
    ctx.out(
      values.json === true ? JSON.stringify(discoveryJson(result), null, 2) + '\n' : discoveryTable(result),
    );
    return 0;
  } catch (err) {
    return fail(reasonOf(err, where));
  } finally {
    clearTimeout(timer);
  }
}

/** One line for the failure: the error's message without the "ADDR:PORT: " the session starts it with. */
function reasonOf(err: unknown, where: string): string {
  if (err instanceof ConnectError && err.kind === 'refused') return 'connection refused';
  const text = describeError(err).split('\n')[0] ?? '';
  const stripped = text.startsWith(`${where}: `) ? text.slice(where.length + 2) : text;
  if (err instanceof ConnectError && err.kind === 'unreachable') return `unreachable (${stripped})`;
  if (err instanceof StasError && err.code === 'STAFCTL_TIMEOUT') return `timed out (${stripped})`;
  return stripped;
}

export const discoverVerb: StafctlVerb = {
  name: 'discover',
  summary: 'read the discovery log of an NVMe/TCP discovery controller (no daemon needed)',
  run: runDiscover,
};
