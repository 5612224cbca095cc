/**
 * The life of one Discovery Controller connection, as a pure state machine:
 * `step(state, event, ctx) → { state, effects }`.
 *
 * Effects are data (open a session, register, read the log page, arm a timer,
 * close, log a line); runner.ts carries them out and feeds the outcomes back
 * as events. Nothing here touches a socket, a timer or a clock: `ctx.now` and
 * `ctx.random` are inputs, so every path is unit-tested tick by tick.
 *
 * The flow: open the session (TCP, Connect, enable, Identify, AEN set-up) →
 * register with the DC when its DCTYPE says it takes DIM (TP8010) → read the
 * discovery log page → then either stay connected and re-read on each
 * discovery-change AEN (persistent connections, the default), or close and
 * poll again later (`persistent-connections = false`; chosen per DC by
 * configuration, not by EPCSD, because the Linux target sends change AENs
 * without setting EPCSD).
 * Failures: opening retries with backoff (fast at first: a DC announced over
 * mDNS may not listen yet; reset on success); a failed registration is retried
 * but does not hold back the log page (registration matters to the CDC, the
 * log page matters to this host); a failed read retries on its own timer; a
 * lost session starts over. An AEN during a read queues exactly one re-read.
 * Logging follows transitions: the first failure and the recovery are logged,
 * not every retry.
 *
 * Tests: machine.test.ts
 */
import type { BackoffPolicy } from '@stas/common/util/backoff';
import { nextDelayMs } from '@stas/common/util/backoff';

export type DcPhase =
  | 'idle' // created, not started
  | 'opening' // session being opened
  | 'registering'
  | 'reading' // log page being read
  | 'ready' // persistent: connected, waiting for AENs
  | 'waiting' // not connected, a retry or poll timer is armed
  | 'closing'
  | 'stopped';

export type Dctype = 'none' | 'ddc' | 'cdc';

export interface DcError {
  readonly code: string;
  readonly message: string;
}

export interface DcState {
  readonly phase: DcPhase;
  /** Consecutive failed attempts to open a session (0 after a success). */
  readonly openFailures: number;
  readonly readFailures: number;
  readonly registerFailures: number;
  readonly connected: boolean;
  readonly registered: boolean;
  /** An AEN (or resync) arrived while a read was in flight: read again when it ends. */
  readonly rereadPending: boolean;
  readonly dctype: Dctype | null;
  readonly lastError: DcError | null;
  readonly connectedSince: number | null;
  readonly lastLogAt: number | null;
}

export type DcTimer = 'retry-open' | 'retry-read' | 'retry-register' | 'poll';

export type DcEffect =
  | { readonly kind: 'open-session' }
  | { readonly kind: 'register' }
  | { readonly kind: 'read-log' }
  | { readonly kind: 'close-session'; readonly deregister: boolean }
  | { readonly kind: 'arm-timer'; readonly timer: DcTimer; readonly ms: number }
  | { readonly kind: 'cancel-timers' }
  | { readonly kind: 'log'; readonly level: 'info' | 'warn' | 'debug'; readonly message: string };

export type DcEvent =
  | { readonly kind: 'start' }
  | { readonly kind: 'opened'; readonly dctype: Dctype }
  | { readonly kind: 'open-failed'; readonly error: DcError }
  | { readonly kind: 'registered' }
  | { readonly kind: 'register-failed'; readonly error: DcError; readonly retry: boolean }
  | { readonly kind: 'log-read'; readonly entries: number; readonly changed: boolean }
  | { readonly kind: 'log-failed'; readonly error: DcError }
  | { readonly kind: 'aen' }
  | { readonly kind: 'session-lost'; readonly error: DcError }
  | { readonly kind: 'timer'; readonly timer: DcTimer }
  /** Re-register and re-read (SIGHUP, symbolic name changed). */
  | { readonly kind: 'resync' }
  | { readonly kind: 'stop' }
  | { readonly kind: 'closed' };

export interface DcPolicy {
  readonly persistent: boolean;
  /** Register with DCs whose DCTYPE is ddc or cdc. */
  readonly register: boolean;
  readonly openBackoff: BackoffPolicy;
  readonly readRetryMs: number;
  readonly registerRetryMs: number;
  /** Poll interval when connections are not persistent. */
  readonly pollMs: number;
}

export interface StepContext {
  readonly now: number;
  readonly random: () => number;
  readonly policy: DcPolicy;
}

export interface Step {
  readonly state: DcState;
  readonly effects: readonly DcEffect[];
}

export const INITIAL_DC_STATE: DcState = {
  phase: 'idle',
  openFailures: 0,
  readFailures: 0,
  registerFailures: 0,
  connected: false,
  registered: false,
  rereadPending: false,
  dctype: null,
  lastError: null,
  connectedSince: null,
  lastLogAt: null,
};

const takesDim = (dctype: Dctype | null): boolean => dctype === 'ddc' || dctype === 'cdc';

export function step(state: DcState, event: DcEvent, ctx: StepContext): Step {
  if (state.phase === 'stopped') return { state, effects: [] };
  const { policy } = ctx;

  switch (event.kind) {
    case 'start':
      if (state.phase !== 'idle') return { state, effects: [] };
      return { state: { ...state, phase: 'opening' }, effects: [{ kind: 'open-session' }] };

    case 'opened': {
      const recovered = state.openFailures > 0;
      const next: DcState = {
        ...state,
        connected: true,
        dctype: event.dctype,
        openFailures: 0,
        lastError: null,
        connectedSince: ctx.now,
        registered: false,
      };
      const effects: DcEffect[] = [];
      if (recovered) effects.push({ kind: 'log', level: 'info', message: 'connected again' });
      else effects.push({ kind: 'log', level: 'info', message: `connected (dctype ${event.dctype})` });
      if (policy.register && takesDim(event.dctype)) {
        effects.push({ kind: 'register' });
        return { state: { ...next, phase: 'registering' }, effects };
      }
      effects.push({ kind: 'read-log' });
      return { state: { ...next, phase: 'reading', rereadPending: false }, effects };
    }

    case 'open-failed': {
      if (state.phase !== 'opening') return { state, effects: [] };
      const delay = nextDelayMs(state.openFailures, policy.openBackoff, ctx.random);
      const effects: DcEffect[] = [];
      if (state.openFailures === 0) {
        effects.push({
          kind: 'log',
          level: 'warn',
          message: `cannot connect: ${event.error.message}; retrying`,
        });
      }
      effects.push({ kind: 'arm-timer', timer: 'retry-open', ms: delay });
      return {
        state: { ...state, phase: 'waiting', openFailures: state.openFailures + 1, lastError: event.error },
        effects,
      };
    }

    case 'registered': {
      if (state.phase !== 'registering') return { state: { ...state, registered: true }, effects: [] };
      const effects: DcEffect[] = [
        { kind: 'log', level: 'info', message: 'registered with the discovery controller' },
      ];
      effects.push({ kind: 'read-log' });
      return {
        state: { ...state, registered: true, registerFailures: 0, phase: 'reading', rereadPending: false },
        effects,
      };
    }

    case 'register-failed': {
      if (state.phase !== 'registering') return { state, effects: [] };
      const effects: DcEffect[] = [];
      if (state.registerFailures === 0) {
        const retry = event.retry ? '; retrying' : '';
        effects.push({
          kind: 'log',
          level: 'warn',
          message: `registration failed: ${event.error.message}${retry}`,
        });
      }
      if (event.retry)
        effects.push({ kind: 'arm-timer', timer: 'retry-register', ms: policy.registerRetryMs });
      effects.push({ kind: 'read-log' });
      return {
        state: {
          ...state,
          phase: 'reading',
          registerFailures: state.registerFailures + 1,
          rereadPending: false,
        },
        effects,
      };
    }

    case 'log-read': {
      if (state.phase !== 'reading') return { state, effects: [] };
      const effects: DcEffect[] = [];
      if (state.readFailures > 0)
        effects.push({ kind: 'log', level: 'info', message: 'log page read again' });
      const base: DcState = { ...state, readFailures: 0, lastLogAt: ctx.now, lastError: null };
      if (state.rereadPending) {
        effects.push({ kind: 'read-log' });
        return { state: { ...base, rereadPending: false }, effects };
      }
      if (policy.persistent) return { state: { ...base, phase: 'ready' }, effects };
      effects.push(
        { kind: 'close-session', deregister: false },
        { kind: 'arm-timer', timer: 'poll', ms: policy.pollMs },
      );
      return { state: { ...base, phase: 'waiting', connected: false, registered: false }, effects };
    }

    case 'log-failed': {
      if (state.phase !== 'reading') return { state, effects: [] };
      const effects: DcEffect[] = [];
      if (state.readFailures === 0) {
        effects.push({
          kind: 'log',
          level: 'warn',
          message: `cannot read the log page: ${event.error.message}; retrying`,
        });
      }
      effects.push({ kind: 'arm-timer', timer: 'retry-read', ms: policy.readRetryMs });
      return {
        state: {
          ...state,
          phase: 'ready',
          readFailures: state.readFailures + 1,
          lastError: event.error,
          rereadPending: false,
        },
        effects,
      };
    }

    case 'aen':
      if (state.phase === 'reading') return { state: { ...state, rereadPending: true }, effects: [] };
      if (state.phase === 'registering') return { state: { ...state, rereadPending: true }, effects: [] };
      if (state.phase !== 'ready') return { state, effects: [] };
      return { state: { ...state, phase: 'reading' }, effects: [{ kind: 'read-log' }] };

    case 'resync':
      if (state.phase === 'ready') {
        if (policy.register && takesDim(state.dctype)) {
          return { state: { ...state, phase: 'registering' }, effects: [{ kind: 'register' }] };
        }
        return { state: { ...state, phase: 'reading' }, effects: [{ kind: 'read-log' }] };
      }
      if (state.phase === 'reading' || state.phase === 'registering') {
        return { state: { ...state, rereadPending: true }, effects: [] };
      }
      if (state.phase === 'waiting') {
        // Try now rather than at the end of a long backoff.
        return {
          state: { ...state, phase: 'opening' },
          effects: [{ kind: 'cancel-timers' }, { kind: 'open-session' }],
        };
      }
      return { state, effects: [] };

    case 'session-lost': {
      if (!state.connected && state.phase !== 'opening') return { state, effects: [] };
      const delay = nextDelayMs(0, policy.openBackoff, ctx.random);
      return {
        state: {
          ...state,
          phase: 'waiting',
          connected: false,
          registered: false,
          rereadPending: false,
          connectedSince: null,
          openFailures: 1,
          lastError: event.error,
        },
        effects: [
          { kind: 'log', level: 'warn', message: `connection lost: ${event.error.message}; reconnecting` },
          { kind: 'cancel-timers' },
          { kind: 'arm-timer', timer: 'retry-open', ms: delay },
        ],
      };
    }

    case 'timer':
      switch (event.timer) {
        case 'retry-open':
        case 'poll':
          if (state.phase !== 'waiting') return { state, effects: [] };
          return { state: { ...state, phase: 'opening' }, effects: [{ kind: 'open-session' }] };
        case 'retry-read':
          if (state.phase !== 'ready') return { state, effects: [] };
          return { state: { ...state, phase: 'reading' }, effects: [{ kind: 'read-log' }] };
        case 'retry-register':
          if (state.phase !== 'ready' || state.registered) return { state, effects: [] };
          return { state: { ...state, phase: 'registering' }, effects: [{ kind: 'register' }] };
      }
      return { state, effects: [] };

    case 'stop': {
      const open = state.connected || state.phase === 'opening';
      const effects: DcEffect[] = [{ kind: 'cancel-timers' }];
      if (open) effects.push({ kind: 'close-session', deregister: state.registered });
      return {
        state: { ...state, phase: open ? 'closing' : 'stopped', rereadPending: false },
        effects,
      };
    }

    case 'closed':
      if (state.phase === 'closing') {
        return { state: { ...state, phase: 'stopped', connected: false, registered: false }, effects: [] };
      }
      return { state, effects: [] };
  }
}
