/**
 * The host's network interfaces and their addresses, keyed by the real
 * interface name, for matching a controller's source address to its
 * interface (behaviour spec §6.7, §7.5).
 *
 * Fixes §9 F8: IPv6-only interfaces are kept (nvme-stas dropped them), an
 * IPv4 alias label (`eth0:1`, which getifaddrs reports as the name) counts
 * for its device (`eth0`), and addresses are canonical (ip-address.ts;
 * IPv4-mapped IPv6 folds to IPv4; link-local IPv6 carries `%<iface>`).
 *
 * `interfacesFromNode` is pure (the shape of os.networkInterfaces());
 * `readInterfaces` calls os.networkInterfaces() and nothing else.
 *
 * Used by: controller-match.ts, the daemons. Tests: net-interfaces.test.ts
 */
import { networkInterfaces } from 'node:os';
import type { NetworkInterfaceInfo } from 'node:os';
import type { IpAddress } from '../net/ip-address.js';
import { ipEqual, parseIpAddress } from '../net/ip-address.js';

/** Interface name → its addresses in the order the system lists them. */
export type InterfaceAddresses = ReadonlyMap<string, readonly IpAddress[]>;

function isLinkLocalV6(text: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(text);
}

export function interfacesFromNode(
  info: Readonly<Record<string, readonly NetworkInterfaceInfo[] | undefined>>,
): InterfaceAddresses {
  const result = new Map<string, IpAddress[]>();
  for (const [label, list] of Object.entries(info)) {
    const name = label.split(':', 1)[0] ?? label;
    if (name === '') continue;
    const addresses = result.get(name) ?? [];
    for (const entry of list ?? []) {
      const scoped =
        entry.family === 'IPv6' && isLinkLocalV6(entry.address)
          ? `${entry.address.split('%', 1)[0] ?? ''}%${name}`
          : entry.address;
      const ip = parseIpAddress(scoped) ?? parseIpAddress(entry.address);
      if (ip !== null && !addresses.some((a) => a.text === ip.text)) addresses.push(ip);
    }
    result.set(name, addresses);
  }
  return result;
}

/** The interfaces of this host now. */
export function readInterfaces(): InterfaceAddresses {
  return interfacesFromNode(networkInterfaces());
}

/** Strip the `%scope` of an address for a family-level comparison. */
function unscoped(ip: IpAddress): string {
  return ip.scope === undefined ? ip.text : ip.text.slice(0, ip.text.indexOf('%'));
}

/**
 * The interface that owns `address` (its `%scope` decides for a scoped
 * link-local address), or undefined. When several own it (the same address on
 * two interfaces), the first in name order.
 */
export function interfaceOwning(ifaces: InterfaceAddresses, address: string | IpAddress): string | undefined {
  const ip = typeof address === 'string' ? parseIpAddress(address) : address;
  if (ip === null) return undefined;
  if (ip.scope !== undefined && ifaces.has(ip.scope)) {
    return ifaces.get(ip.scope)?.some((a) => unscoped(a) === unscoped(ip)) === true ? ip.scope : undefined;
  }
  const names = [...ifaces.keys()].sort();
  return names.find((name) =>
    (ifaces.get(name) ?? []).some(
      (a) => ipEqual(a, ip) || (a.family === ip.family && unscoped(a) === unscoped(ip)),
    ),
  );
}

/** The first address of `family` on interface `name`, or undefined. */
export function firstAddressOf(
  ifaces: InterfaceAddresses,
  name: string,
  family: 4 | 6,
): IpAddress | undefined {
  return ifaces.get(name)?.find((a) => a.family === family);
}
