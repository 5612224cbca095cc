import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SYSTEM_BUS_ADDRESS,
  parseAddressList,
  resolveSystemBusAddress,
  unixSocketPathOf,
} from './bus-address.js';
import { BusError } from './bus-error.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof BusError) return err.code;
    throw err;
  }
  throw new Error('expected a BusError');
}

describe('resolveSystemBusAddress', () => {
  const env = { DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/from/env' };

  it('prefers the explicit option over the environment and the default', () => {
    expect(resolveSystemBusAddress('unix:path=/opt', env)).toBe('unix:path=/opt');
  });

  it('uses DBUS_SYSTEM_BUS_ADDRESS when no option is given', () => {
    expect(resolveSystemBusAddress(undefined, env)).toBe('unix:path=/from/env');
  });

  it('falls back to /run/dbus/system_bus_socket, treating empty values as unset', () => {
    expect(resolveSystemBusAddress('', { DBUS_SYSTEM_BUS_ADDRESS: '' })).toBe(DEFAULT_SYSTEM_BUS_ADDRESS);
    expect(DEFAULT_SYSTEM_BUS_ADDRESS).toBe('unix:path=/run/dbus/system_bus_socket');
  });
});

describe('parseAddressList', () => {
  it('splits entries and key=value pairs and unescapes %-escapes', () => {
    const entries = parseAddressList('unix:path=/tmp/a%20b,guid=1234;tcp:host=localhost,port=1');
    expect(entries.map((e) => [e.transport, Object.fromEntries(e.params)])).toEqual([
      ['unix', { path: '/tmp/a b', guid: '1234' }],
      ['tcp', { host: 'localhost', port: '1' }],
    ]);
  });

  it('rejects an entry without transport, a pair without key and a bad escape', () => {
    expect(codeOf(() => parseAddressList('path=/x'))).toBe('DBUS_ADDRESS_UNSUPPORTED');
    expect(codeOf(() => parseAddressList('unix:=x'))).toBe('DBUS_ADDRESS_UNSUPPORTED');
    expect(codeOf(() => parseAddressList('unix:path=/x%2'))).toBe('DBUS_ADDRESS_UNSUPPORTED');
  });
});

describe('unixSocketPathOf', () => {
  it('returns the path of the first unix:path= entry, skipping unusable ones', () => {
    expect(unixSocketPathOf('unix:path=/run/dbus/system_bus_socket')).toBe('/run/dbus/system_bus_socket');
    expect(unixSocketPathOf('unix:abstract=/tmp/x;unix:path=/tmp/bus.sock,guid=ab')).toBe('/tmp/bus.sock');
  });

  it('refuses abstract, tmpdir and tcp addresses', () => {
    for (const address of [
      'unix:abstract=/tmp/dbus-1',
      'unix:tmpdir=/tmp',
      'tcp:host=localhost,port=55',
      '',
    ]) {
      expect(
        codeOf(() => unixSocketPathOf(address)),
        address,
      ).toBe('DBUS_ADDRESS_UNSUPPORTED');
    }
  });

  it('refuses a path the library could not carry (, ; =)', () => {
    expect(codeOf(() => unixSocketPathOf('unix:path=/tmp/a%2Cb'))).toBe('DBUS_ADDRESS_UNSUPPORTED');
    expect(codeOf(() => unixSocketPathOf('unix:path=/tmp/a%3Db'))).toBe('DBUS_ADDRESS_UNSUPPORTED');
  });
});
