import { describe, expect, it } from 'vitest';
import { isWellKnownName, SignalRouter, type ReceivedSignal } from './signal-router.js';

const signal = (
  sender: string,
  member = 'log_pages_changed',
  path = '/org/nvmexpress/staf',
): ReceivedSignal => ({
  sender,
  path,
  interface: 'org.nvmexpress.staf',
  member,
  signature: '',
  body: [],
});

function router(owners: Record<string, string | null> = {}) {
  const errors: unknown[] = [];
  return {
    router: new SignalRouter(
      (name) => owners[name],
      (err) => errors.push(err),
    ),
    errors,
  };
}

describe('SignalRouter', () => {
  it('delivers a signal from the current owner of a well-known name and drops the same signal from others', () => {
    const { router: r } = router({ 'org.nvmexpress.staf': ':1.4' });
    const got: string[] = [];
    r.add({ sender: 'org.nvmexpress.staf', interface: 'org.nvmexpress.staf' }, (s) => got.push(s.sender));
    r.route(signal(':1.4'));
    r.route(signal(':1.9')); // spoofed
    expect(got).toEqual([':1.4']);
    expect(r.dropped).toBe(1);
  });

  it('drops signals for a well-known name nobody owns or whose owner is not known yet', () => {
    const { router: r } = router({ 'org.nvmexpress.staf': null });
    let got = 0;
    r.add({ sender: 'org.nvmexpress.staf', interface: 'org.nvmexpress.staf' }, () => got++);
    r.add({ sender: 'org.unknown.Name', interface: 'org.nvmexpress.staf' }, () => got++);
    r.route(signal(':1.4'));
    expect([got, r.dropped]).toEqual([0, 2]);
  });

  it('compares unique names and the bus name directly, and filters by path and member', () => {
    const { router: r } = router();
    const got: string[] = [];
    r.add({ sender: ':1.4', interface: 'org.nvmexpress.staf', member: 'dc_removed' }, (s) =>
      got.push(s.member),
    );
    r.add({ sender: ':1.4', interface: 'org.nvmexpress.staf', path: '/other' }, (s) => got.push(s.path));
    r.route(signal(':1.4', 'dc_removed'));
    r.route(signal(':1.4', 'log_pages_changed'));
    r.route(signal(':1.4', 'x', '/other'));
    expect(got).toEqual(['dc_removed', '/other']);
    expect(r.dropped).toBe(0);
  });

  it('stops delivering after removal and reports a throwing handler without stopping the others', () => {
    const { router: r, errors } = router();
    let calls = 0;
    r.add({ sender: ':1.4', interface: 'org.nvmexpress.staf' }, () => {
      throw new Error('boom');
    });
    const remove = r.add({ sender: ':1.4', interface: 'org.nvmexpress.staf' }, () => calls++);
    r.route(signal(':1.4'));
    remove();
    r.route(signal(':1.4'));
    expect([calls, errors.length, r.size]).toEqual([1, 2, 1]);
  });

  it('classifies well-known names', () => {
    expect(isWellKnownName('org.nvmexpress.staf')).toBe(true);
    expect(isWellKnownName(':1.7')).toBe(false);
    expect(isWellKnownName('org.freedesktop.DBus')).toBe(false);
  });
});
