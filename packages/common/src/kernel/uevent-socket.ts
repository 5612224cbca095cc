/**
 * The kernel's uevent netlink socket (NETLINK_KOBJECT_UEVENT, multicast group
 * 1), opened non-blocking through koffi (FFI to libc): socket(AF_NETLINK,
 * SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 15), bind(nl_groups = 1), a large
 * receive buffer (SO_RCVBUFFORCE when privileged, else SO_RCVBUF, capped by
 * net.core.rmem_max), then recvfrom(MSG_DONTWAIT) on demand.
 *
 * Receiving kernel uevents needs no privilege (the kernel allows any user to
 * join group 1). Datagrams not sent by the kernel (sender port id ≠ 0) are
 * reported with `fromKernel: false` so the caller drops them.
 *
 * I/O edge; every call is a short, non-blocking system call: `receive()`
 * never waits (EAGAIN → `empty`). ENOBUFS (the kernel dropped uevents
 * because the buffer was full) → `overflow`, after which the socket is
 * usable again. `signalWhenReadable(tid)` asks for signal-driven I/O (fcntl
 * F_SETOWN_EX to that thread, then O_ASYNC): a SIGIO whenever a datagram
 * arrives or the buffer overflows, so the caller can drain on demand instead
 * of polling. SIGIO's default action ends the process: the caller must be
 * handling SIGIO before it asks. `openUeventSocket` rejects with StasError
 * KERNEL_UEVENT_UNAVAILABLE when koffi or libc cannot be loaded or a system
 * call fails (e.g. a seccomp filter or an old container runtime).
 *
 * Constants are Linux's generic ones (x86, arm, arm64, riscv, ppc, s390);
 * alpha, mips, parisc and sparc use other SOCK_NONBLOCK/SO_* values.
 *
 * Measured (this VM, koffi 3.3.4, plain-buffer binding): one recvfrom that
 * finds nothing costs about 1.6 µs (13 µs with koffi struct out-parameters);
 * but each poll also wakes the process and runs a timer: an idle stacd polling
 * every 100 ms spent about 0.2 ms of CPU per poll (0.2 % of a CPU), which is
 * why uevents.ts polls only when it cannot have SIGIO.
 *
 * Used by: uevents.ts. Tests: uevents.test.ts (real socket, real uevent when root).
 */
import { endianness } from 'node:os';
import { StasError, describeError } from '../errors.js';

export type UeventReceive =
  | { readonly kind: 'datagram'; readonly bytes: Uint8Array; readonly fromKernel: boolean }
  | { readonly kind: 'empty' }
  | { readonly kind: 'overflow' }
  | { readonly kind: 'error'; readonly errno: number };

export interface UeventSocket {
  /** One datagram, or why there is none; never blocks. */
  receive(): UeventReceive;
  /**
   * Have the kernel send SIGIO to thread `tid` (the main thread: `process.pid`) whenever the socket
   * becomes readable; false when fcntl refuses. Handle SIGIO BEFORE calling this.
   */
  signalWhenReadable(tid: number): boolean;
  /** Whether the receive buffer could be forced past rmem_max (needs CAP_NET_ADMIN). */
  readonly receiveBufferForced: boolean;
  close(): void;
}

const AF_NETLINK = 16;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_KOBJECT_UEVENT = 15;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;
const EINTR = 4;
const ENOBUFS = 105;
const SOCKADDR_NL_SIZE = 12;
const F_GETFL = 3;
const F_SETFL = 4;
const F_SETOWN_EX = 15;
const F_OWNER_TID = 0;
const O_ASYNC = 0o20000;

/** Default receive buffer: 8 MiB, as udevd asks for, so bursts (hundreds of controllers) fit. */
export const DEFAULT_UEVENT_RECEIVE_BUFFER = 8 * 1024 * 1024;
/** Bigger than the kernel's largest uevent (UEVENT_BUFFER_SIZE, 2 KiB). */
const RECEIVE_BYTES = 8192;

interface SockaddrNl {
  nl_family: number;
  nl_pad: number;
  nl_pid: number;
  nl_groups: number;
}

const LITTLE_ENDIAN = endianness() === 'LE';
/** nl_pid of a struct sockaddr_nl (offset 4, native byte order). */
const readPid = (b: Buffer): number => (LITTLE_ENDIAN ? b.readUInt32LE(4) : b.readUInt32BE(4));
/** A socklen_t (32 bits, native byte order). */
const writeLen = (b: Buffer, value: number): void => {
  if (LITTLE_ENDIAN) b.writeInt32LE(value);
  else b.writeInt32BE(value);
};

interface Libc {
  readonly socket: (domain: number, type: number, protocol: number) => number;
  readonly bind: (fd: number, addr: SockaddrNl, len: number) => number;
  readonly setsockopt: (fd: number, level: number, name: number, value: number[], len: number) => number;
  readonly recvfrom: (
    fd: number,
    buf: Buffer,
    len: number,
    flags: number,
    from: Buffer,
    fromLen: Buffer,
  ) => number;
  readonly close: (fd: number) => number;
  /** fcntl(fd, cmd) and fcntl(fd, cmd, <type>, value): variadic, so each extra argument carries its C type. */
  readonly fcntl: (fd: number, cmd: number, ...typedArgs: unknown[]) => number;
  readonly errno: () => number;
}

let libcPromise: Promise<Libc> | undefined;

async function loadLibc(): Promise<Libc> {
  const koffi = (await import('koffi')).default;
  let lib: ReturnType<typeof koffi.load> | undefined;
  let lastError: unknown;
  for (const name of ['libc.so.6', 'libc.so']) {
    try {
      lib = koffi.load(name);
      break;
    } catch (err) {
      lastError = err;
    }
  }
  if (lib === undefined) throw lastError;
  // The uevent socket's struct is fixed by the kernel ABI: 2 + 2 + 4 + 4 bytes.
  koffi.struct('stas_sockaddr_nl', {
    nl_family: 'uint16',
    nl_pad: 'uint16',
    nl_pid: 'uint32',
    nl_groups: 'uint32',
  });
  return {
    socket: lib.func('int socket(int, int, int)') as unknown as Libc['socket'],
    bind: lib.func('int bind(int, const stas_sockaddr_nl *, int)') as unknown as Libc['bind'],
    setsockopt: lib.func('int setsockopt(int, int, int, const int *, int)') as unknown as Libc['setsockopt'],
    // Plain buffers (void *) rather than typed out-parameters: about 8× cheaper per call.
    recvfrom: lib.func(
      'long recvfrom(int, void *, size_t, int, void *, void *)',
    ) as unknown as Libc['recvfrom'],
    close: lib.func('int close(int)') as unknown as Libc['close'],
    fcntl: lib.func('int fcntl(int, int, ...)') as unknown as Libc['fcntl'],
    errno: () => koffi.errno(),
  };
}

function unavailable(what: string, cause?: unknown): StasError {
  const detail = cause === undefined ? '' : `: ${describeError(cause)}`;
  return new StasError('KERNEL_UEVENT_UNAVAILABLE', `uevent netlink socket: ${what}${detail}`, { cause });
}

export interface OpenUeventSocketOptions {
  readonly receiveBufferBytes?: number;
}

/** Open and bind the uevent socket (see the module header). */
export async function openUeventSocket(opts: OpenUeventSocketOptions = {}): Promise<UeventSocket> {
  libcPromise ??= loadLibc();
  let libc: Libc;
  try {
    libc = await libcPromise;
  } catch (err) {
    libcPromise = undefined;
    throw unavailable('cannot load koffi/libc', err);
  }
  const fd = libc.socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
  if (fd < 0) throw unavailable(`socket() failed with errno ${libc.errno()}`);
  if (libc.bind(fd, { nl_family: AF_NETLINK, nl_pad: 0, nl_pid: 0, nl_groups: 1 }, SOCKADDR_NL_SIZE) !== 0) {
    const errno = libc.errno();
    libc.close(fd);
    throw unavailable(`bind() failed with errno ${errno}`);
  }
  const size = opts.receiveBufferBytes ?? DEFAULT_UEVENT_RECEIVE_BUFFER;
  const forced = libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, [size], 4) === 0;
  if (!forced) libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, [size], 4); // best effort, capped by rmem_max

  const buffer = Buffer.alloc(RECEIVE_BYTES);
  const from = Buffer.alloc(SOCKADDR_NL_SIZE);
  const fromLen = Buffer.alloc(4);
  let open = true;
  return {
    receiveBufferForced: forced,
    receive(): UeventReceive {
      if (!open) return { kind: 'error', errno: 9 /* EBADF */ };
      for (;;) {
        from.fill(0);
        writeLen(fromLen, SOCKADDR_NL_SIZE);
        const n = libc.recvfrom(fd, buffer, buffer.length, MSG_DONTWAIT, from, fromLen);
        if (n >= 0) {
          return {
            kind: 'datagram',
            bytes: Uint8Array.prototype.slice.call(buffer, 0, n),
            fromKernel: readPid(from) === 0,
          };
        }
        const errno = libc.errno();
        if (errno === EINTR) continue;
        if (errno === EAGAIN) return { kind: 'empty' };
        if (errno === ENOBUFS) return { kind: 'overflow' };
        return { kind: 'error', errno };
      }
    },
    signalWhenReadable(tid: number): boolean {
      if (!open) return false;
      // struct f_owner_ex { int type; pid_t pid; }: native byte order, 4 + 4 bytes.
      const owner = Buffer.alloc(8);
      if (LITTLE_ENDIAN) {
        owner.writeInt32LE(F_OWNER_TID, 0);
        owner.writeInt32LE(tid, 4);
      } else {
        owner.writeInt32BE(F_OWNER_TID, 0);
        owner.writeInt32BE(tid, 4);
      }
      if (libc.fcntl(fd, F_SETOWN_EX, 'void *', owner) !== 0) return false;
      const flags = libc.fcntl(fd, F_GETFL);
      return flags >= 0 && libc.fcntl(fd, F_SETFL, 'int', flags | O_ASYNC) === 0;
    },
    close(): void {
      if (!open) return;
      open = false;
      libc.close(fd);
    },
  };
}
