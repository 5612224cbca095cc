/**
 * Which network interfaces the embedded mDNS browser listens on, and on which interface a received
 * packet arrived.
 *
 * Pure: works on the table `os.networkInterfaces()` returns (libuv lists only interfaces that are up
 * and running, with their addresses), passed in by the caller.
 * - An interface qualifies if it is not loopback (`internal`) and has a valid name; it gets an IPv4
 *   socket if it has an IPv4 address (the first one is used for IP_MULTICAST_IF and the membership)
 *   and an IPv6 socket if it has an IPv6 address.
 * - Attribution: Linux delivers a multicast packet to every socket bound to the port, whichever
 *   interface joined the group (IP_MULTICAST_ALL), so the receiving socket does not tell the
 *   interface. The source address does: an IPv6 link-local source carries its `%scope` (Node reports
 *   it); other sources belong to the interfaces with a prefix containing them; failing that, to the
 *   only interface of that family, if there is exactly one.
 *
 * Tests: mdns-interfaces.test.ts
 */
import { isValidIfName } from '../net/ifname.js';
import { parseIpAddress } from '../net/ip-address.js';

export interface InterfaceAddressInfo {
  readonly address: string;
  readonly family: string | number;
  readonly internal: boolean;
  readonly cidr: string | null;
}

/** The shape of `os.networkInterfaces()`. */
export type InterfaceTable = Readonly<Record<string, readonly InterfaceAddressInfo[] | undefined>>;

export interface Network {
  readonly family: 4 | 6;
  readonly address: string;
  readonly prefix: number;
}

export interface MdnsInterface {
  readonly name: string;
  /** The IPv4 address the IPv4 socket uses as its interface; undefined: no IPv4 socket. */
  readonly ipv4: string | undefined;
  /** True if the interface has an IPv6 address (then it gets an IPv6 socket). */
  readonly ipv6: boolean;
  readonly networks: readonly Network[];
}

function familyOf(info: InterfaceAddressInfo): 4 | 6 | null {
  if (info.family === 'IPv4' || info.family === 4) return 4;
  if (info.family === 'IPv6' || info.family === 6) return 6;
  return null;
}

function networkOf(info: InterfaceAddressInfo, family: 4 | 6): Network | null {
  const ip = parseIpAddress(info.address);
  if (ip === null || ip.family !== family) return null;
  const prefixText = info.cidr?.split('/')[1];
  const prefix = prefixText === undefined ? (family === 4 ? 32 : 128) : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) return null;
  return { family, address: ip.text.split('%')[0] ?? ip.text, prefix };
}

/** The interfaces that can carry mDNS, sorted by name. */
export function mdnsInterfaces(table: InterfaceTable): MdnsInterface[] {
  const result: MdnsInterface[] = [];
  for (const [name, infos] of Object.entries(table)) {
    if (infos === undefined || !isValidIfName(name)) continue;
    if (infos.some((info) => info.internal)) continue;
    const networks: Network[] = [];
    for (const info of infos) {
      const family = familyOf(info);
      const network = family === null ? null : networkOf(info, family);
      if (network !== null) networks.push(network);
    }
    const ipv4 = networks.find((n) => n.family === 4)?.address;
    const ipv6 = networks.some((n) => n.family === 6);
    if (ipv4 === undefined && !ipv6) continue;
    result.push({ name, ipv4, ipv6, networks });
  }
  return result.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** What decides an interface's sockets: a change means they must be reopened. */
export function socketSignature(iface: MdnsInterface): string {
  return `${iface.name} ${iface.ipv4 ?? '-'} ${iface.ipv6 ? '6' : '-'}`;
}

/** The address as a number (32 or 128 bits), or null. */
export function addressBits(text: string): bigint | null {
  const ip = parseIpAddress(text);
  if (ip === null) return null;
  const plain = ip.text.split('%')[0] ?? '';
  if (ip.family === 4) {
    return plain.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
  }
  const [head = '', tail] = plain.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...zeros, ...tailGroups].reduce(
    (acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)),
    0n,
  );
}

/** True if `address` lies in `network` (same family). */
export function inNetwork(address: string, family: 4 | 6, network: Network): boolean {
  if (network.family !== family) return false;
  const a = addressBits(address);
  const n = addressBits(network.address);
  if (a === null || n === null) return false;
  const width = family === 4 ? 32 : 128;
  const shift = BigInt(width - network.prefix);
  return a >> shift === n >> shift;
}

/** The interfaces a packet from `source` (as Node reports rinfo.address) arrived on. */
export function attributeSource(source: string, interfaces: readonly MdnsInterface[]): string[] {
  const ip = parseIpAddress(source);
  if (ip === null) return [];
  if (ip.scope !== undefined) {
    return interfaces.some((i) => i.name === ip.scope) ? [ip.scope] : [];
  }
  const family = ip.family;
  const matching = interfaces.filter((i) => i.networks.some((n) => inNetwork(ip.text, family, n)));
  if (matching.length > 0) return matching.map((i) => i.name);
  const ofFamily = interfaces.filter((i) => i.networks.some((n) => n.family === family));
  return ofFamily.length === 1 && ofFamily[0] !== undefined ? [ofFamily[0].name] : [];
}
