import { describe, expect, it } from 'vitest';
import type { DcEffect, DcEvent, DcPolicy, DcState, StepContext } from './machine.js';
import { INITIAL_DC_STATE, step } from './machine.js';

const POLICY: DcPolicy = {
  persistent: true,
  register: true,
  openBackoff: { fastMs: 1000, fastAttempts: 2, baseMs: 2000, capMs: 8000, jitter: 0 },
  readRetryMs: 20_000,
  registerRetryMs: 5_000,
  pollMs: 300_000,
};
const ctx = (policy: Partial<DcPolicy> = {}): StepContext => ({
  now: 1000,
  random: () => 0.5,
  policy: { ...POLICY, ...policy },
});
const err = (message: string) => ({ code: 'X', message });

/** Feeds events in order; returns the final state and every effect, logs excluded unless asked. */
function run(events: readonly DcEvent[], policy: Partial<DcPolicy> = {}, from: DcState = INITIAL_DC_STATE) {
  let state = from;
  const effects: DcEffect[] = [];
  for (const event of events) {
    const result = step(state, event, ctx(policy));
    state = result.state;
    effects.push(...result.effects);
  }
  return {
    state,
    effects,
    actions: effects.filter((e) => e.kind !== 'log'),
    logs: effects.flatMap((e) => (e.kind === 'log' ? [e] : [])),
  };
}

describe('DC state machine: the happy paths', () => {
  it('opens, reads the log page and waits for AENs when connections are persistent', () => {
    const r = run([
      { kind: 'start' },
      { kind: 'opened', dctype: 'none' },
      { kind: 'log-read', entries: 3, changed: true },
    ]);
    expect(r.actions).toEqual([{ kind: 'open-session' }, { kind: 'read-log' }]);
    expect(r.state).toMatchObject({ phase: 'ready', connected: true, registered: false, lastLogAt: 1000 });
  });

  it('registers with a CDC before reading', () => {
    const r = run([
      { kind: 'start' },
      { kind: 'opened', dctype: 'cdc' },
      { kind: 'registered' },
      { kind: 'log-read', entries: 1, changed: true },
    ]);
    expect(r.actions).toEqual([{ kind: 'open-session' }, { kind: 'register' }, { kind: 'read-log' }]);
    expect(r.state).toMatchObject({ phase: 'ready', registered: true });
  });

  it('does not register with a DC whose DCTYPE is none, or when registration is off', () => {
    expect(run([{ kind: 'start' }, { kind: 'opened', dctype: 'none' }]).actions).not.toContainEqual({
      kind: 'register',
    });
    expect(
      run([{ kind: 'start' }, { kind: 'opened', dctype: 'ddc' }], { register: false }).actions,
    ).not.toContainEqual({
      kind: 'register',
    });
  });

  it('re-reads the log page on each AEN', () => {
    const ready = run([
      { kind: 'start' },
      { kind: 'opened', dctype: 'none' },
      { kind: 'log-read', entries: 0, changed: false },
    ]).state;
    const r = run([{ kind: 'aen' }, { kind: 'log-read', entries: 1, changed: true }], {}, ready);
    expect(r.actions).toEqual([{ kind: 'read-log' }]);
    expect(r.state.phase).toBe('ready');
  });

  it('queues exactly one re-read for AENs that arrive during a read', () => {
    const reading = run([{ kind: 'start' }, { kind: 'opened', dctype: 'none' }]).state;
    const r = run(
      [
        { kind: 'aen' },
        { kind: 'aen' },
        { kind: 'aen' },
        { kind: 'log-read', entries: 1, changed: true },
        { kind: 'log-read', entries: 2, changed: true },
      ],
      {},
      reading,
    );
    expect(r.actions).toEqual([{ kind: 'read-log' }]);
    expect(r.state).toMatchObject({ phase: 'ready', rereadPending: false });
  });

  it('polls instead of staying connected when connections are not persistent', () => {
    const r = run(
      [
        { kind: 'start' },
        { kind: 'opened', dctype: 'none' },
        { kind: 'log-read', entries: 1, changed: true },
      ],
      { persistent: false },
    );
    expect(r.actions.slice(-2)).toEqual([
      { kind: 'close-session', deregister: false },
      { kind: 'arm-timer', timer: 'poll', ms: 300_000 },
    ]);
    expect(r.state).toMatchObject({ phase: 'waiting', connected: false });
    const again = run([{ kind: 'timer', timer: 'poll' }], { persistent: false }, r.state);
    expect(again.actions).toEqual([{ kind: 'open-session' }]);
  });
});

describe('DC state machine: failures', () => {
  it('retries opening with backoff and logs only the first failure and the recovery', () => {
    const failures = [1, 2, 3, 4, 5].flatMap((): DcEvent[] => [
      { kind: 'open-failed', error: err('refused') },
      { kind: 'timer', timer: 'retry-open' },
    ]);
    const r = run([{ kind: 'start' }, ...failures, { kind: 'opened', dctype: 'none' }]);
    const delays = r.actions.flatMap((e) => (e.kind === 'arm-timer' ? [e.ms] : []));
    expect(delays).toEqual([1000, 1000, 2000, 4000, 8000]);
    expect(r.logs.map((l) => `${l.level}: ${l.message}`)).toEqual([
      'warn: cannot connect: refused; retrying',
      'info: connected again',
    ]);
    expect(r.state).toMatchObject({ phase: 'reading', openFailures: 0, lastError: null });
  });

  it('reads the log page even when registration fails, and retries the registration', () => {
    const r = run([
      { kind: 'start' },
      { kind: 'opened', dctype: 'cdc' },
      { kind: 'register-failed', error: err('busy'), retry: true },
      { kind: 'log-read', entries: 1, changed: true },
    ]);
    expect(r.actions).toContainEqual({ kind: 'arm-timer', timer: 'retry-register', ms: 5000 });
    expect(r.actions.at(-1)).toEqual({ kind: 'read-log' });
    expect(r.state).toMatchObject({ phase: 'ready', registered: false });
    const retried = run([{ kind: 'timer', timer: 'retry-register' }, { kind: 'registered' }], {}, r.state);
    expect(retried.actions).toEqual([{ kind: 'register' }, { kind: 'read-log' }]);
    expect(retried.state.registered).toBe(true);
  });

  it('does not retry a registration the DC refused for good', () => {
    const r = run([
      { kind: 'start' },
      { kind: 'opened', dctype: 'ddc' },
      { kind: 'register-failed', error: err('invalid opcode'), retry: false },
    ]);
    expect(r.actions.some((e) => e.kind === 'arm-timer')).toBe(false);
  });

  it('retries a failed read on its own timer while staying connected', () => {
    const r = run([
      { kind: 'start' },
      { kind: 'opened', dctype: 'none' },
      { kind: 'log-failed', error: err('timeout') },
      { kind: 'timer', timer: 'retry-read' },
    ]);
    expect(r.actions).toEqual([
      { kind: 'open-session' },
      { kind: 'read-log' },
      { kind: 'arm-timer', timer: 'retry-read', ms: 20_000 },
      { kind: 'read-log' },
    ]);
    expect(r.state).toMatchObject({ phase: 'reading', connected: true, readFailures: 1 });
  });

  it('reconnects after losing the session, fast, and forgets the registration', () => {
    const ready = run([
      { kind: 'start' },
      { kind: 'opened', dctype: 'cdc' },
      { kind: 'registered' },
      { kind: 'log-read', entries: 1, changed: true },
    ]).state;
    const r = run(
      [
        { kind: 'session-lost', error: err('reset by peer') },
        { kind: 'timer', timer: 'retry-open' },
        { kind: 'opened', dctype: 'cdc' },
      ],
      {},
      ready,
    );
    expect(r.actions).toEqual([
      { kind: 'cancel-timers' },
      { kind: 'arm-timer', timer: 'retry-open', ms: 1000 },
      { kind: 'open-session' },
      { kind: 'register' },
    ]);
    expect(r.logs.map((l) => l.message)).toEqual([
      'connection lost: reset by peer; reconnecting',
      'connected again',
    ]);
  });

  it('ignores stale events', () => {
    const ready = run([
      { kind: 'start' },
      { kind: 'opened', dctype: 'none' },
      { kind: 'log-read', entries: 0, changed: false },
    ]).state;
    for (const event of [
      { kind: 'log-read', entries: 0, changed: false },
      { kind: 'open-failed', error: err('x') },
      { kind: 'timer', timer: 'retry-open' },
      { kind: 'timer', timer: 'poll' },
    ] as const) {
      expect(step(ready, event, ctx())).toEqual({ state: ready, effects: [] });
    }
  });
});

describe('DC state machine: resync and stop', () => {
  const ready = run([
    { kind: 'start' },
    { kind: 'opened', dctype: 'cdc' },
    { kind: 'registered' },
    { kind: 'log-read', entries: 1, changed: true },
  ]).state;

  it('re-registers and re-reads on resync', () => {
    const r = run([{ kind: 'resync' }, { kind: 'registered' }], {}, ready);
    expect(r.actions).toEqual([{ kind: 'register' }, { kind: 'read-log' }]);
  });

  it('reconnects at once on resync while waiting for a retry', () => {
    const waiting = run([{ kind: 'start' }, { kind: 'open-failed', error: err('x') }]).state;
    expect(run([{ kind: 'resync' }], {}, waiting).actions).toEqual([
      { kind: 'cancel-timers' },
      { kind: 'open-session' },
    ]);
  });

  it('deregisters and closes on stop, then ignores everything', () => {
    const r = run([{ kind: 'stop' }, { kind: 'closed' }, { kind: 'aen' }, { kind: 'start' }], {}, ready);
    expect(r.actions).toEqual([{ kind: 'cancel-timers' }, { kind: 'close-session', deregister: true }]);
    expect(r.state.phase).toBe('stopped');
  });

  it('stops at once when not connected', () => {
    const waiting = run([{ kind: 'start' }, { kind: 'open-failed', error: err('x') }]).state;
    const r = run([{ kind: 'stop' }], {}, waiting);
    expect(r.actions).toEqual([{ kind: 'cancel-timers' }]);
    expect(r.state.phase).toBe('stopped');
  });
});
