import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BusError } from '../dbus/bus-error.js';
import type { ReceivedSignal, SignalFilter } from '../dbus/bus.js';
import { AvahiBrowser, type AvahiBus } from './avahi-browser.js';
import type { BrowserClock, DcBrowserEvent } from './dc-browser.js';

const clock: BrowserClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

const BROWSER_IFACE = 'org.freedesktop.Avahi.ServiceBrowser';
const RESOLVER_IFACE = 'org.freedesktop.Avahi.ServiceResolver';
const TYPE = '_nvme-disc._tcp';

interface Call {
  readonly path: string;
  readonly iface: string;
  readonly member: string;
  readonly args: readonly unknown[];
}

/** A bus with a scripted avahi-daemon behind it. */
class FakeAvahiBus implements AvahiBus {
  readonly calls: Call[] = [];
  server2 = true;
  failBrowser = false;
  ifnames = new Map<number, string>([[3, 'eth1']]);
  owner: string | null = ':1.5';
  disposed = 0;
  #objects = 0;
  #handlers = new Map<string, (signal: ReceivedSignal) => void>();
  #ownerListener: ((owner: string | null) => void) | undefined;
  #disconnect: ((info: { reason: string }) => void) | undefined;

  call(_dest: string, path: string, iface: string, member: string, _sig: string, args: readonly unknown[]) {
    this.calls.push({ path, iface, member, args });
    if (member.endsWith('Prepare') && !this.server2) {
      return Promise.reject(new BusError('DBUS_UNKNOWN_MEMBER', 'no Server2'));
    }
    if (member.startsWith('ServiceBrowser') && this.failBrowser) {
      return Promise.reject(new BusError('DBUS_REMOTE_ERROR', 'too many objects'));
    }
    if (member.endsWith('Prepare') || member.endsWith('New')) {
      const kind = member.startsWith('ServiceBrowser') ? 'ServiceBrowser' : 'ServiceResolver';
      return Promise.resolve([`/Client1/${kind}${++this.#objects}`]);
    }
    if (member === 'GetNetworkInterfaceNameByIndex') {
      const name = this.ifnames.get(args[0] as number);
      return name === undefined
        ? Promise.reject(new BusError('DBUS_REMOTE_ERROR', 'org.freedesktop.Avahi.OSError'))
        : Promise.resolve([name]);
    }
    return Promise.resolve([]);
  }

  subscribeSignal(filter: SignalFilter, handler: (signal: ReceivedSignal) => void) {
    this.#handlers.set(filter.interface, handler);
    return Promise.resolve(() => {
      this.disposed++;
      this.#handlers.delete(filter.interface);
      return Promise.resolve();
    });
  }

  watchNameOwner(_name: string, listener: (owner: string | null) => void) {
    this.#ownerListener = listener;
    listener(this.owner);
    return Promise.resolve(() => {
      this.disposed++;
      this.#ownerListener = undefined;
      return Promise.resolve();
    });
  }

  onDisconnect(listener: (info: { reason: string }) => void) {
    this.#disconnect = listener;
    return () => {
      this.#disconnect = undefined;
    };
  }

  setOwner(owner: string | null): void {
    this.owner = owner;
    this.#ownerListener?.(owner);
  }

  disconnect(): void {
    this.#disconnect?.({ reason: 'the D-Bus connection was lost' });
  }

  emit(iface: string, path: string, member: string, signature: string, body: readonly unknown[]): void {
    this.#handlers.get(iface)?.({
      sender: this.owner ?? '',
      path,
      interface: iface,
      member,
      signature,
      body,
    });
  }
}

const item = (iface: number, proto: number, name: string) => [iface, proto, name, TYPE, 'local', 0];
const found = (iface: number, proto: number, name: string, address: string, txt: string[] = ['p=tcp']) => [
  iface,
  proto,
  name,
  TYPE,
  'local',
  'dc.local',
  proto,
  address,
  8009,
  txt.map((t) => Buffer.from(t)),
  0,
];

describe('AvahiBrowser', () => {
  let bus: FakeAvahiBus;
  let browser: AvahiBrowser;
  let events: DcBrowserEvent[];

  const settle = () => vi.advanceTimersByTimeAsync(0);
  const browserPath = () =>
    bus.calls.find((c) => c.member === 'Start' && c.iface === BROWSER_IFACE)?.path ??
    '/Client1/ServiceBrowser1';
  const itemNew = (body: unknown[], member = 'ItemNew'): void => {
    bus.emit(BROWSER_IFACE, browserPath(), member, 'iisssu', body);
  };
  const resolverPathFor = (name: string, proto: number) => {
    const index = bus.calls
      .filter((c) => /^ServiceResolver(Prepare|New)$/.test(c.member))
      .findIndex((c) => c.args[2] === name && c.args[1] === proto);
    const starts = bus.calls.filter((c) => c.member === 'Start' && c.iface === RESOLVER_IFACE);
    return starts[index]?.path ?? '';
  };
  const emitFound = (body: unknown[]): void => {
    bus.emit(
      RESOLVER_IFACE,
      resolverPathFor(body[2] as string, body[1] as number),
      'Found',
      'iissssisqaayu',
      body,
    );
  };
  const changes = () => events.filter((e) => e.type === 'services-changed');
  const problems = () => events.filter((e) => e.type === 'problem');

  beforeEach(() => {
    vi.useFakeTimers();
    bus = new FakeAvahiBus();
    events = [];
    browser = new AvahiBrowser(bus, { clock, coalesceMs: 10, settleMs: 3000 });
    browser.on((event) => events.push(event));
  });

  afterEach(async () => {
    await browser.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
  });

  it('creates one browser with Server2 Prepare + Start, on every interface and protocol', async () => {
    await browser.start();
    await settle();
    expect(bus.calls.map((c) => `${c.iface.split('.').at(-1)}.${c.member}`)).toEqual([
      'Server2.ServiceBrowserPrepare',
      'ServiceBrowser.Start',
    ]);
    expect(bus.calls[0]?.args).toEqual([-1, -1, TYPE, 'local', 2]);
    expect(browser.state()).toEqual({ kind: 'starting' });
  });

  it('resolves each item with a persistent resolver and reports it with its interface name', async () => {
    await browser.start();
    await settle();
    itemNew(item(3, 0, 'DC one'));
    await settle();
    const prepare = bus.calls.find((c) => c.member === 'ServiceResolverPrepare');
    expect(prepare?.args).toEqual([3, 0, 'DC one', TYPE, 'local', 0, 0]);
    bus.emit(BROWSER_IFACE, browserPath(), 'AllForNow', '', []);
    expect(browser.state()).toEqual({ kind: 'starting' }); // the resolver has not answered yet
    emitFound(found(3, 0, 'DC one', '10.0.0.1'));
    await vi.advanceTimersByTimeAsync(10);
    expect(browser.state()).toEqual({ kind: 'running' });
    expect(browser.snapshot()).toEqual({
      ok: true,
      value: [
        {
          iface: 'eth1',
          address: '10.0.0.1',
          port: 8009,
          txt: new Map([['p', 'tcp']]),
          name: 'DC one',
          host: 'dc.local',
          protocol: 'ipv4',
        },
      ],
    });
    expect(changes()).toHaveLength(1);
    expect(bus.calls.filter((c) => c.member === 'GetNetworkInterfaceNameByIndex')).toHaveLength(1);
  });

  it('passes on TXT and address changes from later Found signals', async () => {
    await browser.start();
    await settle();
    itemNew(item(3, 1, 'DC'));
    await settle();
    emitFound(found(3, 1, 'DC', 'fe80::1', ['p=tcp', 'nqn=one']));
    await vi.advanceTimersByTimeAsync(10);
    emitFound(found(3, 1, 'DC', 'fe80::2', ['p=tcp', 'nqn=two']));
    await vi.advanceTimersByTimeAsync(10);
    expect(changes().at(-1)).toMatchObject({
      services: [
        {
          address: 'fe80::2',
          protocol: 'ipv6',
          txt: new Map([
            ['p', 'tcp'],
            ['nqn', 'two'],
          ]),
        },
      ],
    });
  });

  it('removes an item and frees its resolver on ItemRemove', async () => {
    await browser.start();
    await settle();
    itemNew(item(3, 0, 'DC'));
    await settle();
    emitFound(found(3, 0, 'DC', '10.0.0.1'));
    await vi.advanceTimersByTimeAsync(10);
    const resolver = resolverPathFor('DC', 0);
    itemNew(item(3, 0, 'dc'), 'ItemRemove');
    await vi.advanceTimersByTimeAsync(10);
    expect(changes().at(-1)).toEqual({ type: 'services-changed', services: [] });
    expect(bus.calls.find((c) => c.member === 'Free')?.path).toBe(resolver);
  });

  it('falls back to ServiceBrowserNew and ServiceResolverNew without Server2', async () => {
    bus.server2 = false;
    await browser.start();
    await settle();
    itemNew(item(3, 0, 'DC'));
    await settle();
    expect(bus.calls.map((c) => c.member)).toEqual([
      'ServiceBrowserPrepare',
      'ServiceBrowserNew',
      'ServiceResolverNew',
    ]);
    const resolverPath = '/Client1/ServiceResolver2';
    bus.emit(RESOLVER_IFACE, resolverPath, 'Found', 'iissssisqaayu', found(3, 0, 'DC', '10.0.0.1'));
    await vi.advanceTimersByTimeAsync(10);
    expect(browser.snapshot()).toMatchObject({ ok: false }); // still starting
    await vi.advanceTimersByTimeAsync(3000);
    expect(browser.snapshot()).toMatchObject({ ok: true, value: [{ address: '10.0.0.1' }] });
  });

  it('reports an interface index without a name as a problem and retries at the next Found', async () => {
    bus.ifnames.clear();
    await browser.start();
    await settle();
    itemNew(item(7, 0, 'DC'));
    await settle();
    emitFound(found(7, 0, 'DC', '10.0.0.1'));
    await vi.advanceTimersByTimeAsync(10);
    expect(problems()).toEqual([
      expect.objectContaining({ code: 'iface-name-failed', detail: expect.stringContaining('index 7') }),
    ]);
    expect(changes()).toEqual([]);
    bus.ifnames.set(7, 'eth7');
    emitFound(found(7, 0, 'DC', '10.0.0.1'));
    await vi.advanceTimersByTimeAsync(10);
    expect(changes().at(-1)).toMatchObject({ services: [{ iface: 'eth7' }] });
  });

  it('refuses an unusable interface name from avahi', async () => {
    bus.ifnames.set(3, 'bad,name');
    await browser.start();
    await settle();
    itemNew(item(3, 0, 'DC'));
    await settle();
    emitFound(found(3, 0, 'DC', '10.0.0.1'));
    await vi.advanceTimersByTimeAsync(10);
    expect(problems()).toEqual([expect.objectContaining({ code: 'iface-name-failed' })]);
  });

  it('treats a resolver timeout as no answer, and other failures as problems', async () => {
    await browser.start();
    await settle();
    itemNew(item(3, 0, 'stale'));
    itemNew(item(3, 0, 'broken'));
    await settle();
    bus.emit(BROWSER_IFACE, browserPath(), 'AllForNow', '', []);
    bus.emit(RESOLVER_IFACE, resolverPathFor('stale', 0), 'Failure', 's', [
      'org.freedesktop.Avahi.TimeoutError',
    ]);
    expect(problems()).toEqual([]);
    expect(browser.state()).toEqual({ kind: 'starting' });
    bus.emit(RESOLVER_IFACE, resolverPathFor('broken', 0), 'Failure', 's', [
      'org.freedesktop.Avahi.NoMemoryError',
    ]);
    expect(problems()).toEqual([expect.objectContaining({ code: 'avahi-resolver-failure' })]);
    expect(browser.state()).toEqual({ kind: 'running' });
    expect(browser.snapshot()).toEqual({ ok: true, value: [] });
  });

  it('forgets everything when avahi leaves the bus and browses again when it is back', async () => {
    await browser.start();
    await settle();
    itemNew(item(3, 0, 'DC'));
    await settle();
    emitFound(found(3, 0, 'DC', '10.0.0.1'));
    await vi.advanceTimersByTimeAsync(10);
    bus.setOwner(null);
    expect(browser.state()).toMatchObject({ kind: 'unavailable', reason: 'avahi-absent' });
    expect(changes().at(-1)).toEqual({ type: 'services-changed', services: [] });
    expect(browser.snapshot()).toMatchObject({ ok: false, reason: 'not-running' });
    const before = bus.calls.length;
    bus.setOwner(':1.9');
    await settle();
    expect(bus.calls.slice(before).map((c) => c.member)).toEqual(['ServiceBrowserPrepare', 'Start']);
    expect(browser.state()).toEqual({ kind: 'starting' });
  });

  it('retries a failed browser creation with a doubling delay', async () => {
    bus.failBrowser = true;
    await browser.start();
    await settle();
    expect(browser.state()).toMatchObject({ kind: 'unavailable', reason: 'avahi-error' });
    expect(problems()).toEqual([expect.objectContaining({ code: 'avahi-call-failed' })]);
    await vi.advanceTimersByTimeAsync(1000);
    await vi.advanceTimersByTimeAsync(2000);
    expect(bus.calls.filter((c) => c.member === 'ServiceBrowserPrepare')).toHaveLength(3);
    bus.failBrowser = false;
    await vi.advanceTimersByTimeAsync(4000);
    expect(browser.state()).toEqual({ kind: 'starting' });
    await vi.advanceTimersByTimeAsync(3000);
    expect(browser.state()).toEqual({ kind: 'running' });
  });

  it('recreates the browser after a browser Failure signal', async () => {
    await browser.start();
    await settle();
    bus.emit(BROWSER_IFACE, browserPath(), 'Failure', 's', ['org.freedesktop.Avahi.DisconnectedError']);
    expect(problems()).toEqual([expect.objectContaining({ code: 'avahi-browser-failure' })]);
    expect(browser.state()).toMatchObject({ kind: 'unavailable', reason: 'avahi-error' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(bus.calls.filter((c) => c.member === 'ServiceBrowserPrepare')).toHaveLength(2);
  });

  it('ignores signals of other browsers and reports malformed ones', async () => {
    await browser.start();
    await settle();
    bus.emit(BROWSER_IFACE, '/Client1/ServiceBrowser99', 'ItemNew', 'iisssu', item(3, 0, 'other'));
    bus.emit(BROWSER_IFACE, browserPath(), 'ItemNew', 'iisssu', [3, 0, 'DC', '_http._tcp', 'local', 0]);
    bus.emit(BROWSER_IFACE, browserPath(), 'ItemNew', 'iisss', [3, 0, 'DC', TYPE, 'local']);
    await settle();
    expect(bus.calls.filter((c) => c.member === 'ServiceResolverPrepare')).toEqual([]);
    expect(problems()).toEqual([expect.objectContaining({ code: 'bad-signal' })]);
  });

  it('caps the number of services', async () => {
    const small = new AvahiBrowser(bus, { clock, maxServices: 1 });
    const seen: DcBrowserEvent[] = [];
    small.on((e) => seen.push(e));
    await browser.stop();
    await small.start();
    await settle();
    const path = bus.calls.find((c) => c.member === 'Start')!.path;
    for (const name of ['a', 'b', 'c']) bus.emit(BROWSER_IFACE, path, 'ItemNew', 'iisssu', item(3, 0, name));
    await settle();
    expect(bus.calls.filter((c) => c.member === 'ServiceResolverPrepare')).toHaveLength(1);
    expect(seen.filter((e) => e.type === 'problem')).toEqual([
      expect.objectContaining({ code: 'service-limit' }),
    ]);
    await small.stop();
  });

  it('becomes unavailable when the bus connection is lost', async () => {
    await browser.start();
    await settle();
    bus.disconnect();
    expect(browser.state()).toMatchObject({ kind: 'unavailable', reason: 'bus-disconnected' });
  });

  it('frees its avahi objects and drops its subscriptions when stopped', async () => {
    await browser.start();
    await settle();
    itemNew(item(3, 0, 'DC'));
    await settle();
    const resolver = resolverPathFor('DC', 0);
    await browser.stop();
    expect(
      bus.calls
        .filter((c) => c.member === 'Free')
        .map((c) => c.path)
        .sort(),
    ).toEqual([browserPath(), resolver].sort());
    expect(bus.disposed).toBe(3);
    expect(browser.state()).toMatchObject({ kind: 'unavailable', reason: 'stopped' });
  });

  it('does nothing when started with an aborted signal, and stops when its signal aborts', async () => {
    const controller = new AbortController();
    controller.abort();
    const idle = new AvahiBrowser(bus, { clock });
    await idle.start({ signal: controller.signal });
    expect(bus.calls).toEqual([]);
    const live = new AbortController();
    await browser.start({ signal: live.signal });
    live.abort();
    await settle();
    expect(browser.state()).toMatchObject({ kind: 'unavailable', reason: 'stopped' });
  });
});
