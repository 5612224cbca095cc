// The embedded mDNS browser (packages/common/src/mdns/embedded-browser.ts) against a real avahi-daemon:
// avahi publishes in namespace A; the browser runs in namespace B (which has no avahi and no default
// route) in a child process (fixtures/mdns-browser-child.mjs, built code), so that its multicast sockets
// see B's interfaces. Covered: discovery with interface, addresses, port and TXT; a TXT change; removal
// after a goodbye; an interface added and removed later; hostile packets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAvahi, type AvahiDaemon } from './fixtures/avahi.js';
import { Cleanup } from './fixtures/cleanup.js';
import { JsonChild, type Message } from './fixtures/json-child.js';
import { createNetnsPair, type NetnsPair } from './fixtures/netns.js';
import { recordTiming } from './fixtures/timings.js';
import { waitFor } from './fixtures/wait.js';

const TYPE = '_nvme-disc._tcp';
const CHILD = new URL('./fixtures/mdns-browser-child.mjs', import.meta.url).pathname;
const HOSTILE = new URL('./fixtures/mdns-send-hostile.mjs', import.meta.url).pathname;

interface PlainService {
  readonly iface: string;
  readonly address: string;
  readonly port: number;
  readonly txt: Readonly<Record<string, string>>;
  readonly name: string;
  readonly host: string;
  readonly protocol: 'ipv4' | 'ipv6';
}

function servicesOf(message: Message): readonly PlainService[] | undefined {
  const event = message.event as { type?: string; services?: PlainService[] } | undefined;
  return event?.type === 'services-changed' ? event.services : undefined;
}

describe('embedded mDNS browser in network namespaces', () => {
  let net: NetnsPair;
  let avahiA: AvahiDaemon;
  let child: JsonChild;
  const cleanup = new Cleanup();

  /** The first services-changed at or after `since` whose list satisfies `test`. */
  const changed = (
    what: string,
    test: (list: readonly PlainService[]) => boolean,
    since = 0,
    timeoutMs = 10_000,
  ) =>
    child.waitFor(
      (m) => {
        const list = servicesOf(m);
        return list !== undefined && test(list);
      },
      what,
      timeoutMs,
      since,
    );
  const named = (list: readonly PlainService[], name: string) => list.filter((s) => s.name === name);

  beforeAll(async () => {
    net = await createNetnsPair();
    cleanup.add(() => net.close());
    const names = [net.ifaceNames(0).a, net.ifaceNames(1).a];
    avahiA = await startAvahi({ ns: net.nsA, hostName: 'dchost', interfaces: names });
    cleanup.add(() => avahiA.close());
    const options = JSON.stringify({ interfacePollMs: 300, coalesceMs: 20, settleMs: 500 });
    child = new JsonChild(
      net.spawn(net.nsB, process.execPath, [CHILD, 'embedded', options], { stdio: 'pipe' }),
    );
    cleanup.add(() => child.close());
    await child.waitFor((m) => m.started === true, 'child started');
    await child.waitFor(
      (m) => (m.event as { state?: { kind?: string } } | undefined)?.state?.kind === 'running',
      'running',
    );
  });

  afterAll(() => cleanup.run());

  it('finds a DC published with avahi-publish, with interface, IPv4 and IPv6 address, port and TXT', async () => {
    const link = net.links[0]!;
    const pub = await avahiA.publish('DC one.rack1', TYPE, 8009, [
      'p=tcp',
      'nqn=nqn.2014-08.org.nvmexpress.discovery',
    ]);
    const seen = await changed(
      'DC seen on both families',
      (l) => named(l, 'DC one.rack1').length === 2,
      pub.startedAt,
    );
    const first = await changed('DC first seen', (l) => named(l, 'DC one.rack1').length > 0, pub.startedAt);
    recordTiming('embedded', 'avahi-publish start→reported', first.at - pub.startedAt);
    recordTiming('embedded', 'avahi-publish "Established"→reported', first.at - pub.establishedAt);
    const entries = named(servicesOf(seen)!, 'DC one.rack1');
    expect(entries).toEqual(
      expect.arrayContaining([
        {
          iface: link.b.iface,
          address: link.a.ipv4,
          port: 8009,
          txt: { p: 'tcp', nqn: 'nqn.2014-08.org.nvmexpress.discovery' },
          name: 'DC one.rack1',
          host: 'dchost.local',
          protocol: 'ipv4',
        },
        expect.objectContaining({ iface: link.b.iface, address: link.a.ipv6, protocol: 'ipv6', port: 8009 }),
      ]),
    );

    const withdrawnAt = Date.now();
    await pub.withdraw();
    const gone = await changed(
      'DC removed after goodbye',
      (l) => named(l, 'DC one.rack1').length === 0,
      withdrawnAt,
    );
    recordTiming('embedded', 'withdraw (goodbye)→removed', gone.at - withdrawnAt);
    expect(gone.at - withdrawnAt).toBeGreaterThanOrEqual(900); // RFC 6762 §10.1: one second after the goodbye
  });

  it('passes on a TXT change of a live service', async () => {
    const since = Date.now();
    const group = await avahiA.publishGroup('DC txt', TYPE, 8009, [
      'p=tcp',
      'nqn=nqn.2014-08.org.example:one',
    ]);
    try {
      await changed(
        'first TXT',
        (l) => named(l, 'DC txt').some((s) => s.txt.nqn === 'nqn.2014-08.org.example:one'),
        since,
      );
      const changedAt = Date.now();
      await group.updateTxt(['p=tcp', 'nqn=nqn.2014-08.org.example:two']);
      const after = await changed(
        'changed TXT',
        (l) =>
          named(l, 'DC txt').length > 0 &&
          named(l, 'DC txt').every((s) => s.txt.nqn === 'nqn.2014-08.org.example:two'),
        changedAt,
      );
      recordTiming('embedded', 'TXT update→reported', after.at - changedAt);
      expect(named(servicesOf(after)!, 'DC txt').map((s) => s.txt.nqn)).not.toContain(
        'nqn.2014-08.org.example:one',
      );
    } finally {
      await group.withdraw();
    }
    await changed('DC txt removed', (l) => named(l, 'DC txt').length === 0, since);
  });

  it('picks up an interface that appears later and drops one that goes away', async () => {
    const pub = await avahiA.publish('DC hotplug', TYPE, 4420, ['p=tcp']);
    const first = await changed(
      'DC on the first link',
      (l) => named(l, 'DC hotplug').length > 0,
      pub.startedAt,
    );
    recordTiming('embedded', 'avahi-publish start→reported (avahi settled)', first.at - pub.startedAt);
    recordTiming(
      'embedded',
      'avahi-publish "Established"→reported (avahi settled)',
      first.at - pub.establishedAt,
    );
    await changed('DC on the first link, both families', (l) => named(l, 'DC hotplug').length === 2);
    const addedAt = Date.now();
    const link = await net.addLink();
    const both = await changed(
      'DC on the new link',
      (l) => named(l, 'DC hotplug').some((s) => s.iface === link.b.iface && s.address === link.a.ipv4),
      addedAt,
      15_000,
    );
    recordTiming('embedded', 'interface added→DC reported on it', both.at - addedAt);
    expect(new Set(named(servicesOf(both)!, 'DC hotplug').map((s) => s.iface))).toEqual(
      new Set([net.links[0]!.b.iface, link.b.iface]),
    );

    const removedAt = Date.now();
    await net.removeLink(link.index);
    const after = await changed(
      'DC gone from the removed link',
      (l) => !named(l, 'DC hotplug').some((s) => s.iface === link.b.iface),
      removedAt,
    );
    expect(named(servicesOf(after)!, 'DC hotplug').map((s) => s.iface)).toEqual([
      net.links[0]!.b.iface,
      net.links[0]!.b.iface,
    ]);
    await pub.withdraw();
    await changed('DC hotplug removed', (l) => named(l, 'DC hotplug').length === 0, removedAt);
  });

  it('counts hostile packets without reporting them or failing', async () => {
    const before = (await child.request('stats', 'stats')).stats as Record<string, number>;
    const { stdout } = await net.exec(net.nsA, process.execPath, [HOSTILE, net.links[0]!.a.ipv4, 'Hostile']);
    expect(stdout.trim()).toBe('sent');
    const stats = await waitFor(
      async () => {
        const s = (await child.request('stats', 'stats')).stats as Record<string, number>;
        return s.badPackets! > before.badPackets! &&
          s.refusedPackets! >= before.refusedPackets! + 2 &&
          s.invalidRecords! > before.invalidRecords!
          ? s
          : false;
      },
      { timeoutMs: 5000, intervalMs: 50, what: 'hostile packets counted' },
    );
    expect(stats.sendErrors).toBe(before.sendErrors); // nothing hostile made a query fail
    const snapshot = (await child.request('snapshot', 'snapshot')).snapshot as {
      ok: boolean;
      value?: PlainService[];
    };
    expect(snapshot.ok).toBe(true);
    expect(snapshot.value?.filter((s) => s.name === 'Hostile' || s.address === '127.0.0.1')).toEqual([]);
    expect(child.exited).toBe(false);
  });
});
