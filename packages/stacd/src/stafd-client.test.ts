import { describe, expect, it } from 'vitest';
import { BusError } from '@stas/common/dbus/bus-error';
import type { StafdCaller } from './stafd-client.js';
import { fetchStafdPages } from './stafd-client.js';

function answering(result: string | Error): StafdCaller {
  return {
    callMethod: (() =>
      result instanceof Error
        ? Promise.reject(result)
        : Promise.resolve(result)) as StafdCaller['callMethod'],
  };
}

describe('fetchStafdPages', () => {
  it('is not-running without a bus connection or when nobody owns the name', async () => {
    expect((await fetchStafdPages(null)).discovered).toMatchObject({ ok: false, reason: 'not-running' });
    const gone = answering(new BusError('DBUS_SERVICE_UNKNOWN', 'org.nvmexpress.staf: ServiceUnknown'));
    expect((await fetchStafdPages(gone)).discovered).toMatchObject({ ok: false, reason: 'not-running' });
  });

  it('is timeout or error for the other failures, never an empty list', async () => {
    const slow = answering(new BusError('DBUS_TIMEOUT', 'no reply'));
    expect((await fetchStafdPages(slow)).discovered).toMatchObject({ ok: false, reason: 'timeout' });
    for (const bad of [new BusError('DBUS_ACCESS_DENIED', 'denied'), new Error('boom'), '{}', 'not json']) {
      expect((await fetchStafdPages(answering(bad))).discovered).toMatchObject({
        ok: false,
        reason: 'error',
      });
    }
  });

  it('returns the pages of a good answer, with problems for unreadable parts', async () => {
    const r = await fetchStafdPages(answering('[{"discovery-controller": 1}]'));
    expect(r.discovered).toMatchObject({ ok: true, value: [{ state: 'unknown' }] });
    expect(r.problems).toHaveLength(1);
    expect((await fetchStafdPages(answering('[]'))).discovered).toEqual({ ok: true, value: [] });
  });
});
