import { describe, expect, it } from 'vitest';
import { StasError } from '../errors.js';
import {
  BusError,
  errorFromReply,
  ServiceError,
  serviceErrorName,
  SERVICE_ERROR_KINDS,
} from './bus-error.js';

describe('errorFromReply', () => {
  it.each([
    ['org.freedesktop.DBus.Error.AccessDenied', 'DBUS_ACCESS_DENIED'],
    ['org.freedesktop.DBus.Error.ServiceUnknown', 'DBUS_SERVICE_UNKNOWN'],
    ['org.freedesktop.DBus.Error.NameHasNoOwner', 'DBUS_SERVICE_UNKNOWN'],
    ['org.freedesktop.DBus.Error.UnknownMethod', 'DBUS_UNKNOWN_MEMBER'],
    ['org.freedesktop.DBus.Error.UnknownObject', 'DBUS_UNKNOWN_MEMBER'],
    ['org.freedesktop.DBus.Error.NoReply', 'DBUS_TIMEOUT'],
    ['org.freedesktop.DBus.Error.LimitsExceeded', 'DBUS_LIMITS_EXCEEDED'],
    ['org.freedesktop.DBus.Error.InvalidArgs', 'DBUS_INVALID_ARGS'],
    ['org.nvmexpress.staf.Error.NotFound', 'DBUS_REMOTE_ERROR'],
  ])('classifies %s as %s', (name, code) => {
    expect(errorFromReply(name, 'text', 'call').code).toBe(code);
  });

  it('keeps the remote name and text and names the call in the message', () => {
    const err = errorFromReply(
      'org.freedesktop.DBus.Error.AccessDenied',
      'Rejected send message',
      'stafd Set',
    );
    expect(err).toBeInstanceOf(StasError);
    expect(err).toMatchObject({
      remoteName: 'org.freedesktop.DBus.Error.AccessDenied',
      remoteText: 'Rejected send message',
    });
    expect(err.message).toBe('stafd Set: org.freedesktop.DBus.Error.AccessDenied: Rejected send message');
  });
});

describe('service errors', () => {
  it('name errors <prefix>.<Kind> for every kind', () => {
    expect(SERVICE_ERROR_KINDS.map((k) => serviceErrorName('org.nvmexpress.staf.Error', k))).toEqual([
      'org.nvmexpress.staf.Error.InvalidArgs',
      'org.nvmexpress.staf.Error.NotFound',
      'org.nvmexpress.staf.Error.AccessDenied',
      'org.nvmexpress.staf.Error.NotReady',
      'org.nvmexpress.staf.Error.Failed',
      'org.nvmexpress.staf.Error.Internal',
    ]);
  });

  it('carry their kind and a stable code', () => {
    const err = new ServiceError('NotFound', 'no such controller');
    expect(err).toMatchObject({
      kind: 'NotFound',
      code: 'DBUS_SERVICE_ERROR',
      message: 'no such controller',
    });
    expect(new BusError('DBUS_TIMEOUT', 'x').name).toBe('BusError');
  });
});
