import { describe, expect, it } from 'vitest';
import { BusError } from '@stas/common/dbus/bus-error';
import { NOT_RUNNING_MESSAGE, failureLine } from './staf-client.js';

describe('failureLine', () => {
  it('tells "not running" from "permission denied" (T2)', () => {
    expect(failureLine(new BusError('DBUS_SERVICE_UNKNOWN', 'x'), 'list_controllers')).toBe(
      NOT_RUNNING_MESSAGE,
    );
    expect(NOT_RUNNING_MESSAGE).toBe(
      'stafd is not running (no owner for org.nvmexpress.staf on the system bus)',
    );
    expect(failureLine(new BusError('DBUS_ACCESS_DENIED', 'x'), 'setting tron to true')).toBe(
      'permission denied: setting tron to true is refused by the D-Bus policy of org.nvmexpress.staf (it needs root)',
    );
  });

  it('names bus trouble, timeouts and other errors', () => {
    expect(failureLine(new BusError('DBUS_CONNECT_FAILED', 'no socket'), 'ls')).toBe(
      'cannot connect to the system bus: no socket',
    );
    expect(failureLine(new BusError('DBUS_TIMEOUT', 't'), 'ls')).toBe('stafd did not answer in time (ls)');
    expect(
      failureLine(new BusError('DBUS_REMOTE_ERROR', 'm', { remoteText: 'internal error' }), 'status'),
    ).toBe('D-Bus call failed (status): internal error');
    expect(failureLine(new Error('boom'), 'ls')).toBe('ls failed: boom');
  });
});
