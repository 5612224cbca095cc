/**
 * Typed errors with stable codes, shared by every stas package.
 *
 * Callers switch on `code`, never on message text. Codes are SCREAMING_SNAKE
 * with an area prefix (CONFIG_, WIRE_, NVME_, KERNEL_, DBUS_, IO_). The message
 * is for people and names the place (file:line, peer address) where it can.
 */
export class StasError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'StasError';
  }
}

/** A configuration value or file that cannot be used (for stasadm refusals and loaders). */
export class ConfigError extends StasError {
  readonly file: string | undefined;
  readonly line: number | undefined;

  constructor(code: string, message: string, place?: { file?: string; line?: number; cause?: unknown }) {
    super(code, message, { cause: place?.cause });
    this.name = 'ConfigError';
    this.file = place?.file;
    this.line = place?.line;
  }
}

/** Narrow an unknown thrown value to a Node.js system error with an errno code. */
export function isErrnoException(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}

/** A one-line description of any thrown value, for logs and CLI messages. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Malformed bytes from a peer, or a value an encoder cannot represent. Thrown only by the pure codec
 * (nvme/wire/*). `code` is `WIRE_*` (e.g. WIRE_BAD_PLEN, WIRE_HDGST_MISMATCH); `offset` is the byte offset
 * of the offending field inside the structure being decoded, when known; `cid` names the command a bad
 * data PDU belongs to (a data-digest mismatch fails that command only, not the connection).
 */
export class WireError extends StasError {
  readonly offset: number | undefined;
  readonly cid: number | undefined;

  constructor(
    code: `WIRE_${string}`,
    message: string,
    details?: { offset?: number; cid?: number; cause?: unknown },
  ) {
    super(code, message, { cause: details?.cause });
    this.name = 'WireError';
    this.offset = details?.offset;
    this.cid = details?.cid;
  }
}

/** The status fields of an NVMe completion (CQE STATUS without the phase bit). */
export interface NvmeStatusFields {
  /** Status Code Type, 3 bits (0 generic, 1 command specific, 2 media, 3 path, 7 vendor). */
  readonly sct: number;
  /** Status Code, 8 bits. */
  readonly sc: number;
  /** Command Retry Delay index, 2 bits (0 = retry at once; 1..3 = Identify CRDT1..3). */
  readonly crd: number;
  /** More: the Error Information log page has details. */
  readonly more: boolean;
  /** Do Not Retry. */
  readonly dnr: boolean;
}

/**
 * A command completed with a non-zero NVMe status. `code` is always NVME_STATUS; switch on `sct`/`sc`
 * (or `status`, the 16-bit `(DNR<<14)|(M<<13)|(CRD<<11)|(SCT<<8)|SC` value that Linux and libnvme print).
 */
export class NvmeStatusError extends StasError implements NvmeStatusFields {
  readonly sct: number;
  readonly sc: number;
  readonly crd: number;
  readonly more: boolean;
  readonly dnr: boolean;
  readonly status: number;

  constructor(fields: NvmeStatusFields, message: string, options?: { cause?: unknown }) {
    super('NVME_STATUS', message, options);
    this.name = 'NvmeStatusError';
    this.sct = fields.sct;
    this.sc = fields.sc;
    this.crd = fields.crd;
    this.more = fields.more;
    this.dnr = fields.dnr;
    this.status =
      ((fields.dnr ? 1 : 0) << 14) |
      ((fields.more ? 1 : 0) << 13) |
      ((fields.crd & 0x3) << 11) |
      ((fields.sct & 0x7) << 8) |
      (fields.sc & 0xff);
  }
}

/**
 * What a session was waiting for when its deadline passed: 'icresp' the ICResp after ICReq, 'connect'
 * the Fabrics Connect command, 'enable' CSTS.RDY after CC.EN (CAP.TO), 'admin' any other admin command,
 * 'kato' a Keep Alive without completion within KATO (the association is considered dead), 'shutdown'
 * CSTS.SHST after CC.SHN. A TCP handshake that takes too long is a ConnectError of kind 'timeout'.
 */
export type TimeoutPhase = 'icresp' | 'connect' | 'enable' | 'admin' | 'kato' | 'shutdown';

/** A deadline of an NVMe/TCP session passed. `code` is always NVME_TIMEOUT; switch on `phase`. */
export class TimeoutError extends StasError {
  readonly phase: TimeoutPhase;
  /** The controller's address, "192.0.2.1:8009" or "[fe80::1%eth0]:8009". */
  readonly peer: string;

  constructor(phase: TimeoutPhase, peer: string, message: string, options?: { cause?: unknown }) {
    super('NVME_TIMEOUT', message, options);
    this.name = 'TimeoutError';
    this.phase = phase;
    this.peer = peer;
  }
}

/**
 * The session (or its connection) is closed: by close()/destroy() on our side, or by the peer (FIN,
 * reset, C2HTermReq). Commands in flight and every later call reject with it. `code` is NVME_CLOSED.
 */
export class ClosedError extends StasError {
  readonly peer: string;
  /** true when the peer ended the connection, false when this host did. */
  readonly byPeer: boolean;

  constructor(peer: string, message: string, options?: { byPeer?: boolean; cause?: unknown }) {
    super('NVME_CLOSED', message, { cause: options?.cause });
    this.name = 'ClosedError';
    this.peer = peer;
    this.byPeer = options?.byPeer ?? false;
  }
}

/**
 * The TCP connection to a controller could not be made. `code` is NVME_CONNECT_FAILED; `kind` says
 * why: 'refused' (RST, nothing listening), 'unreachable' (no route, network down, address not
 * available), 'timeout' (no answer to SYN within the connect timeout).
 */
export class ConnectError extends StasError {
  readonly kind: 'refused' | 'unreachable' | 'timeout';
  readonly peer: string;

  constructor(
    kind: 'refused' | 'unreachable' | 'timeout',
    peer: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('NVME_CONNECT_FAILED', message, options);
    this.name = 'ConnectError';
    this.kind = kind;
    this.peer = peer;
  }
}
