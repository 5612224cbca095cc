/**
 * Paces discovery session opens: at most `perTurn` opens start in one event-loop turn, the others wait
 * (first come, first served) for the following turns. Opening a session costs CPU (socket, endpoint,
 * session state) and so does its failure a moment later; when hundreds of DCs start or retry at once (an
 * mDNS burst, a retry storm after a network outage) opening them all in one turn would hold the loop
 * and D-Bus callers would wait. Between two slices the loop polls I/O, so D-Bus calls are answered.
 * Opens pinned to an interface (host-iface: every mDNS DC unless ignore-iface) share one reading of
 * the interface table per turn instead of one system call and copy each.
 *
 * Touches nothing but setImmediate (one pending at most) and the interface table reader it is given.
 * An open whose signal aborts while it waits rejects at once with the signal's reason (ABORTED when
 * that is not an Error) and never starts; otherwise the paced open settles as the wrapped one does.
 *
 * Used by: daemon.ts
 * Tests:   open-pacer.test.ts
 */
import { StasError } from '@stas/common/errors';
import type { InterfaceTable } from '@stas/common/nvme/session/endpoint';
import type { DcSession, OpenSession } from './dc-session.js';

type OpenArgs = Parameters<OpenSession>;

/** The signal's reason when it is an Error (what the wrapped open would reject with), else ABORTED. */
function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new StasError('ABORTED', 'session open aborted');
}

interface Waiter {
  readonly args: OpenArgs;
  readonly resolve: (session: DcSession) => void;
  readonly reject: (err: unknown) => void;
  readonly unlisten: () => void;
}

export interface OpenPacer {
  /** Same contract as the wrapped OpenSession. */
  readonly open: OpenSession;
  /** Opens waiting for a later turn. */
  readonly waiting: number;
}

/**
 * Wraps `open` so that at most `perTurn` (≥ 1) opens start per event-loop turn. `interfaces` (e.g.
 * os.networkInterfaces) is read at most once per turn for the opens that need it and pass none.
 */
export function pacedOpen(open: OpenSession, perTurn: number, interfaces?: () => InterfaceTable): OpenPacer {
  const limit = Math.max(1, Math.floor(perTurn));
  const queue: Waiter[] = [];
  let startedThisTurn = 0;
  let turnArmed = false;
  let table: InterfaceTable | undefined;

  const start = (...[options, control]: OpenArgs): Promise<DcSession> => {
    try {
      if (interfaces === undefined || options.interfaces !== undefined) return open(options, control);
      if (options.hostIface === undefined || options.hostIface === '') return open(options, control);
      table ??= interfaces();
      return open({ ...options, interfaces: table }, control);
    } catch (err) {
      // A reader or an open that throws instead of rejecting: still a rejection, never an exception.
      return Promise.reject(err instanceof Error ? err : new StasError('ERROR', String(err)));
    }
  };

  const armTurn = (): void => {
    if (turnArmed) return;
    turnArmed = true;
    setImmediate(() => {
      turnArmed = false;
      startedThisTurn = 0;
      table = undefined;
      while (startedThisTurn < limit && queue.length > 0) {
        const w = queue.shift();
        if (w === undefined) break;
        w.unlisten();
        startedThisTurn++;
        start(...w.args).then(w.resolve, w.reject);
      }
      // Keep counting while opens start (or wait): the next turn gets a fresh allowance.
      if (startedThisTurn > 0 || queue.length > 0) armTurn();
    });
  };

  const paced: OpenSession = (options, control) => {
    const signal = control.signal;
    if (signal?.aborted === true) return Promise.reject(abortError(signal));
    if (startedThisTurn < limit && queue.length === 0) {
      startedThisTurn++;
      armTurn();
      return start(options, control);
    }
    return new Promise<DcSession>((resolve, reject) => {
      const onAbort = (): void => {
        const i = queue.indexOf(waiter);
        if (i !== -1) queue.splice(i, 1);
        if (signal !== undefined) reject(abortError(signal));
      };
      const waiter: Waiter = {
        args: [options, control],
        resolve,
        reject,
        unlisten: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(waiter);
      armTurn();
    });
  };

  return {
    open: paced,
    get waiting() {
      return queue.length;
    },
  };
}
