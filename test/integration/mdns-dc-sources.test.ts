// selectBrowser (packages/common/src/mdns/dc-sources.ts) in a network namespace: with no avahi on the
// bus the embedded browser finds a DC; when avahi-daemon appears the embedded browser is stopped and
// the avahi browser takes over; when avahi leaves, the embedded browser comes back after the fallback
// delay. The source runs in a child process in namespace B (its embedded sockets must be there); B's
// avahi-daemon uses the same private bus the child is connected to.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAvahi, type AvahiDaemon } from './fixtures/avahi.js';
import { Cleanup } from './fixtures/cleanup.js';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';
import { JsonChild, type Message } from './fixtures/json-child.js';
import { createNetnsPair, type NetnsPair } from './fixtures/netns.js';
import { recordTiming } from './fixtures/timings.js';

const TYPE = '_nvme-disc._tcp';
const CHILD = new URL('./fixtures/mdns-browser-child.mjs', import.meta.url).pathname;

interface PlainService {
  readonly iface: string;
  readonly address: string;
  readonly name: string;
}

const servicesOf = (m: Message): readonly PlainService[] | undefined => {
  const event = m.event as { type?: string; services?: PlainService[] } | undefined;
  return event?.type === 'services-changed' ? event.services : undefined;
};
const sourceOf = (m: Message): string | undefined => {
  const event = m.event as { type?: string; source?: string } | undefined;
  return event?.type === 'source' ? event.source : undefined;
};

describe('mDNS source selection in network namespaces', () => {
  let net: NetnsPair;
  let busB: DbusDaemon;
  let avahiA: AvahiDaemon;
  let child: JsonChild;
  const cleanup = new Cleanup();

  beforeAll(async () => {
    net = await createNetnsPair();
    cleanup.add(() => net.close());
    avahiA = await startAvahi({ ns: net.nsA, hostName: 'dchost', interfaces: [net.links[0]!.a.iface] });
    cleanup.add(() => avahiA.close());
    busB = await startDbusDaemon();
    cleanup.add(() => busB.close());
    const options = JSON.stringify({
      busAddress: `unix:path=${busB.socketPath}`,
      fallbackDelayMs: 300,
      interfacePollMs: 500,
      coalesceMs: 20,
    });
    child = new JsonChild(
      net.spawn(net.nsB, process.execPath, [CHILD, 'sources', options], { stdio: 'pipe' }),
    );
    cleanup.add(() => child.close());
    await child.waitFor((m) => m.started === true, 'child started');
  });

  afterAll(() => cleanup.run());

  it('uses the embedded browser without avahi, avahi when it appears, and falls back when it leaves', async () => {
    const link = net.links[0]!;
    expect(child.find((m) => sourceOf(m) !== undefined && sourceOf(m) !== 'none')?.event).toEqual({
      type: 'source',
      source: 'embedded',
    });
    const pub = await avahiA.publish('DC switch', TYPE, 8009, ['p=tcp']);
    const hasDc = (m: Message): boolean =>
      servicesOf(m)?.some(
        (s) => s.name === 'DC switch' && s.iface === link.b.iface && s.address === link.a.ipv4,
      ) ?? false;
    await child.waitFor(hasDc, 'DC through the embedded browser');

    const avahiStartedAt = Date.now();
    const avahiB = await startAvahi({
      ns: net.nsB,
      hostName: 'stafhost',
      interfaces: [link.b.iface],
      bus: busB,
    });
    cleanup.add(() => avahiB.close());
    const toAvahi = await child.waitFor(
      (m) => sourceOf(m) === 'avahi',
      'switch to avahi',
      10_000,
      avahiStartedAt,
    );
    const viaAvahi = await child.waitFor(hasDc, 'DC through avahi', 10_000, toAvahi.at);
    recordTiming('sources', 'avahi on the bus→DC reported through avahi', viaAvahi.at - avahiStartedAt);
    const stats = await child.request('stats', 'stats');
    expect(stats.kind).toBe('avahi');
    // The embedded browser was stopped (sockets closed) before the avahi browser started.
    const order = child.messages
      .filter((m) => m.at >= avahiStartedAt && sourceOf(m) !== undefined)
      .map(sourceOf);
    expect(order.slice(0, 2)).toEqual(['none', 'avahi']);

    const stoppedAt = Date.now();
    await avahiB.stop();
    const back = await child.waitFor(
      (m) => sourceOf(m) === 'embedded',
      'fallback to embedded',
      10_000,
      stoppedAt,
    );
    expect(back.at - stoppedAt).toBeGreaterThanOrEqual(250); // the fallback delay (300 ms)
    const viaEmbedded = await child.waitFor(hasDc, 'DC through the embedded browser again', 10_000, back.at);
    recordTiming(
      'sources',
      'avahi gone→DC reported through the embedded browser',
      viaEmbedded.at - stoppedAt,
    );
    await pub.withdraw();
  });
});
