/**
 * The `controller=` and `exclude=` value grammar of stafd.conf/stacd.conf
 * (behaviour spec §1.4, §1.5): `key=value` fields separated by `;`.
 *
 * Pure: strings in, data out; never throws, never logs. Problems are returned
 * as messages for the caller to turn into Diagnostics (it knows file and
 * line). Messages never repeat a value that looks like a secret.
 *
 * Differences from nvme-stas, on purpose:
 * - A token is split at its FIRST `=`, so values may contain `=` (DHCHAP
 *   secrets `DHHC-1:01:abc==:`; nvme-stas dropped them: §9 C2). A token
 *   without `=` or with an empty key is reported, not silently dropped (C3).
 * - Keys are case-insensitive (folded to lower case), like every other INI
 *   key: `Transport=TCP` is `transport=tcp`, not an unknown key.
 * - `,` is still not a separator, but `transport=tcp,traddr=…` is reported
 *   with a hint to use `;`.
 * - `controllerFromSpec` validates the identity fields (see there); an entry
 *   with an unusable field yields no TID instead of a broken connection.
 *   Unknown keys are reported and dropped (nvme-stas kept them, shown on D-Bus).
 * - `exclusionFromSpec` keeps `host-traddr` (nvme-stas removed it); an empty
 *   entry, or one with a key that is not a TID field, matches NOTHING (nvme-
 *   stas: an empty entry matched everything, §9 C5).
 *
 * Contract of `problems`: when `controllerFromSpec` returns a `tid`, its
 * problems are warnings (the entry is used as shown); without a `tid` they
 * are errors (the entry is ignored). `exclusionFromSpec` likewise: an empty
 * `filter` means the entry is ignored.
 *
 * Tests: controller-spec.test.ts
 */
import { isValidHostName } from '../net/host-name.js';
import { isValidIfName } from '../net/ifname.js';
import { isLinkLocal, isUnspecified, parseIpAddress } from '../net/ip-address.js';
import type { Tid, TidRole, Transport } from '../nvme/tid.js';
import { createTid, isTidFilterKey, isTransport, TID_FILTER_KEYS } from '../nvme/tid.js';

/** Keys of `controller=` that form the TID (`nqn` is accepted as an alias of `subsysnqn`). */
export const CONTROLLER_IDENTITY_KEYS = [
  'transport',
  'traddr',
  'trsvcid',
  'subsysnqn',
  'host-traddr',
  'host-iface',
  'host-nqn',
  'host-id',
] as const;

/** Per-controller connection options; passed on untouched in `overrides` for the option layer to validate. */
export const CONTROLLER_OVERRIDE_KEYS = [
  'hdr-digest',
  'data-digest',
  'kato',
  'queue-size',
  'nr-io-queues',
  'nr-write-queues',
  'nr-poll-queues',
  'reconnect-delay',
  'ctrl-loss-tmo',
  'disable-sqflow',
  'dhchap-secret',
  'dhchap-ctrl-secret',
] as const;

/** NQN limit from the NVMe base specification (NVMF_NQN_SIZE 223 bytes, UTF-8). */
export const NQN_MAX_BYTES = 223;

const IDENTITY = new Set<string>(CONTROLLER_IDENTITY_KEYS);
const OVERRIDES = new Set<string>(CONTROLLER_OVERRIDE_KEYS);
const KNOWN = new Set<string>([...IDENTITY, ...OVERRIDES, 'nqn']);

const encoder = new TextEncoder();
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LOOKS_SECRET = /DHHC-1:|NVMeTLSkey-1:/i;
const KEY_NAME = /^[a-z0-9][a-z0-9_-]*$/;
const COMMA_FIELD = /,\s*([A-Za-z][A-Za-z0-9_-]*)\s*=/;
const TRANSPORT_LIST = 'tcp, rdma, fc or loop';

function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (run) => run.toLowerCase());
}

/** A token for a message, unless it looks like a secret. */
function shown(token: string): string {
  return LOOKS_SECRET.test(token) ? '<secret>' : `'${token}'`;
}

function unknownKeyProblem(key: string, where: string): string {
  const dashed = key.replace(/_/g, '-');
  const hint = dashed !== key && KNOWN.has(dashed) ? ` (did you mean '${dashed}'?)` : '';
  return `unknown key '${key}' in ${where}${hint}`;
}

export interface ControllerSpecTokens {
  /** Lower-case key → value, in first-appearance order; `nqn` already renamed to `subsysnqn`. */
  readonly fields: Map<string, string>;
  readonly problems: string[];
}

/**
 * Split a `controller=`/`exclude=` value into fields. `;` separates tokens
 * (blanks around them stripped, empty tokens ignored); each token splits at
 * its first `=` into key (lower-cased; letters, digits, `-`, `_`) and value
 * (both stripped); other tokens are reported and skipped. A repeated
 * key: the later value wins. `nqn` is renamed `subsysnqn`; if both are given,
 * `nqn` wins whatever the order (as in nvme-stas).
 */
export function parseControllerSpec(value: string): ControllerSpecTokens {
  const raw = new Map<string, string>();
  const problems: string[] = [];
  for (const part of value.split(';')) {
    const token = part.trim();
    if (token === '') continue;
    const eq = token.indexOf('=');
    if (eq === -1) {
      problems.push(`token ${shown(token)} has no '='`);
      continue;
    }
    const key = asciiLower(token.slice(0, eq).trim());
    const val = token.slice(eq + 1).trim();
    if (key === '') {
      problems.push(`token ${shown(token)} has an empty key`);
      continue;
    }
    if (!KEY_NAME.test(key)) {
      problems.push(`token ${shown(token)} has an invalid key (letters, digits, '-' and '_' only)`);
      continue;
    }
    if (raw.has(key)) problems.push(`key '${key}' is given more than once; the last value is used`);
    const comma = COMMA_FIELD.exec(val);
    if (comma !== null) {
      const next = asciiLower(comma[1] ?? '');
      problems.push(`value of '${key}' contains ',${next}=': separate fields with ';', not ','`);
    }
    raw.set(key, val);
  }

  const nqn = raw.get('nqn');
  if (nqn !== undefined && raw.has('subsysnqn')) {
    problems.push(`both 'nqn' and 'subsysnqn' are given; 'nqn' is used`);
  }
  const fields = new Map<string, string>();
  for (const [key, val] of raw) {
    if (key === 'nqn') fields.set('subsysnqn', val);
    else if (key !== 'subsysnqn' || nqn === undefined) fields.set(key, val);
  }
  return { fields, problems };
}

/** Problem with an NQN-like field, or null if acceptable. */
function nqnProblem(label: string, value: string): string | null {
  if (value.includes(',') || value.includes('=')) return `${label} must not contain ',' or '='`;
  if (CONTROL.test(value)) return `${label} must not contain control characters`;
  const bytes = encoder.encode(value).length;
  if (bytes > NQN_MAX_BYTES) return `${label} is ${bytes} bytes long; the limit is ${NQN_MAX_BYTES}`;
  return null;
}

function portProblem(value: string): string | null {
  if (!/^[0-9]{1,5}$/.test(value)) return `trsvcid '${value}' is not a port number (1..65535)`;
  const port = Number(value);
  return port >= 1 && port <= 65535 ? null : `trsvcid '${value}' is not a port number (1..65535)`;
}

export interface ControllerFromSpec {
  /** Present when the entry is usable; absent when any problem is an error. */
  readonly tid?: Tid;
  /** Per-controller options (CONTROLLER_OVERRIDE_KEYS), values untouched. */
  readonly overrides: Map<string, string>;
  readonly problems: string[];
}

/**
 * Turn `controller=` fields into a TID plus per-controller option overrides.
 *
 * Errors (no TID): missing or unknown transport (case-insensitive); missing
 * traddr (except loop); tcp/rdma traddr that is neither an IP literal nor a
 * host name, or is 0.0.0.0/::; trsvcid (tcp/rdma) not 1..65535; missing
 * subsysnqn for role io; an NQN-like field (subsysnqn, host-nqn, fc traddr and
 * host-traddr) with `,`, `=`, control characters or over 223 bytes; host-id
 * not a UUID; tcp/rdma host-traddr not an IP literal; host-iface not a valid
 * interface name.
 * Warnings (TID kept): trsvcid given for fc/loop (ignored); host-iface with a
 * transport other than tcp; link-local traddr with neither `%scope` nor
 * host-iface; unknown keys (dropped); duplicate/alias notes come from the
 * tokeniser, not from here.
 * trsvcid defaults: see `defaultTrsvcid` (tcp I/O → 4420, tcp discovery → 8009).
 */
export function controllerFromSpec(fields: ReadonlyMap<string, string>, role: TidRole): ControllerFromSpec {
  const errors: string[] = [];
  const warnings: string[] = [];
  const overrides = new Map<string, string>();

  for (const [key, value] of fields) {
    if (OVERRIDES.has(key)) overrides.set(key, value);
    else if (!IDENTITY.has(key) && key !== 'nqn') warnings.push(unknownKeyProblem(key, 'controller='));
  }

  const get = (key: string): string => fields.get(key) ?? '';
  const transportText = get('transport');
  const transport = asciiLower(transportText);
  if (transportText === '') errors.push(`transport= is missing (${TRANSPORT_LIST})`);
  else if (!isTransport(transport)) errors.push(`transport '${transportText}' is not ${TRANSPORT_LIST}`);
  if (!isTransport(transport)) return { overrides, problems: [...errors, ...warnings] };

  const traddr = get('traddr');
  const trsvcid = get('trsvcid');
  const subsysnqn = fields.get('nqn') ?? get('subsysnqn');
  const hostTraddr = get('host-traddr');
  const hostIface = get('host-iface');
  const hostNqn = get('host-nqn');
  const hostId = get('host-id');
  const ip = transport === 'tcp' || transport === 'rdma';

  checkTraddr(transport, traddr, hostIface, errors, warnings);

  if (ip && trsvcid !== '') {
    const problem = portProblem(trsvcid);
    if (problem !== null) errors.push(problem);
  } else if (!ip && trsvcid !== '') {
    warnings.push(`trsvcid is not used with ${transport}; '${trsvcid}' is ignored`);
  }

  if (subsysnqn === '' && role === 'io')
    errors.push('subsysnqn= (or nqn=) is required for an I/O controller');
  for (const [label, value] of [
    ['subsysnqn', subsysnqn],
    ['host-nqn', hostNqn],
  ] as const) {
    const problem = value === '' ? null : nqnProblem(label, value);
    if (problem !== null) errors.push(problem);
  }

  if (hostId !== '' && !UUID.test(hostId)) errors.push(`host-id '${hostId}' is not a UUID`);

  if (hostTraddr !== '') {
    if (ip && parseIpAddress(hostTraddr) === null) {
      errors.push(`host-traddr '${hostTraddr}' is not an IP address`);
    } else if (!ip) {
      const problem = nqnProblem('host-traddr', hostTraddr);
      if (problem !== null) errors.push(problem);
    }
  }

  if (hostIface !== '') {
    if (!isValidIfName(hostIface)) errors.push(`host-iface '${hostIface}' is not a valid interface name`);
    else if (transport !== 'tcp') warnings.push(`host-iface is only used with tcp, not ${transport}`);
  }

  const problems = [...errors, ...warnings];
  if (errors.length > 0) return { overrides, problems };
  const tid = createTid(
    { transport, traddr, trsvcid, subsysnqn, hostTraddr, hostIface, hostNqn, hostId },
    { role },
  );
  return { tid, overrides, problems };
}

function checkTraddr(
  transport: Transport,
  traddr: string,
  hostIface: string,
  errors: string[],
  warnings: string[],
): void {
  if (transport === 'loop') {
    const problem = traddr === '' ? null : nqnProblem('traddr', traddr);
    if (problem !== null) errors.push(problem);
    return;
  }
  if (traddr === '') {
    errors.push(`traddr= is required for ${transport}`);
    return;
  }
  if (transport === 'fc') {
    const problem = nqnProblem('traddr', traddr);
    if (problem !== null) errors.push(problem);
    return;
  }
  const address = parseIpAddress(traddr);
  if (address === null) {
    if (!isValidHostName(traddr)) errors.push(`traddr '${traddr}' is not an IP address or host name`);
  } else if (isUnspecified(address)) {
    errors.push(`traddr '${traddr}' is the unspecified address`);
  } else if (
    address.family === 6 &&
    isLinkLocal(address) &&
    address.scope === undefined &&
    hostIface === ''
  ) {
    warnings.push(`traddr '${traddr}' is link-local: add '%<interface>' or host-iface= to say which link`);
  }
}

export interface ExclusionFromSpec {
  /** Filter for `tidMatchesFilter`: TID_FILTER_KEYS names → value. Empty = entry ignored (matches nothing). */
  readonly filter: Map<string, string>;
  readonly problems: string[];
}

/**
 * Turn `exclude=` fields into a match filter. Usable keys: transport, traddr,
 * trsvcid, subsysnqn (nqn), host-traddr, host-iface, host-nqn, host-id.
 * An entry with no fields, or with any other key (a per-controller option
 * such as kato, or a typo), is ignored as a whole: dropping just the bad key
 * would widen the exclusion. A transport value that is not one of the four is
 * reported (the entry then matches nothing).
 */
export function exclusionFromSpec(fields: ReadonlyMap<string, string>): ExclusionFromSpec {
  if (fields.size === 0)
    return { filter: new Map<string, string>(), problems: ['empty exclude= matches nothing; ignored'] };
  const problems: string[] = [];
  const filter = new Map<string, string>();
  let usable = true;
  for (const [key, value] of fields) {
    if (!isTidFilterKey(key)) {
      const why = OVERRIDES.has(key)
        ? `'${key}' cannot be used in exclude=`
        : unknownKeyProblem(key, 'exclude=');
      problems.push(`${why}; this exclude= entry is ignored`);
      usable = false;
      continue;
    }
    const name = key === 'nqn' ? 'subsysnqn' : key;
    if (TID_FILTER_KEYS[key] === 'transport' && !isTransport(asciiLower(value))) {
      problems.push(`transport '${value}' is not ${TRANSPORT_LIST}; this exclude= entry matches nothing`);
    }
    filter.set(name, value);
  }
  return { filter: usable ? filter : new Map<string, string>(), problems };
}
