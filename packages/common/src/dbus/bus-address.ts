/**
 * Which system bus to talk to: the address precedence (explicit option > DBUS_SYSTEM_BUS_ADDRESS >
 * /run/dbus/system_bus_socket) and the parsing of a D-Bus server address list down to the one form our
 * library can use, a Unix socket path (`unix:path=`). Abstract sockets, `unix:tmpdir=`, `tcp:` and
 * `unixexec:` are refused: @particle/dbus-next connects through node:net without usocket (dependencies.md §1).
 *
 * Pure: the environment is passed in. Fails with BusError DBUS_ADDRESS_UNSUPPORTED.
 * Tests: bus-address.test.ts
 */
import { BusError } from './bus-error.js';

export const DEFAULT_SYSTEM_BUS_ADDRESS = 'unix:path=/run/dbus/system_bus_socket';
export const SYSTEM_BUS_ADDRESS_ENV = 'DBUS_SYSTEM_BUS_ADDRESS';

/** The address to use: `option` if given and non-empty, else the environment variable, else the default. */
export function resolveSystemBusAddress(
  option: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  if (option !== undefined && option !== '') return option;
  const fromEnv = env[SYSTEM_BUS_ADDRESS_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return DEFAULT_SYSTEM_BUS_ADDRESS;
}

/** One entry of a D-Bus address list: `transport:key=value,…` with values unescaped. */
export interface AddressEntry {
  readonly transport: string;
  readonly params: ReadonlyMap<string, string>;
}

function unescapeValue(raw: string, address: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const ch = raw.charCodeAt(i);
    if (raw[i] === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        throw new BusError('DBUS_ADDRESS_UNSUPPORTED', `bad %-escape in D-Bus address '${address}'`);
      }
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (ch > 0x7f) {
      throw new BusError('DBUS_ADDRESS_UNSUPPORTED', `non-ASCII character in D-Bus address '${address}'`);
    } else {
      bytes.push(ch);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Parse a D-Bus server address list (entries separated by `;`). Empty entries are skipped. */
export function parseAddressList(address: string): AddressEntry[] {
  const entries: AddressEntry[] = [];
  for (const entry of address.split(';')) {
    if (entry === '') continue;
    const colon = entry.indexOf(':');
    if (colon <= 0) {
      throw new BusError('DBUS_ADDRESS_UNSUPPORTED', `D-Bus address entry '${entry}' has no transport`);
    }
    const params = new Map<string, string>();
    const rest = entry.slice(colon + 1);
    for (const pair of rest === '' ? [] : rest.split(',')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) {
        throw new BusError(
          'DBUS_ADDRESS_UNSUPPORTED',
          `D-Bus address entry '${entry}' has a bad key=value pair`,
        );
      }
      params.set(pair.slice(0, eq), unescapeValue(pair.slice(eq + 1), address));
    }
    entries.push({ transport: entry.slice(0, colon), params });
  }
  return entries;
}

/**
 * The Unix socket path of the first `unix:path=` entry of `address`. Throws BusError
 * DBUS_ADDRESS_UNSUPPORTED when there is none, or when the path contains `,` `;` or `=` (which the
 * library's own address splitter cannot carry).
 */
export function unixSocketPathOf(address: string): string {
  const entries = parseAddressList(address);
  for (const entry of entries) {
    if (entry.transport !== 'unix') continue;
    const path = entry.params.get('path');
    if (path === undefined || path === '') continue;
    if (/[,;=\0]/.test(path)) {
      throw new BusError('DBUS_ADDRESS_UNSUPPORTED', `D-Bus socket path '${path}' contains , ; = or NUL`);
    }
    return path;
  }
  const seen = entries.map((e) => `${e.transport}:${[...e.params.keys()].join(',')}`).join('; ');
  throw new BusError(
    'DBUS_ADDRESS_UNSUPPORTED',
    `D-Bus address '${address}' has no unix:path= entry (found: ${seen === '' ? 'nothing' : seen}); ` +
      'abstract sockets, tmpdir, tcp and unixexec are not supported',
  );
}
