/**
 * Unix datagram sockets through libc (koffi), because Node has none: enough
 * to send sd_notify messages, and, for tests, to receive them.
 *
 * Addresses starting with `@` are Linux abstract sockets (as systemd writes
 * them in $NOTIFY_SOCKET). Every call is non-blocking; failures come back as
 * errno values, never as exceptions from libc. Loaded lazily: importing this
 * module costs nothing until a socket is used.
 *
 * Tests: sd-notify.test.ts
 */
import koffi from 'koffi';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SUN_PATH_MAX = 108;
const EAGAIN = 11;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrLen: number): number | bigint;
  recv(fd: number, buf: Buffer, len: number, flags: number): number | bigint;
  close(fd: number): number;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc !== undefined) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    socket: lib.func('int socket(int, int, int)') as Libc['socket'],
    bind: lib.func('int bind(int, const void *, uint32_t)') as Libc['bind'],
    sendto: lib.func(
      'intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)',
    ) as Libc['sendto'],
    recv: lib.func('intptr_t recv(int, _Out_ void *, size_t, int)') as Libc['recv'],
    close: lib.func('int close(int)') as Libc['close'],
  };
  return libc;
}

export class UnixDatagramError extends Error {
  readonly errno: number;
  constructor(operation: string, errno: number) {
    super(`${operation} failed (errno ${errno})`);
    this.errno = errno;
  }
}

/** sockaddr_un for a path or an `@abstract` name; null when it does not fit. */
export function unixAddress(path: string): { addr: Buffer; len: number } | null {
  const abstract = path.startsWith('@');
  const name = Buffer.from(abstract ? '\0' + path.slice(1) : path, 'utf8');
  if (name.length === 0 || name.length > SUN_PATH_MAX - (abstract ? 0 : 1)) return null;
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  return { addr, len: 2 + name.length + (abstract ? 0 : 1) };
}

/** Sends one datagram to `path`; throws UnixDatagramError on failure. */
export function sendDatagram(path: string, message: string): void {
  const target = unixAddress(path);
  if (target === null) throw new UnixDatagramError(`address ${JSON.stringify(path)}`, 22);
  const c = load();
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) throw new UnixDatagramError('socket', koffi.errno());
  try {
    const data = Buffer.from(message, 'utf8');
    const sent = Number(c.sendto(fd, data, data.length, 0, target.addr, target.len));
    if (sent < 0) throw new UnixDatagramError('sendto', koffi.errno());
  } finally {
    c.close(fd);
  }
}

/** A bound, non-blocking receiving socket (tests use it as a fake $NOTIFY_SOCKET). */
export class DatagramReceiver {
  readonly #fd: number;
  #closed = false;

  constructor(path: string) {
    const target = unixAddress(path);
    if (target === null) throw new UnixDatagramError(`address ${JSON.stringify(path)}`, 22);
    const c = load();
    this.#fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (this.#fd < 0) throw new UnixDatagramError('socket', koffi.errno());
    if (c.bind(this.#fd, target.addr, target.len) < 0) {
      const errno = koffi.errno();
      c.close(this.#fd);
      throw new UnixDatagramError('bind', errno);
    }
  }

  /** Every datagram waiting now (never blocks). */
  drain(): string[] {
    const c = load();
    const messages: string[] = [];
    const buf = Buffer.alloc(4096);
    for (;;) {
      const n = Number(c.recv(this.#fd, buf, buf.length, 0));
      if (n < 0) {
        const errno = koffi.errno();
        if (errno === EAGAIN) return messages;
        throw new UnixDatagramError('recv', errno);
      }
      messages.push(buf.subarray(0, n).toString('utf8'));
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    load().close(this.#fd);
  }
}
