import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { createNotifier } from './sd-notify.js';
import { DatagramReceiver, unixAddress } from './unix-datagram.js';

const receivers: DatagramReceiver[] = [];
afterEach(() => {
  for (const r of receivers.splice(0)) r.close();
});

function listen(path: string): DatagramReceiver {
  const r = new DatagramReceiver(path);
  receivers.push(r);
  return r;
}

const options = (env: Record<string, string>, onError?: (err: unknown) => void) => ({
  env,
  pid: 4242,
  monotonicUsec: () => 123n,
  ...(onError === undefined ? {} : { onError }),
});

describe('createNotifier', () => {
  it('sends READY, RELOADING with MONOTONIC_USEC, STOPPING and STATUS in order to an abstract socket', () => {
    const path = `@stas-notify-test-${process.pid}-${Date.now()}`;
    const receiver = listen(path);
    const n = createNotifier(options({ NOTIFY_SOCKET: path }));
    expect(n.enabled).toBe(true);
    n.ready('serving');
    n.reloading();
    n.ready();
    n.status('2 controllers');
    n.stopping();
    expect(receiver.drain()).toEqual([
      'READY=1\nSTATUS=serving',
      'RELOADING=1\nMONOTONIC_USEC=123',
      'READY=1',
      'STATUS=2 controllers',
      'STOPPING=1',
    ]);
  });

  it('sends to a socket file too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stas-notify-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'notify');
    const receiver = listen(path);
    createNotifier(options({ NOTIFY_SOCKET: path })).watchdog();
    expect(receiver.drain()).toEqual(['WATCHDOG=1']);
  });

  it('does nothing without NOTIFY_SOCKET', () => {
    const n = createNotifier(options({}));
    expect(n.enabled).toBe(false);
    expect(() => {
      n.ready();
    }).not.toThrow();
  });

  it('reports a failed send instead of throwing', () => {
    const errors: unknown[] = [];
    createNotifier(options({ NOTIFY_SOCKET: '@stas-nobody-listens-here' }, (e) => errors.push(e))).ready();
    expect(errors).toHaveLength(1);
  });

  it('derives the watchdog interval from WATCHDOG_USEC for this pid only', () => {
    expect(
      createNotifier(options({ NOTIFY_SOCKET: '@x', WATCHDOG_USEC: '20000000' })).watchdogIntervalMs,
    ).toBe(10_000);
    expect(
      createNotifier(options({ NOTIFY_SOCKET: '@x', WATCHDOG_USEC: '20000000', WATCHDOG_PID: '4242' }))
        .watchdogIntervalMs,
    ).toBe(10_000);
    expect(
      createNotifier(options({ NOTIFY_SOCKET: '@x', WATCHDOG_USEC: '20000000', WATCHDOG_PID: '1' }))
        .watchdogIntervalMs,
    ).toBeNull();
    expect(createNotifier(options({ WATCHDOG_USEC: '20000000' })).watchdogIntervalMs).toBeNull();
  });
});

describe('unixAddress', () => {
  it('refuses empty and over-long paths', () => {
    expect(unixAddress('')).toBeNull();
    expect(unixAddress('/' + 'x'.repeat(200))).toBeNull();
    expect(unixAddress('@a')?.len).toBe(4);
    expect(unixAddress('/a')?.len).toBe(5);
  });
});
