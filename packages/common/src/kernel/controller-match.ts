/**
 * Which kernel controller is "the same connection" as a TID: the existing-
 * connection matcher (behaviour spec §6.7), and the TID of a controller.
 *
 * Pure: records from sysfs-parse.ts and interface addresses in, answers out.
 *
 * Rules of `controllerMatchesTid`, in order (first failure ⇒ no match):
 * 0. Type: a fabrics controller; for role `discovery` a discovery controller,
 *    for role `io` an I/O one (classification per sysfs-parse.ts, F7 fixed).
 * 1. transport equal; trsvcid equal after canonicalisation (fc/loop: both '';
 *    the kernel's `none` is '': fixes F4); host NQN equal AND host ID equal
 *    (case-insensitive) when the kernel shows one (nvme-stas #528).
 * 2. subsysnqn: equal, or the TID has the well-known discovery NQN and the
 *    controller is a discovery controller (TP8013: it answers with its unique NQN).
 * 3. traddr: canonical forms equal (tcp/rdma: IP text canonical, so IPv6
 *    spelling and case and IPv4-mapped forms match: fixes F10; fc case-insensitive).
 * 4. tcp host side, only when the TID names host-traddr or host-iface:
 *    - host-traddr: the controller's own host_traddr if it has one; else its
 *      src_addr (kernel ≥ 6.1); else the first address of that family on its
 *      host_iface; else accepted (not enough information). A TID host-traddr
 *      that is not an IP compares as text (no crash: F9).
 *    - host-iface: the controller's own host_iface if it has one; else the
 *      interface owning its src_addr, else owning its host_traddr; else accepted.
 * 5. fc: host-traddr equal case-insensitively (both empty is equal).
 *    rdma: if the TID names host-traddr, it must equal the controller's.
 *
 * `tidOfController` gives the TID the controller was created with, as far as
 * the kernel shows it: host_traddr/host_iface exactly as in `address` (no
 * host-iface inferred from src_addr, so an audit does not invent a different
 * identity: F16). Non-fabrics (pcie) controllers have no TID.
 *
 * For callers matching many controllers (the stacd planner): `tidKeyOfController`
 * gives that TID's key and `controllerHasTid` compares it with a TID's, neither
 * building the TID; a caller holding a controller's TID may hand it to
 * `controllerMatchesTid` (`controllerTid`) rather than have it built per call.
 *
 * Used by: stacd/stafd observers. Tests: controller-match.test.ts,
 * controller-match.prop.test.ts
 */
import { canonicalIp, parseIpAddress } from '../net/ip-address.js';
import type { Tid, TidInput, TidKey, TidRole } from '../nvme/tid.js';
import {
  WELL_KNOWN_DISCOVERY_NQN,
  canonicalTransportAddress,
  createTid,
  isTransport,
  tidHasFields,
  tidKeyOf,
} from '../nvme/tid.js';
import type { InterfaceAddresses } from './net-interfaces.js';
import { firstAddressOf, interfaceOwning } from './net-interfaces.js';
import type { NvmeController } from './sysfs-parse.js';
import { isDiscoveryController, isFabricsController, isIoController } from './sysfs-parse.js';

/** The role the kernel's classification gives a controller. */
export function roleOfController(c: NvmeController): TidRole {
  return isDiscoveryController(c) ? 'discovery' : 'io';
}

/** The fields of a fabrics controller's TID, or undefined (pcie, unknown transport, no address). */
function tidInputOf(c: NvmeController): TidInput | undefined {
  const transport = c.transport;
  if (transport === undefined || !isTransport(transport) || c.address === undefined) return undefined;
  return {
    transport,
    traddr: c.address.traddr,
    trsvcid: c.address.trsvcid,
    subsysnqn: c.subsysnqn ?? '',
    hostTraddr: c.address.hostTraddr,
    hostIface: c.address.hostIface,
    hostNqn: c.hostnqn ?? '',
    hostId: c.hostid ?? '',
  };
}

const DISCOVERY_ROLE = { role: 'discovery' } as const;
const IO_ROLE = { role: 'io' } as const;

/** `{ role: roleOfController(c) }`, one shared object per role (this runs for every controller). */
function roleOptions(c: NvmeController): { readonly role: TidRole } {
  return roleOfController(c) === 'discovery' ? DISCOVERY_ROLE : IO_ROLE;
}

/** The TID of a fabrics controller, or undefined (pcie, unknown transport, no address). */
export function tidOfController(c: NvmeController): Tid | undefined {
  const fields = tidInputOf(c);
  return fields === undefined ? undefined : createTid(fields, roleOptions(c));
}

/** `tidOfController(c)?.key === tid.key`, without building the controller's TID (see tidHasFields). */
export function controllerHasTid(c: NvmeController, tid: Tid): boolean {
  const fields = tidInputOf(c);
  return fields !== undefined && tidHasFields(tid, fields, roleOptions(c));
}

/** `tidOfController(c)?.key` without building the TID (see tidKeyOf). */
export function tidKeyOfController(c: NvmeController): TidKey | undefined {
  const fields = tidInputOf(c);
  return fields === undefined ? undefined : tidKeyOf(fields, roleOptions(c));
}

export interface MatchOptions {
  /** The role the TID is wanted in; when given, the controller must be of that kind. */
  readonly role?: TidRole;
  /**
   * The controller's own TID, `tidOfController(c)`, when the caller already holds it (a planner
   * matching many TIDs against one snapshot): saves building it again on every call.
   */
  readonly controllerTid?: Tid | undefined;
}

function sameHostTraddrTcp(tid: Tid, c: NvmeController, ifaces: InterfaceAddresses): boolean {
  const want = tid.hostTraddr;
  const address = c.address;
  if (address === undefined) return true;
  const wantIp = parseIpAddress(want);
  const equal = (other: string): boolean =>
    wantIp === null ? other.toLowerCase() === want.toLowerCase() : canonicalIp(other) === wantIp.text;
  if (address.hostTraddr !== '') return equal(address.hostTraddr);
  if (address.srcAddr !== '') return equal(address.srcAddr);
  if (address.hostIface !== '' && wantIp !== null) {
    const first = firstAddressOf(ifaces, address.hostIface, wantIp.family);
    return first === undefined || equal(first.text);
  }
  return true; // not enough information: assume the same (as nvme-stas)
}

function sameHostIfaceTcp(tid: Tid, c: NvmeController, ifaces: InterfaceAddresses): boolean {
  const address = c.address;
  if (address === undefined) return true;
  if (address.hostIface !== '') return address.hostIface === tid.hostIface;
  if (address.srcAddr !== '') return interfaceOwning(ifaces, address.srcAddr) === tid.hostIface;
  if (address.hostTraddr !== '') return interfaceOwning(ifaces, address.hostTraddr) === tid.hostIface;
  return true;
}

/** Whether kernel controller `c` is the connection `tid` describes (see the module header). */
export function controllerMatchesTid(
  c: NvmeController,
  tid: Tid,
  ifaces: InterfaceAddresses,
  opts: MatchOptions = {},
): boolean {
  if (!isFabricsController(c) || c.address === undefined || c.transport !== tid.transport) return false;
  const discovery = isDiscoveryController(c);
  if (opts.role === 'discovery' && !discovery) return false;
  if (opts.role === 'io' && !isIoController(c)) return false;

  const theirs = opts.controllerTid ?? tidOfController(c);
  if (theirs === undefined) return false;
  if (theirs.trsvcid !== tid.trsvcid) return false;
  if ((c.hostnqn ?? '') !== tid.hostNqn) return false;
  if (c.hostid !== undefined && c.hostid.trim() !== '' && theirs.hostId !== tid.hostId) return false;

  const wkMatch = tid.subsysnqn === WELL_KNOWN_DISCOVERY_NQN && discovery;
  if (!wkMatch && theirs.subsysnqn !== tid.subsysnqn) return false;

  if (theirs.traddr !== tid.traddr) return false;

  switch (tid.transport) {
    case 'tcp':
      if (tid.hostTraddr !== '' && !sameHostTraddrTcp(tid, c, ifaces)) return false;
      if (tid.hostIface !== '' && !sameHostIfaceTcp(tid, c, ifaces)) return false;
      return true;
    case 'fc':
      return canonicalTransportAddress('fc', c.address.hostTraddr) === tid.hostTraddr;
    case 'rdma':
      return tid.hostTraddr === '' || theirs.hostTraddr === tid.hostTraddr;
    case 'loop':
      return true;
  }
}

/** The first controller matching `tid`, in instance order (the kernel's snapshot order). */
export function findControllerForTid(
  controllers: readonly NvmeController[],
  tid: Tid,
  ifaces: InterfaceAddresses,
  opts: MatchOptions = {},
): NvmeController | undefined {
  return controllers.find((c) => controllerMatchesTid(c, tid, ifaces, opts));
}
