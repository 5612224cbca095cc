// The D-Bus wrapper (packages/common/src/dbus/bus.ts) against a real, private dbus-daemon: calls, typed
// errors, properties, signals with sender checks, name owners, limits, disconnects and clean-up.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Variant } from '@particle/dbus-next';
import {
  connectSystemBus,
  type Disposer,
  type ExportedInterface,
  type ReceivedSignal,
  type SystemBus,
} from '@stas/common/dbus/bus';
import { BusError, ServiceError } from '@stas/common/dbus/bus-error';
import type { InterfaceSpec } from '@stas/common/dbus/interface-spec';
import type { InterfaceImpl } from '@stas/common/dbus/service-export';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';
import { waitFor } from './fixtures/wait.js';

const NAME = 'org.stas.Test';
const PATH = '/org/stas/Test';
const LOCATION = { busName: NAME, objectPath: PATH } as const;
const ERROR_PREFIX = 'org.stas.Test.Error';

const TEST_IFACE = {
  name: 'org.stas.Test',
  methods: {
    echo: { in: [{ name: 'text', type: 's' }], out: [{ name: 'echoed', type: 's' }] },
    list: { in: [{ name: 'detailed', type: 'b' }], out: [{ name: 'items', type: 'aa{ss}' }] },
    whoami: {
      in: [],
      out: [
        { name: 'sender', type: 's' },
        { name: 'uid', type: 'u' },
      ],
    },
    fail: { in: [{ name: 'kind', type: 's' }], out: [] },
    crash: { in: [], out: [] },
    bad_reply: { in: [], out: [{ name: 'items', type: 'aa{ss}' }] },
    hold: { in: [{ name: 'id', type: 'u' }], out: [{ name: 'id', type: 'u' }] },
    tick: { in: [{ name: 'id', type: 'u' }], out: [{ name: 'id', type: 'u' }] },
  },
  properties: {
    tron: { type: 'b', access: 'readwrite' },
    level: { type: 's', access: 'read' },
  },
  signals: {
    changed: {
      args: [
        { name: 'what', type: 's' },
        { name: 'device', type: 's' },
      ],
    },
    removed: { args: [] },
  },
} as const satisfies InterfaceSpec;

interface Held {
  id: number;
  release: () => void;
}

/** A test service: records what it saw, holds `hold` calls until released. */
function makeService() {
  const state = {
    tron: false,
    held: [] as Held[],
    inFlight: 0,
    peak: 0,
    handlerErrors: [] as unknown[],
    lastSetter: '',
  };
  const impl: InterfaceImpl<typeof TEST_IFACE> = {
    methods: {
      echo: ({ text }) => text,
      list: ({ detailed }): Record<string, string>[] => [
        { traddr: '10.0.0.1', trsvcid: '8009', device: 'nvme?' },
        detailed ? { traddr: '10.0.0.2', connected: 'True' } : { traddr: '10.0.0.2' },
      ],
      whoami: async (_args, ctx) => ({ sender: ctx.sender, uid: await ctx.callerUid() }),
      fail: ({ kind }) => {
        if (kind === 'NotFound') throw new ServiceError('NotFound', 'no such controller: 10.0.0.9');
        throw new ServiceError('Failed', `failed: ${kind}`);
      },
      crash: () => {
        throw new Error('secret detail /etc/nvme/hostkey');
      },
      bad_reply: () => [{ traddr: 7 as unknown as string }],
      hold: ({ id }) =>
        new Promise<number>((resolve) => {
          state.held.push({
            id,
            release: () => {
              resolve(id);
            },
          });
        }),
      tick: async ({ id }) => {
        state.inFlight++;
        state.peak = Math.max(state.peak, state.inFlight);
        await new Promise<void>((resolve) => setImmediate(resolve));
        state.inFlight--;
        return id;
      },
    },
    properties: {
      tron: {
        get: () => state.tron,
        set: (value, ctx) => {
          state.tron = value;
          state.lastSetter = ctx.sender;
        },
      },
      level: { get: () => (state.tron ? 'DEBUG' : 'INFO') },
    },
  };
  return { state, impl };
}

function releaseAll(held: Held[]): void {
  for (const h of held.splice(0)) h.release();
}

async function rejection(promise: Promise<unknown>): Promise<BusError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof BusError)) throw new Error(`expected a BusError, got ${String(err)}`);
  return err;
}

describe('D-Bus wrapper on a private dbus-daemon', () => {
  let daemon: DbusDaemon;
  let service: SystemBus;
  let client: SystemBus;
  let svc: ReturnType<typeof makeService>;
  let exported: ExportedInterface<typeof TEST_IFACE>;
  const disposers: Disposer[] = [];

  beforeAll(async () => {
    daemon = await startDbusDaemon();
    service = await connectSystemBus({ address: daemon.address });
    client = await connectSystemBus({ address: daemon.address });
    svc = makeService();
    exported = service.exportInterface(PATH, TEST_IFACE, svc.impl, {
      errorPrefix: ERROR_PREFIX,
      onHandlerError: (err) => svc.state.handlerErrors.push(err),
    });
    await service.requestName(NAME);
  });

  afterEach(async () => {
    releaseAll(svc.state.held);
    for (const dispose of disposers.splice(0)) await dispose();
  });

  afterAll(async () => {
    await client.close();
    await service.close();
    await daemon.close();
  });

  describe('method calls', () => {
    it('round-trips b -> aa{ss} through a typed call', async () => {
      const items = await client.callMethod(LOCATION, TEST_IFACE, 'list', { detailed: true });
      expect(items).toEqual([
        { traddr: '10.0.0.1', trsvcid: '8009', device: 'nvme?' },
        { traddr: '10.0.0.2', connected: 'True' },
      ]);
    });

    it('round-trips s -> s, including non-ASCII text', async () => {
      const text = 'nqn.2014-08.org.nvmexpress:uuid:é✓';
      expect(await client.callMethod(LOCATION, TEST_IFACE, 'echo', { text })).toBe(text);
    });

    it('returns several out-arguments as an object, and tells the handler who called', async () => {
      const who = await client.callMethod(LOCATION, TEST_IFACE, 'whoami', {});
      expect(who).toEqual({ sender: client.uniqueName, uid: process.getuid?.() ?? 0 });
    });

    it('makes low-level calls by signature without introspection', async () => {
      const body = await client.call(NAME, PATH, TEST_IFACE.name, 'list', 'b', [false], {
        replySignature: 'aa{ss}',
      });
      expect(body).toEqual([
        [{ traddr: '10.0.0.1', trsvcid: '8009', device: 'nvme?' }, { traddr: '10.0.0.2' }],
      ]);
    });

    it('refuses arguments that do not fit the signature before sending', async () => {
      const err = await rejection(client.call(NAME, PATH, TEST_IFACE.name, 'echo', 's', [42]));
      expect(err.code).toBe('DBUS_INVALID_ARGS');
      expect(client.stats().pendingCalls).toBe(0);
    });

    it('fails with DBUS_BAD_REPLY when the reply signature is not the expected one', async () => {
      const err = await rejection(
        client.call(NAME, PATH, TEST_IFACE.name, 'echo', 's', ['x'], { replySignature: 'b' }),
      );
      expect(err.code).toBe('DBUS_BAD_REPLY');
    });
  });

  describe('errors', () => {
    it('maps a ServiceError to <prefix>.<Kind> with its message', async () => {
      const err = await rejection(client.callMethod(LOCATION, TEST_IFACE, 'fail', { kind: 'NotFound' }));
      expect(err.code).toBe('DBUS_REMOTE_ERROR');
      expect(err.remoteName).toBe('org.stas.Test.Error.NotFound');
      expect(err.remoteText).toBe('no such controller: 10.0.0.9');
    });

    it('answers an unexpected handler error with <prefix>.Internal and no detail or stack', async () => {
      const before = svc.state.handlerErrors.length;
      const err = await rejection(client.callMethod(LOCATION, TEST_IFACE, 'crash', {}));
      expect(err.remoteName).toBe('org.stas.Test.Error.Internal');
      expect(err.remoteText).toBe('internal error');
      expect(err.message).not.toMatch(/hostkey|\bat\s|\.ts:/);
      expect(svc.state.handlerErrors.length).toBe(before + 1);
    });

    it('answers a handler result that does not fit the out signature with <prefix>.Internal', async () => {
      const err = await rejection(client.callMethod(LOCATION, TEST_IFACE, 'bad_reply', {}));
      expect(err.remoteName).toBe('org.stas.Test.Error.Internal');
      expect(svc.state.handlerErrors.at(-1)).toBeInstanceOf(BusError);
    });

    it('classifies an unknown method and an unowned destination', async () => {
      const unknown = await rejection(client.call(NAME, PATH, TEST_IFACE.name, 'nope', '', []));
      expect(unknown.code).toBe('DBUS_UNKNOWN_MEMBER');
      const nobody = await rejection(
        client.call('org.stas.Nobody', PATH, TEST_IFACE.name, 'echo', 's', ['x']),
      );
      expect(nobody.code).toBe('DBUS_SERVICE_UNKNOWN');
    });

    it('times out a call that gets no reply, and aborts one on request', async () => {
      const timedOut = await rejection(
        client.callMethod(LOCATION, TEST_IFACE, 'hold', { id: 1 }, { timeoutMs: 50 }),
      );
      expect(timedOut.code).toBe('DBUS_TIMEOUT');
      const controller = new AbortController();
      const pending = client.callMethod(
        LOCATION,
        TEST_IFACE,
        'hold',
        { id: 2 },
        { signal: controller.signal },
      );
      await waitFor(() => svc.state.held.some((h) => h.id === 2), { timeoutMs: 5000, what: 'call 2 held' });
      controller.abort(new Error('user gave up'));
      expect((await rejection(pending)).code).toBe('DBUS_ABORTED');
      expect(client.stats().pendingCalls).toBe(0);
    });
  });

  describe('properties', () => {
    it('gets and sets a property, and Set sends PropertiesChanged with every changed value', async () => {
      const seen: ReceivedSignal[] = [];
      disposers.push(
        await client.subscribeSignal(
          {
            sender: NAME,
            path: PATH,
            interface: 'org.freedesktop.DBus.Properties',
            member: 'PropertiesChanged',
          },
          (signal) => seen.push(signal),
        ),
      );
      expect(await client.getProperty(LOCATION, TEST_IFACE, 'tron')).toBe(false);
      await client.setProperty(LOCATION, TEST_IFACE, 'tron', true);
      await client.setProperty(LOCATION, TEST_IFACE, 'tron', true); // no change: no signal
      await client.setProperty(LOCATION, TEST_IFACE, 'tron', false);
      expect(await client.getProperty(LOCATION, TEST_IFACE, 'level')).toBe('INFO');
      await waitFor(() => seen.length >= 2, { timeoutMs: 5000, what: 'two PropertiesChanged' });
      const changes = seen.map((s) => {
        const [iface, changed] = s.body as [string, Record<string, Variant<unknown>>];
        return { iface, tron: changed.tron?.value, level: changed.level?.value };
      });
      expect(changes).toEqual([
        { iface: TEST_IFACE.name, tron: true, level: 'DEBUG' },
        { iface: TEST_IFACE.name, tron: false, level: 'INFO' },
      ]);
      expect(svc.state.lastSetter).toBe(client.uniqueName);
    });

    it('refuses to Set a read-only property with one PropertyReadOnly error', async () => {
      const err = await rejection(
        client.call(NAME, PATH, 'org.freedesktop.DBus.Properties', 'Set', 'ssv', [
          TEST_IFACE.name,
          'level',
          new Variant('s', 'DEBUG'),
        ]),
      );
      expect(err.remoteName).toBe('org.freedesktop.DBus.Error.PropertyReadOnly');
      expect(await client.getProperty(LOCATION, TEST_IFACE, 'level')).toBe('INFO');
    });

    it('sends PropertiesChanged on request for changes made inside the service', async () => {
      const seen: ReceivedSignal[] = [];
      disposers.push(
        await client.subscribeSignal(
          {
            sender: NAME,
            path: PATH,
            interface: 'org.freedesktop.DBus.Properties',
            member: 'PropertiesChanged',
          },
          (signal) => seen.push(signal),
        ),
      );
      expect(exported.propertiesChanged(['level'])).toBe(true);
      await waitFor(() => seen.length === 1, { timeoutMs: 5000, what: 'PropertiesChanged' });
      const [, changed] = seen[0]!.body as [string, Record<string, Variant<unknown>>];
      expect(Object.keys(changed)).toEqual(['level']);
    });
  });

  describe('signals', () => {
    it('delivers typed signals from the owner of the name and drops a spoofed one from another connection', async () => {
      const spoofer = await connectSystemBus({ address: daemon.address });
      try {
        const genuine: { what: string; device: string }[] = [];
        const fromSpoofer: ReceivedSignal[] = [];
        disposers.push(await client.subscribe(LOCATION, TEST_IFACE, 'changed', (args) => genuine.push(args)));
        // A second subscription makes the bus route the spoofer's signals to the client at all.
        disposers.push(
          await client.subscribeSignal({ sender: spoofer.uniqueName, interface: TEST_IFACE.name }, (s) =>
            fromSpoofer.push(s),
          ),
        );
        const spoofed = spoofer.exportInterface(PATH, TEST_IFACE, makeService().impl, {
          errorPrefix: ERROR_PREFIX,
        });
        const dropped = client.stats().droppedSignals;
        expect(spoofed.emit('changed', { what: 'spoofed', device: 'nvme9' })).toBe(true);
        await waitFor(() => fromSpoofer.length === 1, {
          timeoutMs: 5000,
          what: 'the spoofed signal to arrive',
        });
        expect(exported.emit('changed', { what: 'genuine', device: 'nvme1' })).toBe(true);
        await waitFor(() => genuine.length === 1, { timeoutMs: 5000, what: 'the genuine signal' });
        expect(genuine).toEqual([{ what: 'genuine', device: 'nvme1' }]);
        // One drop per subscription that saw a signal from the wrong sender: the spoofed signal (for the
        // name subscription) and the genuine one (for the subscription to the spoofer).
        expect(client.stats().droppedSignals).toBe(dropped + 2);
        expect(fromSpoofer.map((s) => s.body)).toEqual([['spoofed', 'nvme9']]);
      } finally {
        await spoofer.close();
      }
    });

    it('delivers a signal without arguments', async () => {
      let count = 0;
      disposers.push(
        await client.subscribe(LOCATION, TEST_IFACE, 'removed', () => {
          count++;
        }),
      );
      exported.emit('removed', {});
      await waitFor(() => count === 1, { timeoutMs: 5000, what: 'removed signal' });
      expect(count).toBe(1);
    });

    it('adds and removes exactly as many match rules as it needs (no leak)', async () => {
      const stats = async (): Promise<number> => {
        const [dict] = await client.call(
          'org.freedesktop.DBus',
          '/org/freedesktop/DBus',
          'org.freedesktop.DBus.Debug.Stats',
          'GetConnectionStats',
          's',
          [client.uniqueName],
          { replySignature: 'a{sv}' },
        );
        return (dict as Record<string, Variant<number>>).MatchRules!.value;
      };
      const rulesBefore = await stats();
      const ours = client.stats();
      for (let i = 0; i < 20; i++) {
        const a = await client.subscribe(LOCATION, TEST_IFACE, 'changed', () => undefined);
        const b = await client.subscribe(LOCATION, TEST_IFACE, 'changed', () => undefined);
        const c = await client.watchNameOwner('org.stas.Watched', () => undefined);
        await Promise.all([a(), b(), c(), a()]);
      }
      expect(await stats()).toBe(rulesBefore);
      const after = client.stats();
      expect(after.matchRules).toBe(ours.matchRules);
      expect(after.addMatchCalls - ours.addMatchCalls).toBe(after.removeMatchCalls - ours.removeMatchCalls);
      expect(after.subscriptions).toBe(ours.subscriptions);
      expect(after.watchedNames).toBe(ours.watchedNames);
    });
  });

  describe('names', () => {
    it('reports the owner of a name as it appears and disappears', async () => {
      const owners: (string | null)[] = [];
      disposers.push(await client.watchNameOwner('org.stas.Other', (owner) => owners.push(owner)));
      const other = await connectSystemBus({ address: daemon.address });
      await other.requestName('org.stas.Other');
      await waitFor(() => owners.length === 2, { timeoutMs: 5000, what: 'owner to appear' });
      await other.close();
      await waitFor(() => owners.length === 3, { timeoutMs: 5000, what: 'owner to disappear' });
      expect(owners).toEqual([null, other.uniqueName, null]);
      expect(await client.getNameOwner(NAME)).toBe(service.uniqueName);
      expect(await client.getNameOwner('org.stas.Other')).toBeNull();
    });

    it('starts a watch with the current owner', async () => {
      const owners: (string | null)[] = [];
      disposers.push(await client.watchNameOwner(NAME, (owner) => owners.push(owner)));
      expect(owners).toEqual([service.uniqueName]);
    });

    it('fails with DBUS_NAME_TAKEN when another connection owns the name', async () => {
      const err = await rejection(client.requestName(NAME));
      expect(err.code).toBe('DBUS_NAME_TAKEN');
      expect(await client.getNameOwner(NAME)).toBe(service.uniqueName);
    });
  });

  describe('limits', () => {
    it('keeps at most maxConcurrentCalls calls in flight and completes all of them', async () => {
      const bounded = await connectSystemBus({ address: daemon.address, maxConcurrentCalls: 4 });
      try {
        svc.state.peak = 0;
        const ids = Array.from({ length: 60 }, (_, i) => i);
        const calls = ids.map((id) => bounded.callMethod(LOCATION, TEST_IFACE, 'tick', { id }));
        expect(bounded.stats().queuedCalls).toBe(56);
        expect(await Promise.all(calls)).toEqual(ids);
        expect(svc.state.peak).toBeLessThanOrEqual(4);
        expect(bounded.stats()).toMatchObject({ pendingCalls: 0, queuedCalls: 0 });
      } finally {
        await bounded.close();
      }
    });

    it('maps the bus daemon refusing more pending replies to DBUS_LIMITS_EXCEEDED', async () => {
      const small = await startDbusDaemon({ limits: { max_replies_per_connection: 8 } });
      const held = makeService();
      const host = await connectSystemBus({ address: small.address });
      const caller = await connectSystemBus({ address: small.address, maxConcurrentCalls: 100 });
      try {
        host.exportInterface(PATH, TEST_IFACE, held.impl, { errorPrefix: ERROR_PREFIX });
        await host.requestName(NAME);
        const calls = Array.from({ length: 20 }, (_, id) =>
          caller.callMethod(LOCATION, TEST_IFACE, 'hold', { id }).then(
            () => 'ok',
            (e: unknown) => (e instanceof BusError ? e.code : 'other'),
          ),
        );
        await waitFor(() => held.state.held.length === 8, { timeoutMs: 5000, what: '8 held calls' });
        releaseAll(held.state.held);
        const outcomes = await Promise.all(calls);
        expect(outcomes.filter((o) => o === 'ok')).toHaveLength(8);
        expect(outcomes.filter((o) => o === 'DBUS_LIMITS_EXCEEDED')).toHaveLength(12);
      } finally {
        await caller.close();
        await host.close();
        await small.close();
      }
    });
  });
});

describe('D-Bus connection life cycle', () => {
  it('takes the address from the environment when no option is given', async () => {
    const daemon = await startDbusDaemon();
    try {
      const bus = await connectSystemBus({ env: { DBUS_SYSTEM_BUS_ADDRESS: daemon.address } });
      expect(bus.address).toBe(daemon.address);
      expect(bus.uniqueName).toMatch(/^:1\.\d+$/);
      await bus.close();
    } finally {
      await daemon.close();
    }
  });

  it('fails with DBUS_CONNECT_FAILED when nothing listens, and DBUS_ADDRESS_UNSUPPORTED for abstract sockets', async () => {
    const missing = await rejection(connectSystemBus({ address: 'unix:path=/nonexistent/stas/bus.sock' }));
    expect(missing.code).toBe('DBUS_CONNECT_FAILED');
    const abstract = await rejection(connectSystemBus({ address: 'unix:abstract=/tmp/dbus-x' }));
    expect(abstract.code).toBe('DBUS_ADDRESS_UNSUPPORTED');
  });

  it('tells onDisconnect listeners when the bus daemon dies, and fails pending and later calls', async () => {
    const daemon = await startDbusDaemon();
    const svc = makeService();
    const host = await connectSystemBus({ address: daemon.address });
    const bus = await connectSystemBus({ address: daemon.address });
    try {
      host.exportInterface(PATH, TEST_IFACE, svc.impl, { errorPrefix: ERROR_PREFIX });
      await host.requestName(NAME);
      const lost: string[] = [];
      bus.onDisconnect((info) => lost.push(info.reason));
      const pending = rejection(bus.callMethod(LOCATION, TEST_IFACE, 'hold', { id: 1 }));
      await waitFor(() => svc.state.held.length === 1, { timeoutMs: 5000, what: 'call held' });
      await daemon.kill('SIGKILL');
      await waitFor(() => lost.length === 1, { timeoutMs: 5000, what: 'disconnect event' });
      expect(bus.closed).toBe(true);
      expect((await pending).code).toBe('DBUS_DISCONNECTED');
      expect((await rejection(bus.callMethod(LOCATION, TEST_IFACE, 'echo', { text: 'x' }))).code).toBe(
        'DBUS_DISCONNECTED',
      );
    } finally {
      await bus.close();
      await host.close();
      await daemon.close();
    }
  });

  it('leaves no sockets or timers behind after close(), and close() is not a disconnect event', async () => {
    const daemon = await startDbusDaemon();
    try {
      const handles = (): Record<string, number> => {
        const counts: Record<string, number> = {};
        for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
        return counts;
      };
      const before = handles();
      const bus = await connectSystemBus({ address: daemon.address });
      let events = 0;
      bus.onDisconnect(() => events++);
      await bus.watchNameOwner('org.stas.Anything', () => undefined);
      await bus.subscribeSignal({ sender: 'org.stas.Anything', interface: 'org.stas.Test' }, () => undefined);
      await bus.call(
        'org.freedesktop.DBus',
        '/org/freedesktop/DBus',
        'org.freedesktop.DBus',
        'GetId',
        '',
        [],
      );
      await bus.close();
      await bus.close(); // idempotent
      expect(bus.closed).toBe(true);
      expect(events).toBe(0);
      await waitFor(() => JSON.stringify(handles()) === JSON.stringify(before), {
        timeoutMs: 5000,
        what: `handles back to ${JSON.stringify(before)}`,
      });
      expect(handles()).toEqual(before);
    } finally {
      await daemon.close();
    }
  });
});
