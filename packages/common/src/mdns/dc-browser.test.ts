import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  sameServices,
  ServiceSetPublisher,
  sortServices,
  type BrowserClock,
  type BrowsedService,
  type DcBrowserEvent,
} from './dc-browser.js';

const clock: BrowserClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

const svc = (over: Partial<BrowsedService> = {}): BrowsedService => ({
  iface: 'eth1',
  address: '10.0.0.1',
  port: 8009,
  txt: new Map([['p', 'tcp']]),
  name: 'DC',
  host: 'dc.local',
  protocol: 'ipv4',
  ...over,
});

describe('service lists', () => {
  it('are equal regardless of order and TXT insertion order', () => {
    const a = svc({
      txt: new Map([
        ['p', 'tcp'],
        ['nqn', 'x'],
      ]),
    });
    const b = svc({
      txt: new Map([
        ['nqn', 'x'],
        ['p', 'tcp'],
      ]),
    });
    const c = svc({ protocol: 'ipv6', address: 'fd00::1' });
    expect(sameServices([a, c], [c, b])).toBe(true);
    expect(sameServices([a], [svc({ port: 4420 })])).toBe(false);
    expect(sameServices([a], [svc({ txt: new Map([['p', 'rdma']]) })])).toBe(false);
    expect(sameServices([a], [a, c])).toBe(false);
  });

  it('sort by interface, protocol and name', () => {
    const list = [svc({ name: 'b' }), svc({ iface: 'eth0' }), svc({ protocol: 'ipv6' }), svc({ name: 'a' })];
    expect(sortServices(list).map((s) => `${s.iface}/${s.protocol}/${s.name}`)).toEqual([
      'eth0/ipv4/DC',
      'eth1/ipv4/a',
      'eth1/ipv4/b',
      'eth1/ipv6/DC',
    ]);
  });
});

describe('ServiceSetPublisher', () => {
  let publisher: ServiceSetPublisher;
  let events: DcBrowserEvent[];

  beforeEach(() => {
    vi.useFakeTimers();
    publisher = new ServiceSetPublisher({ clock, coalesceMs: 100 });
    events = [];
    publisher.on((event) => events.push(event));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports a burst of changes once, at the end of the window', async () => {
    publisher.setState({ kind: 'running' });
    publisher.setServices([svc()]);
    await vi.advanceTimersByTimeAsync(50);
    publisher.setServices([svc(), svc({ protocol: 'ipv6', address: 'fd00::1' })]);
    expect(events.filter((e) => e.type === 'services-changed')).toEqual([]);
    await vi.advanceTimersByTimeAsync(50);
    const changes = events.filter((e) => e.type === 'services-changed');
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ services: [{ protocol: 'ipv4' }, { protocol: 'ipv6' }] });
  });

  it('reports nothing when a burst ends where it started', async () => {
    publisher.setServices([svc()]);
    await vi.advanceTimersByTimeAsync(100);
    publisher.setServices([]);
    publisher.setServices([svc()]);
    await vi.advanceTimersByTimeAsync(100);
    expect(events.filter((e) => e.type === 'services-changed')).toHaveLength(1);
  });

  it('answers unknown while starting or unavailable, and the set while running', () => {
    publisher.setServices([svc()]);
    expect(publisher.snapshot()).toMatchObject({ ok: false, reason: 'not-running' });
    publisher.setState({ kind: 'starting' });
    expect(publisher.snapshot()).toMatchObject({ ok: false, reason: 'not-loaded' });
    publisher.setState({ kind: 'running' });
    expect(publisher.snapshot()).toEqual({ ok: true, value: [svc()] });
    publisher.setState({ kind: 'unavailable', reason: 'avahi-absent', detail: 'gone' });
    expect(publisher.snapshot()).toEqual({ ok: false, reason: 'not-running', detail: 'avahi-absent: gone' });
  });

  it('delivers a pending set change before a state change, and no event for an unchanged state', () => {
    publisher.setState({ kind: 'running' });
    publisher.setServices([svc()]);
    publisher.setState({ kind: 'running' });
    publisher.setState({ kind: 'unavailable', reason: 'stopped', detail: 'stopped' });
    expect(events.map((e) => e.type)).toEqual(['state', 'services-changed', 'state']);
    expect(publisher.reported()).toEqual([svc()]);
  });

  it('keeps delivering when a listener throws, and reports the exception', () => {
    const errors: unknown[] = [];
    const p = new ServiceSetPublisher({ clock, onListenerError: (err) => errors.push(err) });
    const seen: string[] = [];
    p.on(() => {
      throw new Error('boom');
    });
    const off = p.on((e) => seen.push(e.type));
    p.problem('send-failed', 'eth1: ENETUNREACH');
    off();
    p.problem('send-failed', 'again');
    expect(seen).toEqual(['problem']);
    expect(errors).toHaveLength(2);
  });
});
