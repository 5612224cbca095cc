/**
 * A resolved `_nvme-disc._tcp` service → the Discovery Controller it
 * announces, or the reason it cannot be used.
 *
 * Pure. Rules (nvme-stas §5.2, with its defects fixed):
 * - TXT `p` names the transport: `tcp` → tcp; `roce`, `iwarp`, `rdma` → rdma,
 *   which stafd's userspace host cannot serve (reason `rdma-unsupported`, to
 *   be logged once per service); anything else or missing → `bad-protocol`.
 * - TXT `nqn` (TP8013 unique DC NQN) when present and valid, else the
 *   well-known discovery NQN.
 * - The DC is pinned to the interface the announcement arrived on
 *   (host-iface) unless `ignore-iface`; an IPv6 link-local address carries that
 *   interface as its `%scope` so the address is usable as is.
 * - Host NQN and host ID come from the caller (the system identity).
 *
 * Tests: dc-candidate.test.ts
 */
import { nqnProblem } from '../nvme/host-ids.js';
import type { Tid } from '../nvme/tid.js';
import { createTid, WELL_KNOWN_DISCOVERY_NQN } from '../nvme/tid.js';
import { isLinkLocal, parseIpAddress } from '../net/ip-address.js';
import { isValidIfName } from '../net/ifname.js';

export interface ResolvedService {
  /** Interface the service was seen on (name). */
  readonly iface: string;
  /** Address from the SRV/A/AAAA records, without scope. */
  readonly address: string;
  readonly port: number;
  readonly txt: ReadonlyMap<string, string>;
}

export type CandidateRejection =
  'rdma-unsupported' | 'bad-protocol' | 'bad-address' | 'bad-port' | 'bad-iface';

export type DcCandidateResult =
  | { readonly ok: true; readonly tid: Tid; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly reason: CandidateRejection; readonly detail: string };

export interface CandidateOptions {
  readonly ignoreIface: boolean;
  readonly hostNqn: string;
  readonly hostId: string;
}

export function dcCandidate(service: ResolvedService, options: CandidateOptions): DcCandidateResult {
  const where = `${service.address}:${service.port} on ${service.iface}`;
  const protocol = (service.txt.get('p') ?? '').trim().toLowerCase();
  if (protocol === 'roce' || protocol === 'iwarp' || protocol === 'rdma') {
    return {
      ok: false,
      reason: 'rdma-unsupported',
      detail: `${where} announces p=${protocol}; stafd reaches DCs over tcp only`,
    };
  }
  if (protocol !== 'tcp') {
    return {
      ok: false,
      reason: 'bad-protocol',
      detail: `${where} announces an invalid or missing protocol (TXT p=${JSON.stringify(protocol)})`,
    };
  }
  if (!Number.isInteger(service.port) || service.port < 1 || service.port > 65535) {
    return { ok: false, reason: 'bad-port', detail: `${where}: port ${service.port} is not valid` };
  }
  if (!isValidIfName(service.iface)) {
    return { ok: false, reason: 'bad-iface', detail: `${where}: interface name is not valid` };
  }
  const ip = parseIpAddress(service.address.trim());
  if (ip === null || ip.scope !== undefined) {
    return {
      ok: false,
      reason: 'bad-address',
      detail: `${where}: "${service.address}" is not an IP address`,
    };
  }
  const traddr = ip.family === 6 && isLinkLocal(ip) ? `${ip.text}%${service.iface}` : ip.text;

  const warnings: string[] = [];
  let subsysnqn = WELL_KNOWN_DISCOVERY_NQN;
  const nqn = service.txt.get('nqn')?.trim();
  if (nqn !== undefined && nqn !== '') {
    const problem = nqnProblem(nqn);
    if (problem === null) subsysnqn = nqn;
    else warnings.push(`${where}: TXT nqn ignored (${problem}); using the well-known discovery NQN`);
  }
  const tid = createTid(
    {
      transport: 'tcp',
      traddr,
      trsvcid: String(service.port),
      subsysnqn,
      hostIface: options.ignoreIface ? '' : service.iface,
      hostNqn: options.hostNqn,
      hostId: options.hostId,
    },
    { role: 'discovery' },
  );
  return { ok: true, tid, warnings };
}
