/**
 * What a /dev/nvme-fabrics connect (and a delete_controller write) came to,
 * as typed values: the kernel's reply parsed, its errno mapped to a kind
 * (wire digest §9.1 "Write errors").
 *
 * Pure. Decisions:
 * - EALREADY ("a matching controller already exists") is `ok: true` with
 *   kind `already-connected`: the wanted connection exists, it is not a
 *   failure (style §7.3). The kernel does not say which device it is; find it
 *   with sysfs.ts + controller-match.ts.
 * - Each failure keeps the errno name and says whether trying again later
 *   may help (`transient`): network-level errors (ECONNREFUSED, ETIMEDOUT,
 *   EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL, EIO, EINTR, ENOMEM, EAGAIN) are
 *   transient; a refused option, host identity, interface or key is not until
 *   the configuration changes.
 * - errno names come from the errno NUMBER (Node has no names for ENOKEY and
 *   the EKEY* family and calls EOPNOTSUPP "ENOTSUP"); the numbers are those of
 *   Linux's generic table (x86, arm, arm64, riscv, s390, ppc), not of alpha,
 *   mips, parisc or sparc.
 *
 * Used by: fabrics-device.ts, testing/fake-fabrics.ts. Tests: fabrics-outcome.test.ts
 */

declare const deviceNameBrand: unique symbol;
/** A kernel controller name, `nvme<N>`. */
export type DeviceName = string & { readonly [deviceNameBrand]: true };

const DEVICE_NAME = /^nvme(0|[1-9][0-9]*)$/;

export function isDeviceName(text: string): text is DeviceName {
  return DEVICE_NAME.test(text);
}

export function deviceNameOf(instance: number): DeviceName {
  if (!Number.isSafeInteger(instance) || instance < 0)
    throw new RangeError(`bad controller instance ${instance}`);
  return `nvme${instance}` as DeviceName;
}

/** Failure kinds, stable in logs and JSON. */
export const CONNECT_FAILURE_KINDS = [
  'invalid-argument', // EINVAL: refused option or value, hostnqn/hostid mismatch, second write on one fd
  'connection-refused', // ECONNREFUSED
  'timed-out', // ETIMEDOUT
  'host-unreachable', // EHOSTUNREACH
  'network-unreachable', // ENETUNREACH
  'no-such-interface', // ENODEV: host_iface does not exist
  'duplicate-hostnqn', // EADDRINUSE: hostnqn given twice
  'address-not-available', // EADDRNOTAVAIL: host_traddr is not a local address
  'key-rejected', // ENOKEY, EKEYREJECTED, EKEYREVOKED, EKEYEXPIRED: TLS / DH-HMAC-CHAP
  'not-supported', // EOPNOTSUPP
  'io-error', // EIO: NVMe error status during connect (see dmesg)
  'no-fabrics-device', // ENOENT/ENXIO on open: nvme-fabrics not loaded
  'permission-denied', // EACCES, EPERM
  'bad-reply', // the write succeeded but the reply is not instance=N,cntlid=M
  'other',
] as const;
export type ConnectFailureKind = (typeof CONNECT_FAILURE_KINDS)[number];

export interface ConnectSuccess {
  readonly ok: true;
  readonly kind: 'connected';
  readonly device: DeviceName;
  readonly instance: number;
  readonly cntlid: number;
}

export interface AlreadyConnected {
  readonly ok: true;
  readonly kind: 'already-connected';
}

export interface ConnectFailure {
  readonly ok: false;
  readonly kind: ConnectFailureKind;
  /** errno name (`EINVAL`) or `ERRNO_<n>` for a number outside the table; '' for `bad-reply`. */
  readonly errno: string;
  /** Trying again later (same arguments) may succeed. */
  readonly transient: boolean;
  /** Which step failed. */
  readonly stage: 'open' | 'write' | 'read' | 'reply';
  readonly message: string;
}

export type ConnectOutcome = ConnectSuccess | AlreadyConnected | ConnectFailure;

/** Linux generic errno numbers the fabrics interface produces. */
const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: 'EPERM',
  2: 'ENOENT',
  4: 'EINTR',
  5: 'EIO',
  6: 'ENXIO',
  11: 'EAGAIN',
  12: 'ENOMEM',
  13: 'EACCES',
  16: 'EBUSY',
  19: 'ENODEV',
  21: 'EISDIR',
  22: 'EINVAL',
  28: 'ENOSPC',
  95: 'EOPNOTSUPP',
  98: 'EADDRINUSE',
  99: 'EADDRNOTAVAIL',
  101: 'ENETUNREACH',
  105: 'ENOBUFS',
  110: 'ETIMEDOUT',
  111: 'ECONNREFUSED',
  113: 'EHOSTUNREACH',
  114: 'EALREADY',
  126: 'ENOKEY',
  127: 'EKEYEXPIRED',
  128: 'EKEYREVOKED',
  129: 'EKEYREJECTED',
};

/** The errno name for a number (positive or Node's negative form). */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  return ERRNO_NAMES[n] ?? `ERRNO_${n}`;
}

/** The generic Linux errno number of a name from the table above (`EINVAL` → 22), or undefined. */
export function errnoNumber(name: string): number | undefined {
  for (const [n, known] of Object.entries(ERRNO_NAMES)) if (known === name) return Number(n);
  return undefined;
}

const KIND_OF_ERRNO: Readonly<Record<string, ConnectFailureKind>> = {
  EINVAL: 'invalid-argument',
  ECONNREFUSED: 'connection-refused',
  ETIMEDOUT: 'timed-out',
  EHOSTUNREACH: 'host-unreachable',
  ENETUNREACH: 'network-unreachable',
  ENODEV: 'no-such-interface',
  EADDRINUSE: 'duplicate-hostnqn',
  EADDRNOTAVAIL: 'address-not-available',
  ENOKEY: 'key-rejected',
  EKEYREJECTED: 'key-rejected',
  EKEYREVOKED: 'key-rejected',
  EKEYEXPIRED: 'key-rejected',
  EOPNOTSUPP: 'not-supported',
  EIO: 'io-error',
  EACCES: 'permission-denied',
  EPERM: 'permission-denied',
};

const TRANSIENT = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'EIO',
  'EINTR',
  'ENOMEM',
  'EAGAIN',
  'EBUSY',
]);

/** The outcome of a connect whose `stage` step failed with `errno` (a number, sign ignored). */
export function connectOutcomeFromErrno(
  errno: number,
  stage: 'open' | 'write' | 'read',
  detail = '',
): AlreadyConnected | ConnectFailure {
  const name = errnoName(errno);
  if (stage === 'write' && name === 'EALREADY') return { ok: true, kind: 'already-connected' };
  let kind: ConnectFailureKind = KIND_OF_ERRNO[name] ?? 'other';
  if (stage === 'open' && (name === 'ENOENT' || name === 'ENXIO' || name === 'ENODEV'))
    kind = 'no-fabrics-device';
  const message = `${stage} failed with ${name}${detail === '' ? '' : `: ${detail}`}`;
  return { ok: false, kind, errno: name, transient: TRANSIENT.has(name), stage, message };
}

const REPLY = /^instance=(\d+),cntlid=(\d+)\s*$/;

/** The outcome of the read after a successful write: `instance=N,cntlid=M` (first line only). */
export function connectOutcomeFromReply(reply: string): ConnectSuccess | ConnectFailure {
  const firstLine = reply.split('\n', 1)[0] ?? '';
  const m = REPLY.exec(firstLine);
  const instance = Number(m?.[1]);
  const cntlid = Number(m?.[2]);
  if (m === null || !Number.isSafeInteger(instance) || !Number.isSafeInteger(cntlid) || cntlid > 0xffff) {
    return {
      ok: false,
      kind: 'bad-reply',
      errno: '',
      transient: false,
      stage: 'reply',
      message: `unexpected reply ${JSON.stringify(reply.slice(0, 80))}`,
    };
  }
  return { ok: true, kind: 'connected', device: deviceNameOf(instance), instance, cntlid };
}

export type DisconnectOutcome =
  | { readonly ok: true; readonly kind: 'deleted' }
  /** The controller was already gone (its sysfs directory does not exist). */
  | { readonly ok: true; readonly kind: 'already-gone' }
  | { readonly ok: false; readonly kind: 'failed'; readonly errno: string; readonly message: string };

/** The outcome of writing to delete_controller; `errno` undefined on success. */
export function disconnectOutcome(errno: number | undefined, detail = ''): DisconnectOutcome {
  if (errno === undefined) return { ok: true, kind: 'deleted' };
  const name = errnoName(errno);
  if (name === 'ENOENT' || name === 'ENODEV') return { ok: true, kind: 'already-gone' };
  return {
    ok: false,
    kind: 'failed',
    errno: name,
    message: `delete_controller failed with ${name}${detail === '' ? '' : `: ${detail}`}`,
  };
}
