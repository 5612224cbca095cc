/**
 * One mDNS socket of the embedded browser: one interface, one address family, over multicast-dns.
 *
 * Options as measured (dependencies.md §2): IPv4 binds 0.0.0.0:5353 (binding the interface's
 * unicast address receives no multicast) and names the interface by its address
 * (IP_MULTICAST_IF and the group membership); IPv6 binds [::]:5353 (v6-only) and names the interface
 * as `::%<name>`. An explicit interface also means no default route is needed (no ENETUNREACH).
 * multicast-dns does the binding (SO_REUSEADDR, so avahi-daemon may share the port), the membership
 * (retried every 5 s by multicast-dns itself) and the decoding; queries are sent as bytes encoded by
 * mdns-query.ts straight on the datagram socket.
 *
 * Never throws: open, send and close failures reach `onError` or the promise result; undecodable
 * packets are counted through `onBadPacket`. Received responses are passed on undigested (the
 * caller validates them: they are hostile input).
 * Touches one UDP socket. Tests: through the integration tests (test/integration/mdns-embedded-*).
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import makeMdns from 'multicast-dns';

export const MDNS_PORT = 5353;
const GROUP = { 4: '224.0.0.251', 6: 'ff02::fb' } as const;

export interface MdnsSocketSpec {
  readonly iface: string;
  readonly family: 4 | 6;
  /** IPv4 only: the interface's address. */
  readonly address?: string;
}

export interface MdnsSocketHandlers {
  /** A decoded response packet (untrusted) and where it came from. */
  onResponse(packet: unknown, rinfo: RemoteInfo): void;
  /** An error of the socket (bind, membership, interface selection). */
  onError(err: Error): void;
  /** A packet that could not be decoded. */
  onBadPacket(): void;
}

export interface MdnsSocket {
  readonly spec: MdnsSocketSpec;
  /** Send a packet to the mDNS group on this interface; resolves with the error, or null. */
  send(bytes: Uint8Array): Promise<Error | null>;
  close(): Promise<void>;
}

export type MdnsSocketFactory = (spec: MdnsSocketSpec, handlers: MdnsSocketHandlers) => MdnsSocket;

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Open a real socket. */
export const openMdnsSocket: MdnsSocketFactory = (spec, handlers) => {
  let closed = false;
  let ready: Promise<Error | null>;
  let udp: Socket | undefined;
  let mdns: ReturnType<typeof makeMdns> | undefined;
  try {
    // node:dgram is looked up here rather than imported: a bundle hoists static imports of built-in
    // modules to its top, and a stafd that never browses by itself (avahi, or no zeroconf) need not
    // load it. (embedded-browser.ts itself is imported on first use, by dc-sources.ts.)
    const { createSocket } = process.getBuiltinModule('node:dgram');
    udp = createSocket({
      type: spec.family === 4 ? 'udp4' : 'udp6',
      reuseAddr: true,
      ipv6Only: spec.family === 6,
    });
    mdns = makeMdns(
      spec.family === 4
        ? { socket: udp, interface: spec.address, bind: '0.0.0.0', port: MDNS_PORT, loopback: false }
        : {
            socket: udp,
            type: 'udp6',
            ip: GROUP[6],
            interface: `::%${spec.iface}`,
            bind: '::',
            port: MDNS_PORT,
            loopback: false,
          },
    );
    const instance = mdns;
    ready = new Promise<Error | null>((resolve) => {
      instance.once('ready', () => {
        resolve(null);
      });
      instance.once('error', (err: Error) => {
        resolve(err);
      });
    });
    instance.on('error', (err: Error) => {
      handlers.onError(err);
    });
    instance.on('warning', (err: Error) => {
      // multicast-dns reports undecodable packets (plain errors, or ERR_* range errors) and socket
      // trouble (errno codes: membership, interface selection) as warnings.
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) handlers.onError(err);
      else handlers.onBadPacket();
    });
    instance.on('response', (packet: unknown, rinfo: RemoteInfo) => {
      handlers.onResponse(packet, rinfo);
    });
  } catch (err) {
    ready = Promise.resolve(asError(err));
    handlers.onError(asError(err));
    try {
      udp?.close();
    } catch {
      // not open
    }
    closed = true;
  }

  const send = async (bytes: Uint8Array): Promise<Error | null> => {
    const bindError = await ready;
    if (bindError !== null) return bindError;
    if (closed || udp === undefined) return new Error('socket closed');
    const socket = udp;
    return new Promise<Error | null>((resolve) => {
      try {
        socket.send(bytes, MDNS_PORT, GROUP[spec.family], (err) => {
          resolve(err ?? null);
        });
      } catch (err) {
        resolve(asError(err));
      }
    });
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    const instance = mdns;
    if (instance === undefined) {
      try {
        udp?.close();
      } catch {
        // never opened
      }
      return;
    }
    await new Promise<void>((resolve) => {
      try {
        instance.destroy(() => {
          resolve();
        });
      } catch {
        resolve();
      }
    });
  };

  return { spec, send, close };
};
