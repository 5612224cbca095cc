import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ReceivedSignal, SignalFilter } from '../dbus/bus.js';
import { observed, unknown, type Observation } from '../util/observation.js';
import type { AvahiBus } from './avahi-browser.js';
import type {
  BrowsedService,
  BrowserClock,
  BrowserState,
  DcBrowser,
  DcBrowserEvent,
  DcBrowserListener,
} from './dc-browser.js';
import { selectBrowser, type DcSources } from './dc-sources.js';

const clock: BrowserClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

class OwnerBus implements AvahiBus {
  owner: string | null = null;
  calls: string[] = [];
  disposed = 0;
  #listener: ((owner: string | null) => void) | undefined;
  #disconnect: (() => void) | undefined;

  call(_d: string, _p: string, _i: string, member: string) {
    this.calls.push(member);
    return Promise.reject(new Error('org.freedesktop.DBus.Error.ServiceUnknown'));
  }
  subscribeSignal(_f: SignalFilter, _h: (s: ReceivedSignal) => void) {
    return Promise.resolve(() => Promise.resolve());
  }
  watchNameOwner(_name: string, listener: (owner: string | null) => void) {
    this.#listener = listener;
    listener(this.owner);
    return Promise.resolve(() => {
      this.disposed++;
      return Promise.resolve();
    });
  }
  onDisconnect(listener: (info: { readonly reason: string }) => void) {
    this.#disconnect = () => {
      listener({ reason: 'lost' });
    };
    return () => {
      this.#disconnect = undefined;
    };
  }
  setOwner(owner: string | null): void {
    this.owner = owner;
    this.#listener?.(owner);
  }
  disconnect(): void {
    this.#disconnect?.();
  }
}

/** Records its life in a shared log; `running` counts live browsers to catch overlap. */
class FakeBrowser implements DcBrowser {
  static running = 0;
  static maxRunning = 0;
  readonly #listeners = new Set<DcBrowserListener>();
  #state: BrowserState = { kind: 'unavailable', reason: 'stopped', detail: '' };
  constructor(
    readonly kind: 'avahi' | 'embedded',
    readonly log: string[],
  ) {}
  async start(): Promise<void> {
    await Promise.resolve();
    FakeBrowser.running++;
    FakeBrowser.maxRunning = Math.max(FakeBrowser.maxRunning, FakeBrowser.running);
    this.log.push(`start ${this.kind}`);
    this.emit({ type: 'state', state: (this.#state = { kind: 'running' }) });
  }
  async stop(): Promise<void> {
    await Promise.resolve();
    FakeBrowser.running--;
    this.log.push(`stop ${this.kind}`);
    this.emit({
      type: 'state',
      state: (this.#state = { kind: 'unavailable', reason: 'stopped', detail: '' }),
    });
  }
  on(listener: DcBrowserListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }
  state(): BrowserState {
    return this.#state;
  }
  snapshot(): Observation<readonly BrowsedService[]> {
    return this.#state.kind === 'running' ? observed([]) : unknown('not-running');
  }
  emit(event: DcBrowserEvent): void {
    for (const l of this.#listeners) l(event);
  }
}

describe('selectBrowser', () => {
  let bus: OwnerBus;
  let log: string[];
  let events: DcBrowserEvent[];
  let sources: DcSources;
  let created: FakeBrowser[];

  const make = (b: AvahiBus | null, kickIntervalMs = 60_000, createEmbedded?: () => Promise<DcBrowser>) => {
    sources = selectBrowser(b, {
      clock,
      fallbackDelayMs: 10_000,
      kickIntervalMs,
      createAvahi: () => {
        const browser = new FakeBrowser('avahi', log);
        created.push(browser);
        return browser;
      },
      createEmbedded:
        createEmbedded ??
        (() => {
          const browser = new FakeBrowser('embedded', log);
          created.push(browser);
          return browser;
        }),
    });
    sources.on((e) => events.push(e));
    return sources;
  };
  const sourcesSeen = () => events.flatMap((e) => (e.type === 'source' ? [e.source] : []));

  beforeEach(() => {
    vi.useFakeTimers();
    bus = new OwnerBus();
    log = [];
    events = [];
    created = [];
    FakeBrowser.running = 0;
    FakeBrowser.maxRunning = 0;
  });

  afterEach(async () => {
    await sources.stop();
    expect(FakeBrowser.running).toBe(0);
    expect(FakeBrowser.maxRunning).toBeLessThanOrEqual(1);
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
  });

  it('uses avahi when it owns its name at start', async () => {
    bus.owner = ':1.4';
    await make(bus).start();
    expect(sources.kind).toBe('avahi');
    expect(log).toEqual(['start avahi']);
    expect(sources.state()).toEqual({ kind: 'running' });
    expect(sourcesSeen()).toEqual(['avahi']);
  });

  it('uses the embedded browser at once when avahi is absent at start, and pokes avahi', async () => {
    await make(bus).start();
    expect(sources.kind).toBe('embedded');
    expect(log).toEqual(['start embedded']);
    expect(bus.calls).toEqual(['GetVersionString']);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(bus.calls).toEqual(['GetVersionString', 'GetVersionString']);
  });

  it('uses the embedded browser when there is no bus', async () => {
    await make(null).start();
    expect(sources.kind).toBe('embedded');
  });

  it('stops the embedded browser before starting the avahi browser when avahi appears', async () => {
    await make(bus).start();
    bus.setOwner(':1.7');
    await vi.advanceTimersByTimeAsync(0);
    expect(log).toEqual(['start embedded', 'stop embedded', 'start avahi']);
    expect(sourcesSeen()).toEqual(['embedded', 'none', 'avahi']);
    expect(sources.kind).toBe('avahi');
  });

  it('falls back to the embedded browser only after avahi stayed away for the fallback delay', async () => {
    bus.owner = ':1.4';
    await make(bus).start();
    bus.setOwner(null);
    await vi.advanceTimersByTimeAsync(5000);
    bus.setOwner(':1.8'); // a quick restart: no switch
    await vi.advanceTimersByTimeAsync(10_000);
    expect(log).toEqual(['start avahi']);
    bus.setOwner(null);
    await vi.advanceTimersByTimeAsync(9999);
    expect(sources.kind).toBe('avahi');
    await vi.advanceTimersByTimeAsync(1);
    expect(log).toEqual(['start avahi', 'stop avahi', 'start embedded']);
    expect(sources.kind).toBe('embedded');
  });

  it('switches to the embedded browser at once when the bus connection is lost', async () => {
    bus.owner = ':1.4';
    await make(bus).start();
    bus.disconnect();
    await vi.advanceTimersByTimeAsync(0);
    expect(sources.kind).toBe('embedded');
  });

  it('forwards events of the active browser only', async () => {
    await make(bus).start();
    const embedded = created[0]!;
    bus.setOwner(':1.7');
    await vi.advanceTimersByTimeAsync(0);
    const before = events.length;
    embedded.emit({ type: 'problem', code: 'send-failed', detail: 'late' });
    created[1]!.emit({ type: 'problem', code: 'avahi-call-failed', detail: 'now' });
    expect(events.slice(before)).toEqual([{ type: 'problem', code: 'avahi-call-failed', detail: 'now' }]);
  });

  /** An embedded-browser factory that resolves when told to (its module still loading until then). */
  const slowEmbedded = () => {
    let loaded: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      loaded = resolve;
    });
    const factory = async (): Promise<DcBrowser> => {
      log.push('loading embedded');
      await gate;
      const browser = new FakeBrowser('embedded', log);
      created.push(browser);
      return browser;
    };
    return {
      factory,
      loaded: () => {
        loaded();
      },
    };
  };

  it('is starting while the embedded browser loads, and starts it once loaded', async () => {
    const slow = slowEmbedded();
    const started = make(bus, 60_000, slow.factory).start();
    await vi.advanceTimersByTimeAsync(0);
    expect(log).toEqual(['loading embedded']);
    expect(sources.state()).toEqual({ kind: 'starting' });
    expect(sources.snapshot()).toMatchObject({ ok: false, reason: 'not-loaded' });
    slow.loaded();
    await started;
    expect(log).toEqual(['loading embedded', 'start embedded']);
    expect(sources.kind).toBe('embedded');
  });

  it('never starts an embedded browser that finished loading after avahi appeared', async () => {
    const slow = slowEmbedded();
    const started = make(bus, 60_000, slow.factory).start();
    await vi.advanceTimersByTimeAsync(0);
    bus.setOwner(':1.7');
    slow.loaded();
    await started;
    await vi.advanceTimersByTimeAsync(0);
    expect(log).toEqual(['loading embedded', 'start avahi']);
    expect(sources.kind).toBe('avahi');
  });

  it('never starts an embedded browser that finished loading after stop()', async () => {
    const slow = slowEmbedded();
    void make(null, 60_000, slow.factory).start();
    await vi.advanceTimersByTimeAsync(0);
    const stopped = sources.stop();
    slow.loaded();
    await stopped;
    expect(log).toEqual(['loading embedded']);
    expect(sources.kind).toBe('none');
  });

  it('reports an embedded browser that cannot be loaded, and still switches to avahi later', async () => {
    await make(bus, 60_000, () => Promise.reject(new Error('cannot load the module'))).start();
    await vi.advanceTimersByTimeAsync(0);
    expect(sources.kind).toBe('none');
    expect(sources.state()).toEqual({
      kind: 'unavailable',
      reason: 'browser-failed',
      detail: 'cannot load the module',
    });
    expect(events).toContainEqual({ type: 'state', state: sources.state() });
    bus.setOwner(':1.7');
    await vi.advanceTimersByTimeAsync(0);
    expect(log).toEqual(['start avahi']);
    expect(sources.state()).toEqual({ kind: 'running' });
  });

  it('answers unknown when stopped, and stops its browser and owner watch', async () => {
    await make(bus, 0).start();
    expect(sources.snapshot()).toEqual({ ok: true, value: [] });
    await sources.stop();
    expect(bus.calls).toEqual([]);
    expect(bus.disposed).toBe(1);
    expect(sources.kind).toBe('none');
    expect(sources.snapshot()).toMatchObject({ ok: false, reason: 'not-running' });
    expect(sources.state()).toMatchObject({ kind: 'unavailable', reason: 'stopped' });
  });
});
