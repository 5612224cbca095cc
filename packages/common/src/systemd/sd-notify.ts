/**
 * systemd readiness protocol (sd_notify): READY=1 once the daemon serves,
 * RELOADING=1 … READY=1 around a SIGHUP reload, STOPPING=1 on the way out,
 * STATUS= lines for `systemctl status`, and WATCHDOG=1 pings when the unit
 * sets WatchdogSec.
 *
 * A no-op when $NOTIFY_SOCKET is unset (not started by systemd). A failed send
 * is reported to the caller's `onError`, never thrown: readiness notification
 * must not take a daemon down.
 *
 * Tests: sd-notify.test.ts
 */
import { sendDatagram } from './unix-datagram.js';

export interface Notifier {
  readonly enabled: boolean;
  ready(status?: string): void;
  reloading(status?: string): void;
  stopping(status?: string): void;
  status(text: string): void;
  watchdog(): void;
  /** The watchdog ping interval (half of WATCHDOG_USEC) when systemd asked for pings to this process, else null. */
  readonly watchdogIntervalMs: number | null;
}

export interface NotifierOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly pid: number;
  /** Monotonic clock in microseconds, for RELOADING's MONOTONIC_USEC. */
  readonly monotonicUsec: () => bigint;
  readonly onError?: (err: unknown) => void;
}

export function createNotifier(options: NotifierOptions): Notifier {
  const socket = options.env['NOTIFY_SOCKET'];
  const enabled = socket !== undefined && socket !== '';
  const send = (message: string): void => {
    if (!enabled) return;
    try {
      sendDatagram(socket, message);
    } catch (err) {
      options.onError?.(err);
    }
  };
  const withStatus = (line: string, status?: string): string =>
    status === undefined ? line : `${line}\nSTATUS=${status.replace(/\n/g, ' ')}`;

  const watchdogUsec = Number(options.env['WATCHDOG_USEC'] ?? '');
  const watchdogPid = options.env['WATCHDOG_PID'];
  const forUs = watchdogPid === undefined || watchdogPid === '' || Number(watchdogPid) === options.pid;
  const watchdogIntervalMs =
    enabled && forUs && Number.isFinite(watchdogUsec) && watchdogUsec > 0
      ? Math.max(1, Math.floor(watchdogUsec / 2000))
      : null;

  return {
    enabled,
    watchdogIntervalMs,
    ready: (status) => {
      send(withStatus('READY=1', status));
    },
    reloading: (status) => {
      send(withStatus(`RELOADING=1\nMONOTONIC_USEC=${options.monotonicUsec()}`, status));
    },
    stopping: (status) => {
      send(withStatus('STOPPING=1', status));
    },
    status: (text) => {
      send(`STATUS=${text.replace(/\n/g, ' ')}`);
    },
    watchdog: () => {
      send('WATCHDOG=1');
    },
  };
}
