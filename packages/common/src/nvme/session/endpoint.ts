/**
 * Where one NVMe/TCP connection goes and where it comes from: the controller address (traddr,
 * trsvcid) checked and formatted for messages, and the local (source) address chosen from host-traddr
 * and host-iface.
 *
 * Pure: the interface table (`os.networkInterfaces()`) is a parameter. resolveEndpoint() throws
 * StasError NVME_BAD_OPTION with a sentence naming the bad value; nothing else.
 *
 * host-iface: Node has no SO_BINDTODEVICE (and the kernel would demand CAP_NET_RAW for it), so an
 * interface is pinned by binding the socket to one of that interface's addresses of the destination's
 * family: the given host-traddr if it belongs to the interface, else the first suitable address (for a
 * link-local IPv6 destination a link-local address, otherwise a global one). A link-local IPv6
 * destination gets `%iface` as its scope, which is what really selects the outgoing interface there.
 * For other destinations the route still decides the egress interface; binding fixes the source
 * address (the address a DC sees and a CDC registers), which is what nvme-stas's host-iface pinning is
 * for in practice. A scope that names another interface than host-iface is refused.
 *
 * Used by: transport.ts, discovery-session.ts
 * Tests:   endpoint.test.ts
 */
import type { NetworkInterfaceInfo } from 'node:os';
import { StasError } from '../../errors.js';
import { isLinkLocal, parseIpAddress, type IpFamily } from '../../net/ip-address.js';
import { isValidIfName } from '../../net/ifname.js';

/** The port of a discovery controller when none is given. */
export const DEFAULT_DISCOVERY_PORT = 8009;

export interface EndpointInput {
  /** Controller address: an IPv4 or IPv6 literal (IPv6 link-local with an optional %scope). */
  readonly traddr: string;
  /** Controller port; default 8009. */
  readonly trsvcid?: string | number;
  /** Source address to bind (host-traddr). */
  readonly hostTraddr?: string;
  /** Source interface (host-iface). */
  readonly hostIface?: string;
}

export interface Endpoint {
  /** What net.connect() gets as `host` (with %scope for link-local IPv6). */
  readonly host: string;
  readonly port: number;
  readonly family: IpFamily;
  /** What net.connect() gets as `localAddress`, if the source is pinned. */
  readonly localAddress: string | undefined;
  /** "192.0.2.1:8009", "[fe80::1%eth0]:8009": for messages and errors. */
  readonly peer: string;
}

export type InterfaceTable = Readonly<Record<string, readonly NetworkInterfaceInfo[] | undefined>>;

function bad(message: string): never {
  throw new StasError('NVME_BAD_OPTION', message);
}

/** "a.b.c.d:port" or "[v6]:port". */
export function formatPeer(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function parsePort(value: string | number | undefined): number {
  if (value === undefined || value === '') return DEFAULT_DISCOVERY_PORT;
  const text = String(value).trim();
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) bad(`trsvcid "${String(value)}" is not a TCP port (1-65535)`);
  return port;
}

function withoutScope(text: string): string {
  const i = text.indexOf('%');
  return i === -1 ? text : text.slice(0, i);
}

function familyOf(info: NetworkInterfaceInfo): IpFamily | undefined {
  const f: unknown = info.family;
  return f === 'IPv4' || f === 4 ? 4 : f === 'IPv6' || f === 6 ? 6 : undefined;
}

export function resolveEndpoint(input: EndpointInput, interfaces: InterfaceTable): Endpoint {
  const dest = parseIpAddress(input.traddr.trim());
  if (dest === null) bad(`traddr "${input.traddr}" is not an IPv4 or IPv6 address`);
  const port = parsePort(input.trsvcid);
  const destLinkLocal = dest.family === 6 && isLinkLocal(dest);
  let host = dest.text;

  const source =
    input.hostTraddr !== undefined && input.hostTraddr !== ''
      ? parseIpAddress(input.hostTraddr.trim())
      : null;
  if (input.hostTraddr !== undefined && input.hostTraddr !== '') {
    if (source === null) bad(`host-traddr "${input.hostTraddr}" is not an IPv4 or IPv6 address`);
    if (source.family !== dest.family) {
      bad(
        `host-traddr ${input.hostTraddr} is IPv${source.family} but traddr ${input.traddr} is IPv${dest.family}`,
      );
    }
  }
  let localAddress = source?.text;

  const iface = input.hostIface ?? '';
  if (iface !== '') {
    if (!isValidIfName(iface)) bad(`host-iface "${iface}" is not a valid interface name`);
    const infos = interfaces[iface];
    if (infos === undefined) bad(`host-iface ${iface}: no such interface`);
    const candidates = infos.filter((i) => familyOf(i) === dest.family);
    if (candidates.length === 0) bad(`host-iface ${iface} has no IPv${dest.family} address`);
    if (dest.scope !== undefined && dest.scope !== iface) {
      bad(`traddr ${input.traddr} is scoped to ${dest.scope} but host-iface is ${iface}`);
    }
    if (destLinkLocal && dest.scope === undefined) host = `${dest.text}%${iface}`;
    if (source !== null) {
      const addr = withoutScope(source.text);
      if (!candidates.some((c) => parseIpAddress(c.address)?.text === addr)) {
        bad(`host-traddr ${input.hostTraddr ?? ''} is not an address of host-iface ${iface}`);
      }
      localAddress = dest.family === 6 && isLinkLocal(addr) ? `${addr}%${iface}` : addr;
    } else {
      const pick =
        dest.family === 4
          ? candidates[0]
          : (candidates.find((c) => isLinkLocal(c.address) === destLinkLocal) ?? candidates[0]);
      const addr = pick?.address ?? '';
      localAddress = dest.family === 6 && isLinkLocal(addr) ? `${addr}%${iface}` : addr;
    }
  } else if (destLinkLocal && dest.scope === undefined) {
    bad(`traddr ${input.traddr} is link-local: give it a %scope or a host-iface`);
  }
  return { host, port, family: dest.family, localAddress, peer: formatPeer(host, port) };
}
