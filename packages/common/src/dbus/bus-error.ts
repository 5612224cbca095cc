/**
 * Errors of the D-Bus layer, as typed values with stable codes.
 *
 * - `BusError` is what our side of a bus connection throws: local failures (bad address, timeout, abort,
 *   connection lost) and error replies from a peer or from the bus daemon, classified by `errorFromReply`
 *   so that a CLI can tell "access denied" from "daemon not running" (behaviour spec §9 T2).
 * - `ServiceError` is what a service handler throws to send a D-Bus error with a stable name
 *   `<errorPrefix>.<kind>` (e.g. `org.nvmexpress.staf.Error.NotFound`); see service-export.ts.
 *
 * Pure: no I/O. Tests: bus-error.test.ts
 */
import { StasError } from '../errors.js';

/** Stable codes of BusError. */
export const BUS_ERROR_CODES = [
  'DBUS_ADDRESS_UNSUPPORTED', // the bus address is not a usable unix:path= address
  'DBUS_CONNECT_FAILED', // socket, authentication or Hello failed, or timed out
  'DBUS_DISCONNECTED', // the connection is closed or was lost while the operation was pending
  'DBUS_TIMEOUT', // no reply within the time limit (ours, or the bus's NoReply/Timeout)
  'DBUS_ABORTED', // the caller's AbortSignal fired
  'DBUS_NAME_TAKEN', // RequestName: another connection owns the name
  'DBUS_NAME_DENIED', // RequestName: the bus policy forbids us to own the name
  'DBUS_ACCESS_DENIED', // the bus policy (or the peer) refused the call
  'DBUS_SERVICE_UNKNOWN', // nobody owns the destination name
  'DBUS_UNKNOWN_MEMBER', // no such object, interface, method or property at the peer
  'DBUS_LIMITS_EXCEEDED', // a bus daemon limit (e.g. max_replies_per_connection) was hit
  'DBUS_INVALID_ARGS', // our arguments do not fit the signature, or the peer said InvalidArgs
  'DBUS_BAD_REPLY', // the reply does not have the expected signature or values
  'DBUS_REMOTE_ERROR', // any other error reply; see remoteName/remoteText
] as const;
export type BusErrorCode = (typeof BUS_ERROR_CODES)[number];

export class BusError extends StasError {
  declare readonly code: BusErrorCode;
  /** The D-Bus error name of an error reply (e.g. org.freedesktop.DBus.Error.AccessDenied), if any. */
  readonly remoteName: string | undefined;
  /** The text of an error reply, if any. */
  readonly remoteText: string | undefined;

  constructor(
    code: BusErrorCode,
    message: string,
    details?: { remoteName?: string; remoteText?: string; cause?: unknown },
  ) {
    super(code, message, { cause: details?.cause });
    this.name = 'BusError';
    this.remoteName = details?.remoteName;
    this.remoteText = details?.remoteText;
  }
}

const FDO = 'org.freedesktop.DBus.Error.';

const REMOTE_CODES: Readonly<Record<string, BusErrorCode>> = {
  [`${FDO}AccessDenied`]: 'DBUS_ACCESS_DENIED',
  [`${FDO}AuthFailed`]: 'DBUS_ACCESS_DENIED',
  [`${FDO}InteractiveAuthorizationRequired`]: 'DBUS_ACCESS_DENIED',
  [`${FDO}ServiceUnknown`]: 'DBUS_SERVICE_UNKNOWN',
  [`${FDO}NameHasNoOwner`]: 'DBUS_SERVICE_UNKNOWN',
  [`${FDO}UnknownMethod`]: 'DBUS_UNKNOWN_MEMBER',
  [`${FDO}UnknownObject`]: 'DBUS_UNKNOWN_MEMBER',
  [`${FDO}UnknownInterface`]: 'DBUS_UNKNOWN_MEMBER',
  [`${FDO}UnknownProperty`]: 'DBUS_UNKNOWN_MEMBER',
  [`${FDO}NoReply`]: 'DBUS_TIMEOUT',
  [`${FDO}Timeout`]: 'DBUS_TIMEOUT',
  [`${FDO}TimedOut`]: 'DBUS_TIMEOUT',
  [`${FDO}LimitsExceeded`]: 'DBUS_LIMITS_EXCEEDED',
  [`${FDO}InvalidArgs`]: 'DBUS_INVALID_ARGS',
  [`${FDO}InvalidSignature`]: 'DBUS_INVALID_ARGS',
  [`${FDO}Disconnected`]: 'DBUS_DISCONNECTED',
};

/** The BusError for an error reply named `errorName` with text `text` to a call described by `what`. */
export function errorFromReply(errorName: string, text: string, what: string): BusError {
  const code = REMOTE_CODES[errorName] ?? 'DBUS_REMOTE_ERROR';
  const detail = text === '' ? errorName : `${errorName}: ${text}`;
  return new BusError(code, `${what}: ${detail}`, { remoteName: errorName, remoteText: text });
}

/**
 * Error kinds a service handler may report. Each becomes the D-Bus error name `<errorPrefix>.<kind>`;
 * the names are part of the bus API and must not change.
 */
export const SERVICE_ERROR_KINDS = [
  'InvalidArgs', // the arguments are well-typed but not acceptable
  'NotFound', // the object the arguments name does not exist
  'AccessDenied', // the caller may not do this
  'NotReady', // the service cannot answer yet (still starting, reloading)
  'Failed', // the operation was attempted and failed; the text says why
  'Internal', // a bug: the handler threw something unexpected (its text is never sent)
] as const;
export type ServiceErrorKind = (typeof SERVICE_ERROR_KINDS)[number];

/** Thrown by a service handler to reply with `<errorPrefix>.<kind>` and `message` as the error text. */
export class ServiceError extends StasError {
  readonly kind: ServiceErrorKind;

  constructor(kind: ServiceErrorKind, message: string, options?: { cause?: unknown }) {
    super('DBUS_SERVICE_ERROR', message, options);
    this.name = 'ServiceError';
    this.kind = kind;
  }
}

/** The D-Bus error name for `kind` under `errorPrefix` (e.g. org.nvmexpress.staf.Error + NotFound). */
export function serviceErrorName(errorPrefix: string, kind: ServiceErrorKind): string {
  return `${errorPrefix}.${kind}`;
}

/** The text sent for an unexpected handler failure: never the message or stack of the thrown value. */
export const INTERNAL_ERROR_TEXT = 'internal error';
