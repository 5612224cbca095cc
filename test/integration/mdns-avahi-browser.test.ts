// The avahi browser (packages/common/src/mdns/avahi-browser.ts) against real avahi-daemons in two
// network namespaces: a DC published with avahi-publish on side A is seen through avahi on side B with
// its interface name, addresses, port and TXT; a TXT change arrives; withdrawal removes it; an avahi
// restart is survived. The browser runs in the test process: it only talks D-Bus to B's private bus.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSystemBus, type SystemBus } from '@stas/common/dbus/bus';
import { AvahiBrowser } from '@stas/common/mdns/avahi-browser';
import type { BrowsedService, DcBrowserEvent } from '@stas/common/mdns/dc-browser';
import { startAvahi, type AvahiDaemon } from './fixtures/avahi.js';
import { Cleanup } from './fixtures/cleanup.js';
import { createNetnsPair, type NetnsPair } from './fixtures/netns.js';
import { recordTiming } from './fixtures/timings.js';
import { waitFor } from './fixtures/wait.js';

const TYPE = '_nvme-disc._tcp';

describe('avahi browser in network namespaces', () => {
  let net: NetnsPair;
  let avahiA: AvahiDaemon;
  let avahiB: AvahiDaemon;
  let bus: SystemBus;
  let browser: AvahiBrowser;
  const events: { at: number; event: DcBrowserEvent }[] = [];
  const cleanup = new Cleanup();

  const services = (): readonly BrowsedService[] => {
    const snap = browser.snapshot();
    return snap.ok ? snap.value : [];
  };
  const find = (name: string, protocol?: 'ipv4' | 'ipv6'): BrowsedService | undefined =>
    services().find((s) => s.name === name && (protocol === undefined || s.protocol === protocol));
  /** Wall-clock time of the first services-changed event after `since` that satisfies `test`. */
  const eventTime = (since: number, test: (list: readonly BrowsedService[]) => boolean): number | undefined =>
    events.find((e) => e.at >= since && e.event.type === 'services-changed' && test(e.event.services))?.at;

  beforeAll(async () => {
    net = await createNetnsPair();
    cleanup.add(() => net.close());
    const link = net.links[0]!;
    avahiA = await startAvahi({ ns: net.nsA, hostName: 'dchost', interfaces: [link.a.iface] });
    cleanup.add(() => avahiA.close());
    avahiB = await startAvahi({ ns: net.nsB, hostName: 'stafhost', interfaces: [link.b.iface] });
    cleanup.add(() => avahiB.close());
    bus = await connectSystemBus({ address: avahiB.busAddress });
    cleanup.add(() => bus.close());
    browser = new AvahiBrowser(bus, { coalesceMs: 20 });
    cleanup.add(() => browser.stop());
    browser.on((event) => events.push({ at: Date.now(), event }));
    await browser.start();
    await waitFor(() => browser.state().kind === 'running', { timeoutMs: 10_000, what: 'browser running' });
  });

  afterAll(() => cleanup.run());

  it('reports a published DC with its interface name, IPv4 and IPv6 address, port and TXT', async () => {
    const link = net.links[0]!;
    const pub = await avahiA.publish('DC one.rack1', TYPE, 8009, [
      'p=tcp',
      'nqn=nqn.2014-08.org.nvmexpress.discovery',
    ]);
    const v4 = await waitFor(() => find('DC one.rack1', 'ipv4'), { timeoutMs: 10_000, what: 'DC over IPv4' });
    const v6 = await waitFor(() => find('DC one.rack1', 'ipv6'), { timeoutMs: 10_000, what: 'DC over IPv6' });
    const seenAt = await waitFor(
      () => eventTime(pub.startedAt, (l) => l.some((s) => s.name === 'DC one.rack1')),
      {
        timeoutMs: 1000,
        what: 'services-changed event',
      },
    );
    recordTiming('avahi', 'avahi-publish start→reported', seenAt - pub.startedAt);
    recordTiming('avahi', 'avahi-publish "Established"→reported', seenAt - pub.establishedAt);
    expect(v4).toMatchObject({ iface: link.b.iface, address: link.a.ipv4, port: 8009, host: 'dchost.local' });
    expect(Object.fromEntries(v4.txt)).toEqual({ p: 'tcp', nqn: 'nqn.2014-08.org.nvmexpress.discovery' });
    expect(v6.iface).toBe(link.b.iface);
    expect([link.a.ipv6]).toContain(v6.address);

    const withdrawnAt = Date.now();
    await pub.withdraw();
    await waitFor(() => find('DC one.rack1') === undefined, { timeoutMs: 10_000, what: 'DC removed' });
    const goneAt = await waitFor(
      () => eventTime(withdrawnAt, (l) => !l.some((s) => s.name === 'DC one.rack1')),
      {
        timeoutMs: 1000,
        what: 'services-changed event',
      },
    );
    recordTiming('avahi', 'withdraw→removed', goneAt - withdrawnAt);
    expect(browser.snapshot()).toEqual({ ok: true, value: [] });
  });

  it('passes on a TXT change of a live service', async () => {
    const group = await avahiA.publishGroup('DC txt', TYPE, 8009, [
      'p=tcp',
      'nqn=nqn.2014-08.org.example:one',
    ]);
    try {
      await waitFor(() => find('DC txt', 'ipv4')?.txt.get('nqn') === 'nqn.2014-08.org.example:one', {
        timeoutMs: 10_000,
        what: 'first TXT',
      });
      await group.updateTxt(['p=tcp', 'nqn=nqn.2014-08.org.example:two']);
      const changed = await waitFor(
        () => find('DC txt', 'ipv4')?.txt.get('nqn') === 'nqn.2014-08.org.example:two',
        {
          timeoutMs: 10_000,
          what: 'changed TXT',
        },
      );
      expect(changed).toBe(true);
    } finally {
      await group.withdraw();
    }
    await waitFor(() => find('DC txt') === undefined, { timeoutMs: 10_000, what: 'DC txt removed' });
  });

  it('goes unavailable when avahi-daemon stops and finds the DC again after a restart', async () => {
    const pub = await avahiA.publish('DC restart', TYPE, 4420, ['p=tcp']);
    await waitFor(() => find('DC restart', 'ipv4'), { timeoutMs: 10_000, what: 'DC before restart' });

    await avahiB.stop();
    await waitFor(() => browser.state().kind === 'unavailable', { timeoutMs: 5000, what: 'unavailable' });
    expect(browser.state()).toMatchObject({ kind: 'unavailable', reason: 'avahi-absent' });
    expect(browser.snapshot()).toMatchObject({ ok: false, reason: 'not-running' });

    const restartedAt = Date.now();
    await avahiB.start();
    const again = await waitFor(() => find('DC restart', 'ipv4'), {
      timeoutMs: 15_000,
      what: 'DC after restart',
    });
    recordTiming('avahi', 'avahi restart→seen again', Date.now() - restartedAt);
    expect(again).toMatchObject({ iface: net.links[0]!.b.iface, port: 4420 });
    await waitFor(() => browser.state().kind === 'running', { timeoutMs: 10_000, what: 'running again' });
    await pub.withdraw();
    await waitFor(() => find('DC restart') === undefined, {
      timeoutMs: 10_000,
      what: 'removed after restart',
    });
  });

  it('leaves no match rules or name watches behind after stop()', async () => {
    const other = new AvahiBrowser(bus);
    const before = bus.stats();
    await other.start();
    await waitFor(() => other.state().kind === 'running', {
      timeoutMs: 10_000,
      what: 'second browser running',
    });
    await other.stop();
    const after = bus.stats();
    expect(after.matchRules).toBe(before.matchRules);
    expect(after.subscriptions).toBe(before.subscriptions);
    expect(other.snapshot()).toMatchObject({ ok: false });
  });
});
