/**
 * The option string written to /dev/nvme-fabrics to create one controller
 * (wire digest §9.1; behaviour spec §6.6), built from a TID, its connection
 * options, the DH-HMAC-CHAP secrets and the set of options the kernel lists.
 *
 * Pure: no I/O, no logging. `buildConnectArgs` either returns the whole string
 * or throws ConnectArgsError; it never emits a string a value could have
 * altered. Every value is checked before use: a `,` or newline would start a
 * new option (e.g. `traddr=1.2.3.4,hostnqn=…` smuggled into an address), so
 * `,`, white space, NUL and other control characters are refused everywhere,
 * and `=` everywhere except in secrets (base64 padding). The error names the
 * field, never a secret's value.
 *
 * Token order: nqn, transport, traddr, trsvcid, host_traddr, host_iface,
 * hostnqn, hostid, keep_alive_tmo, queue_size, nr_io_queues, nr_write_queues,
 * nr_poll_queues, reconnect_delay, ctrl_loss_tmo, disable_sqflow, hdr_digest,
 * data_digest, dhchap_secret, dhchap_ctrl_secret, discovery.
 *
 * Differences from nvme-stas/libnvme, on purpose:
 * - `queue_size` is really sent (§9 F1); the TID's own host NQN and host ID
 *   are used (F2); hostid always accompanies hostnqn (kernel 6.12 refuses a
 *   hostnqn whose hostid it has to invent), and one without the other is refused.
 * - nr_* queue counts are sent for I/O controllers only; digests for tcp only;
 *   ctrl_loss_tmo not for loop; kato/reconnect_delay/nr_* only when > 0
 *   (kato 0 or null: the kernel default, 5 s for I/O, none for discovery).
 * - A dhchap_ctrl_secret without a dhchap_secret is refused (bidirectional
 *   authentication needs the host key).
 * - `discovery` is added for a discovery controller with a unique NQN (TP8013).
 * - A token the kernel does not list in `supported` is left out and named in
 *   `omitted` (the required nqn/transport/traddr are never left out).
 *
 * The result's `text` holds the secrets: it is a non-enumerable property, so
 * JSON.stringify, pino and util.inspect of the result show only `redacted`.
 *
 * Used by: stacd/stafd executors. Tests: connect-args.test.ts
 */
import type { ConnectOptions } from '../config/connect-options.js';
import { StasError } from '../errors.js';
import type { Tid, TidRole } from '../nvme/tid.js';
import { WELL_KNOWN_DISCOVERY_NQN } from '../nvme/tid.js';
import { REDACTED } from '../util/secret.js';
import type { Secret } from '../util/secret.js';

/** A /dev/nvme-fabrics write is at most one page; 4096 is the smallest page size Linux uses. */
export const MAX_CONNECT_STRING_BYTES = 4096;

export type ConnectArgsErrorCode =
  | 'KERNEL_CONNECT_ARG_UNSAFE'
  | 'KERNEL_CONNECT_ARG_MISSING'
  | 'KERNEL_CONNECT_ARG_BAD_NUMBER'
  | 'KERNEL_CONNECT_HOST_IDENTITY'
  | 'KERNEL_CONNECT_CTRL_SECRET_ALONE'
  | 'KERNEL_CONNECT_TOO_LONG';

/** A connect string that must not be written; `field` names the offending input (never its value if secret). */
export class ConnectArgsError extends StasError {
  readonly field: string;

  constructor(code: ConnectArgsErrorCode, field: string, message: string) {
    super(code, message);
    this.name = 'ConnectArgsError';
    this.field = field;
  }
}

export interface ConnectSecrets {
  /** DH-HMAC-CHAP host secret (`DHHC-1:…`). */
  readonly dhchapSecret?: Secret | null;
  /** DH-HMAC-CHAP controller secret, for bidirectional authentication. */
  readonly dhchapCtrlSecret?: Secret | null;
}

export interface ConnectArgsInput {
  readonly tid: Tid;
  readonly role: TidRole;
  /** Resolved connection options; a missing or null option is not sent. */
  readonly options: Partial<ConnectOptions>;
  /** Used when the TID has no host NQN / host ID of its own. */
  readonly host?: { readonly hostnqn: string; readonly hostid: string };
  readonly secrets?: ConnectSecrets;
  /** Option names the kernel lists (see fabrics-options.ts). */
  readonly supported: ReadonlySet<string>;
}

export interface ConnectArgs {
  /** The string to write, secrets included. Non-enumerable: never log it. */
  readonly text: string;
  /** The same string with secret values replaced by `[redacted]`: for logs and D-Bus. */
  readonly redacted: string;
  /** Option names that would have been sent but the kernel does not support. */
  readonly omitted: readonly string[];
}

/** Options that must be sent whatever the probe says (the kernel cannot work without them). */
const REQUIRED = new Set(['nqn', 'transport', 'traddr']);

// Anything that could end a value or start another option, or confuse the kernel's parser.
// eslint-disable-next-line no-control-regex
const UNSAFE_ANY = /[\s,\u0000-\u001f\u007f]/;

interface Token {
  readonly name: string;
  /** undefined for a flag. */
  readonly value?: string;
  readonly secret?: boolean;
}

function checkValue(field: string, value: string, opts: { allowEquals: boolean; secret: boolean }): void {
  const shown = opts.secret ? '' : ` (${JSON.stringify(value)})`;
  if (UNSAFE_ANY.test(value)) {
    throw new ConnectArgsError(
      'KERNEL_CONNECT_ARG_UNSAFE',
      field,
      `${field}: contains a comma, white space or a control character${shown}; refusing to build the connect string`,
    );
  }
  if (!opts.allowEquals && value.includes('=')) {
    throw new ConnectArgsError(
      'KERNEL_CONNECT_ARG_UNSAFE',
      field,
      `${field}: contains '='${shown}; refusing to build the connect string`,
    );
  }
}

function stringToken(name: string, field: string, value: string): Token {
  checkValue(field, value, { allowEquals: false, secret: false });
  return { name, value };
}

function secretToken(name: string, field: string, secret: Secret): Token {
  const value = secret.reveal();
  if (value === '') {
    throw new ConnectArgsError('KERNEL_CONNECT_ARG_MISSING', field, `${field}: the secret is empty`);
  }
  checkValue(field, value, { allowEquals: true, secret: true });
  return { name, value, secret: true };
}

function intToken(name: string, field: string, value: number): Token {
  if (!Number.isSafeInteger(value)) {
    throw new ConnectArgsError(
      'KERNEL_CONNECT_ARG_BAD_NUMBER',
      field,
      `${field}: ${value} is not an integer`,
    );
  }
  return { name, value: String(value) };
}

/** The positive integer option, or nothing for null/undefined/0. */
function positive(tokens: Token[], name: string, field: string, value: number | null | undefined): void {
  if (value === null || value === undefined) return;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ConnectArgsError('KERNEL_CONNECT_ARG_BAD_NUMBER', field, `${field}: ${value} is not a count`);
  }
  if (value > 0) tokens.push(intToken(name, field, value));
}

function hostIdentity(input: ConnectArgsInput): { hostnqn: string; hostid: string } {
  const hostnqn = input.tid.hostNqn !== '' ? input.tid.hostNqn : (input.host?.hostnqn ?? '');
  const hostid = input.tid.hostId !== '' ? input.tid.hostId : (input.host?.hostid ?? '');
  if ((hostnqn === '') !== (hostid === '')) {
    throw new ConnectArgsError(
      'KERNEL_CONNECT_HOST_IDENTITY',
      hostnqn === '' ? 'host-nqn' : 'host-id',
      'a host NQN and a host ID go together: the kernel refuses (6.12) or invents (6.1) the missing one',
    );
  }
  return { hostnqn, hostid };
}

function identityTokens(input: ConnectArgsInput): Token[] {
  const { tid } = input;
  const tokens: Token[] = [];
  if (tid.subsysnqn === '') {
    throw new ConnectArgsError(
      'KERNEL_CONNECT_ARG_MISSING',
      'subsysnqn',
      'subsysnqn: a subsystem NQN is required',
    );
  }
  tokens.push(stringToken('nqn', 'subsysnqn', tid.subsysnqn));
  tokens.push(stringToken('transport', 'transport', tid.transport));
  if (tid.traddr !== '') {
    tokens.push(stringToken('traddr', 'traddr', tid.traddr));
  } else if (tid.transport !== 'loop') {
    throw new ConnectArgsError(
      'KERNEL_CONNECT_ARG_MISSING',
      'traddr',
      `traddr: required for ${tid.transport}`,
    );
  }
  if (tid.trsvcid !== '') tokens.push(stringToken('trsvcid', 'trsvcid', tid.trsvcid));
  if (tid.hostTraddr !== '') tokens.push(stringToken('host_traddr', 'host-traddr', tid.hostTraddr));
  if (tid.hostIface !== '') tokens.push(stringToken('host_iface', 'host-iface', tid.hostIface));
  const { hostnqn, hostid } = hostIdentity(input);
  if (hostnqn !== '') {
    tokens.push(stringToken('hostnqn', 'host-nqn', hostnqn));
    tokens.push(stringToken('hostid', 'host-id', hostid));
  }
  return tokens;
}

function optionTokens(input: ConnectArgsInput): Token[] {
  const { tid, role, options } = input;
  const tokens: Token[] = [];
  positive(tokens, 'keep_alive_tmo', 'kato', options.kato);
  const queueSize = options['queue-size'];
  if (queueSize !== null && queueSize !== undefined)
    tokens.push(intToken('queue_size', 'queue-size', queueSize));
  if (role === 'io') {
    positive(tokens, 'nr_io_queues', 'nr-io-queues', options['nr-io-queues']);
    positive(tokens, 'nr_write_queues', 'nr-write-queues', options['nr-write-queues']);
    positive(tokens, 'nr_poll_queues', 'nr-poll-queues', options['nr-poll-queues']);
  }
  positive(tokens, 'reconnect_delay', 'reconnect-delay', options['reconnect-delay']);
  const ctrlLossTmo = options['ctrl-loss-tmo'];
  if (ctrlLossTmo !== null && ctrlLossTmo !== undefined && tid.transport !== 'loop') {
    tokens.push(intToken('ctrl_loss_tmo', 'ctrl-loss-tmo', ctrlLossTmo));
  }
  if (options['disable-sqflow'] === true) tokens.push({ name: 'disable_sqflow' });
  if (tid.transport === 'tcp') {
    if (options['hdr-digest'] === true) tokens.push({ name: 'hdr_digest' });
    if (options['data-digest'] === true) tokens.push({ name: 'data_digest' });
  }
  return tokens;
}

function secretTokens(secrets: ConnectSecrets | undefined): Token[] {
  const host = secrets?.dhchapSecret ?? null;
  const ctrl = secrets?.dhchapCtrlSecret ?? null;
  if (ctrl !== null && host === null) {
    throw new ConnectArgsError(
      'KERNEL_CONNECT_CTRL_SECRET_ALONE',
      'dhchap-ctrl-secret',
      'dhchap-ctrl-secret: bidirectional authentication needs a host secret (dhchap-secret) as well',
    );
  }
  const tokens: Token[] = [];
  if (host !== null) tokens.push(secretToken('dhchap_secret', 'dhchap-secret', host));
  if (ctrl !== null) tokens.push(secretToken('dhchap_ctrl_secret', 'dhchap-ctrl-secret', ctrl));
  return tokens;
}

function render(tokens: readonly Token[], redact: boolean): string {
  return tokens
    .map((t) => {
      if (t.value === undefined) return t.name;
      return `${t.name}=${redact && t.secret === true ? REDACTED : t.value}`;
    })
    .join(',');
}

/** Build the /dev/nvme-fabrics option string (see the module header). Throws ConnectArgsError. */
export function buildConnectArgs(input: ConnectArgsInput): ConnectArgs {
  const wanted: Token[] = [...identityTokens(input), ...optionTokens(input), ...secretTokens(input.secrets)];
  if (input.role === 'discovery' && input.tid.subsysnqn !== WELL_KNOWN_DISCOVERY_NQN) {
    wanted.push({ name: 'discovery' });
  }
  const sent = wanted.filter((t) => REQUIRED.has(t.name) || input.supported.has(t.name));
  const omitted = wanted.filter((t) => !sent.includes(t)).map((t) => t.name);
  const text = render(sent, false);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_CONNECT_STRING_BYTES) {
    throw new ConnectArgsError(
      'KERNEL_CONNECT_TOO_LONG',
      'connect-string',
      `the connect string is ${bytes} bytes; the kernel takes at most ${MAX_CONNECT_STRING_BYTES}`,
    );
  }
  const args = { redacted: render(sent, true), omitted: Object.freeze(omitted) };
  Object.defineProperty(args, 'text', { value: text, enumerable: false });
  return Object.freeze(args) as ConnectArgs;
}

/**
 * Replace the values of secret options in any connect string (e.g. one read
 * back from a log or a kernel message) with `[redacted]`.
 */
export function redactConnectString(text: string): string {
  return text.replace(/(^|[,\n])(dhchap_secret|dhchap_ctrl_secret)=[^,\n]*/g, `$1$2=${REDACTED}`);
}
