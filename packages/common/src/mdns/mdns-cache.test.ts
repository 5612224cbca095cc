import { describe, expect, it } from 'vitest';
import { MdnsCache } from './mdns-cache.js';
import type { MdnsRecord } from './mdns-records.js';

const SVC = '_nvme-disc._tcp.local';
const text = new TextEncoder();

function rec(partial: Record<string, unknown> & { type: MdnsRecord['type']; name: string }): MdnsRecord {
  return { ttl: 120, flush: false, lname: partial.name.toLowerCase(), ...partial } as MdnsRecord;
}
const ptr = (instance: string, ttl = 4500) =>
  rec({ type: 'PTR', name: SVC, target: `${instance}.${SVC}`, ttl });
const srv = (instance: string, host: string, port = 8009, extra: Record<string, unknown> = {}) =>
  rec({ type: 'SRV', name: `${instance}.${SVC}`, host, port, priority: 0, weight: 0, ...extra });
const txt = (instance: string, items: string[], extra: Record<string, unknown> = {}) =>
  rec({
    type: 'TXT',
    name: `${instance}.${SVC}`,
    items: items.map((i) => text.encode(i)),
    ttl: 4500,
    ...extra,
  });
const a = (host: string, address: string, extra: Record<string, unknown> = {}) =>
  rec({ type: 'A', name: host, address, ...extra });
const aaaa = (host: string, address: string) => rec({ type: 'AAAA', name: host, address });

const full = (instance = 'DC one.rack1', host = 'dc.local') => [
  ptr(instance),
  srv(instance, host),
  txt(instance, ['p=tcp', 'nqn=nqn.2014-08.org.example:dc']),
  a(host, '10.0.0.1'),
  aaaa(host, 'fd00::1'),
];

function newCache(): MdnsCache {
  return new MdnsCache({ serviceType: '_nvme-disc._tcp', random: () => 0 });
}

describe('MdnsCache', () => {
  it('resolves PTR + SRV + TXT + A/AAAA into one service per address family', () => {
    const cache = newCache();
    const result = cache.ingest('eth1', full(), 0);
    expect(result).toEqual({ changed: true, followUps: [], dropped: 0 });
    const services = cache.services();
    expect(services).toHaveLength(2);
    expect(services[0]).toEqual({
      iface: 'eth1',
      address: '10.0.0.1',
      port: 8009,
      txt: new Map([
        ['p', 'tcp'],
        ['nqn', 'nqn.2014-08.org.example:dc'],
      ]),
      name: 'DC one.rack1',
      host: 'dc.local',
      protocol: 'ipv4',
    });
    expect(services[1]).toMatchObject({ address: 'fd00::1', protocol: 'ipv6' });
  });

  it('does not report an instance until its TXT record is known, and asks for what is missing', () => {
    const cache = newCache();
    const first = cache.ingest('eth1', [ptr('DC')], 0);
    expect(first.followUps).toEqual([
      { name: `DC.${SVC}`, type: 'SRV' },
      { name: `DC.${SVC}`, type: 'TXT' },
    ]);
    const second = cache.ingest('eth1', [srv('DC', 'dc.local')], 10);
    expect(second.followUps).toEqual([
      { name: 'dc.local', type: 'A' },
      { name: 'dc.local', type: 'AAAA' },
    ]);
    cache.ingest('eth1', [a('dc.local', '10.0.0.1')], 20);
    expect(cache.services()).toEqual([]);
    cache.ingest('eth1', [txt('DC', ['p=tcp'])], 30);
    expect(cache.services().map((s) => s.address)).toEqual(['10.0.0.1']);
  });

  it('asks each follow-up question at most once a second per interface', () => {
    const cache = newCache();
    expect(cache.ingest('eth1', [ptr('DC')], 0).followUps).toHaveLength(2);
    expect(cache.ingest('eth1', [ptr('DC')], 500).followUps).toHaveLength(0);
    expect(cache.ingest('eth2', [ptr('DC')], 500).followUps).toHaveLength(2);
    expect(cache.ingest('eth1', [ptr('DC')], 1000).followUps).toHaveLength(2);
  });

  it('keeps addresses seen before the SRV that points to their host, and uses them then', () => {
    const cache = newCache();
    const early = cache.ingest('eth1', [a('DC.local', '10.0.0.1'), aaaa('dc.local', 'fd00::1')], 0);
    expect(early.changed).toBe(false);
    expect(cache.size('eth1')).toBe(2);
    const later = cache.ingest('eth1', [ptr('DC'), srv('DC', 'dc.local'), txt('DC', ['p=tcp'])], 500);
    expect(later.followUps).toEqual([]); // the addresses are known already
    expect(cache.services().map((s) => s.address)).toEqual(['10.0.0.1', 'fd00::1']);
  });

  it('keeps a bounded number of orphan addresses, oldest out first, and never refreshes them', () => {
    const cache = new MdnsCache({ serviceType: '_nvme-disc._tcp', maxOrphanAddressesPerInterface: 2 });
    cache.ingest('eth1', [a('h1.local', '10.0.0.1')], 0);
    cache.ingest('eth1', [a('h2.local', '10.0.0.2')], 1);
    cache.ingest('eth1', [a('h3.local', '10.0.0.3'), srv('DC', 'h1.local')], 2);
    expect(cache.size('eth1')).toBe(4); // h1 is no orphan any more: SRV + h1 + h2 + h3
    cache.ingest('eth1', [a('h4.local', '10.0.0.4')], 3);
    expect(cache.size('eth1')).toBe(4); // h2 went
    const refreshes = [...cache.dueRefreshes(100_000).values()].flat();
    expect(refreshes).toHaveLength(2);
    expect(refreshes).toEqual(
      expect.arrayContaining([
        { name: `DC.${SVC}`, type: 'SRV' },
        { name: 'h1.local', type: 'A' },
      ]),
    );
  });

  it('ignores records of other service types', () => {
    const cache = newCache();
    const other = '_http._tcp.local';
    cache.ingest(
      'eth1',
      [
        rec({ type: 'PTR', name: other, target: `web.${other}` }),
        rec({ type: 'PTR', name: SVC, target: `web.${other}` }),
        rec({ type: 'SRV', name: `web.${other}`, host: 'w.local', port: 80, priority: 0, weight: 0 }),
        rec({ type: 'PTR', name: SVC, target: SVC }),
      ],
      0,
    );
    expect(cache.size()).toBe(0);
  });

  it('removes a service one second after a goodbye (TTL 0), not before', () => {
    const cache = newCache();
    cache.ingest('eth1', full('DC'), 0);
    cache.ingest('eth1', [{ ...ptr('DC'), ttl: 0 }], 5000);
    expect(cache.expire(5999)).toBe(false);
    expect(cache.services()).toHaveLength(2);
    expect(cache.nextDeadline()).toBe(6000);
    expect(cache.expire(6000)).toBe(true);
    expect(cache.services()).toEqual([]);
  });

  it('ignores a goodbye for a record it does not have', () => {
    const cache = newCache();
    expect(cache.ingest('eth1', [{ ...ptr('DC'), ttl: 0 }], 0)).toMatchObject({ changed: false });
    expect(cache.size()).toBe(0);
  });

  it('expires records at the end of their TTL', () => {
    const cache = newCache();
    cache.ingest('eth1', full('DC'), 0);
    expect(cache.expire(119_999)).toBe(false);
    expect(cache.expire(120_000)).toBe(true); // SRV and addresses (TTL 120 s) are gone
    expect(cache.services()).toEqual([]);
    expect(cache.size()).toBe(2); // PTR and TXT (TTL 4500 s) remain
  });

  it('a cache-flush record replaces older records of the same name and type after one second', () => {
    const cache = newCache();
    cache.ingest('eth1', full('DC'), 0);
    cache.ingest('eth1', [txt('DC', ['p=tcp', 'nqn=nqn.2014-08.org.example:new'], { flush: true })], 10_000);
    // both TXT records are cached for one second; the newest one is reported
    expect(cache.services()[0]?.txt.get('nqn')).toBe('nqn.2014-08.org.example:new');
    cache.expire(11_000);
    expect(cache.size('eth1')).toBe(5);
    expect(cache.services()[0]?.txt.get('nqn')).toBe('nqn.2014-08.org.example:new');
  });

  it('a cache-flush record does not flush records received in the last second (same announcement)', () => {
    const cache = newCache();
    cache.ingest('eth1', [...full('DC'), a('dc.local', '10.0.0.2', { flush: true })], 0);
    cache.ingest('eth1', [a('dc.local', '10.0.0.3', { flush: true })], 500);
    cache.expire(60_000);
    expect(cache.size('eth1')).toBe(7);
  });

  it('reports an address change announced with the cache-flush bit', () => {
    const cache = newCache();
    cache.ingest('eth1', full('DC'), 0);
    cache.ingest('eth1', [a('dc.local', '10.0.0.7', { flush: true })], 5000);
    cache.expire(6000);
    expect(cache.services().find((s) => s.protocol === 'ipv4')?.address).toBe('10.0.0.7');
  });

  it('refreshes a record that is received again', () => {
    const cache = newCache();
    cache.ingest('eth1', full('DC'), 0);
    expect(cache.ingest('eth1', full('DC'), 100_000).changed).toBe(false);
    expect(cache.expire(150_000)).toBe(false);
    expect(cache.services()).toHaveLength(2);
  });

  it('asks refresh questions at 80, 85, 90 and 95 % of the TTL', () => {
    const cache = newCache();
    cache.ingest('eth1', [srv('DC', 'dc.local')], 0);
    expect(cache.nextDeadline()).toBe(96_000);
    expect(cache.dueRefreshes(95_999).size).toBe(0);
    expect(cache.dueRefreshes(96_000)).toEqual(new Map([['eth1', [{ name: `DC.${SVC}`, type: 'SRV' }]]]));
    expect(cache.nextDeadline()).toBe(102_000);
    expect(cache.dueRefreshes(102_000).size).toBe(1);
    expect(cache.dueRefreshes(108_000).size).toBe(1);
    expect(cache.dueRefreshes(114_000).size).toBe(1);
    expect(cache.nextDeadline()).toBe(120_000);
    expect(cache.dueRefreshes(119_000).size).toBe(0);
  });

  it('lists PTR records with more than half their TTL left as known answers', () => {
    const cache = newCache();
    cache.ingest('eth1', [ptr('DC', 100)], 0);
    expect(cache.knownAnswers('eth1', 10_000)).toEqual([expect.objectContaining({ type: 'PTR', ttl: 90 })]);
    expect(cache.knownAnswers('eth1', 50_000)).toEqual([]);
    expect(cache.knownAnswers('eth2', 0)).toEqual([]);
  });

  it('picks the SRV with the lowest priority, then the highest weight', () => {
    const cache = newCache();
    cache.ingest(
      'eth1',
      [
        ptr('DC'),
        txt('DC', ['p=tcp']),
        srv('DC', 'a.local', 1001, { priority: 1 }),
        srv('DC', 'a.local', 1002, { priority: 0, weight: 5 }),
        srv('DC', 'a.local', 1003, { priority: 0, weight: 9 }),
        a('a.local', '10.0.0.1'),
      ],
      0,
    );
    expect(cache.services().map((s) => s.port)).toEqual([1003]);
  });

  it('prefers a routable IPv6 address to a link-local one', () => {
    const cache = newCache();
    cache.ingest(
      'eth1',
      [...full('DC').slice(0, 3), aaaa('dc.local', 'fe80::1'), aaaa('dc.local', 'fd00::9')],
      0,
    );
    expect(cache.services().map((s) => s.address)).toEqual(['fd00::9']);
    const ll = newCache();
    ll.ingest('eth1', [...full('DC').slice(0, 3), aaaa('dc.local', 'fe80::1')], 0);
    expect(ll.services().map((s) => s.address)).toEqual(['fe80::1']);
  });

  it('keeps interfaces apart and forgets one that goes away', () => {
    const cache = newCache();
    cache.ingest('eth1', full('DC'), 0);
    cache.ingest('eth2', full('DC'), 0);
    expect(new Set(cache.services().map((s) => s.iface))).toEqual(new Set(['eth1', 'eth2']));
    expect(cache.dropInterface('eth2')).toBe(true);
    expect(cache.dropInterface('eth2')).toBe(false);
    expect(new Set(cache.services().map((s) => s.iface))).toEqual(new Set(['eth1']));
  });

  it('matches names case-insensitively but reports the instance name as announced', () => {
    const cache = newCache();
    cache.ingest(
      'eth1',
      [
        ptr('My DC'),
        rec({
          type: 'SRV',
          name: `MY dc.${SVC.toUpperCase()}`,
          host: 'DC.LOCAL',
          port: 8009,
          priority: 0,
          weight: 0,
        }),
        txt('my DC', ['p=tcp']),
        a('dc.local', '10.0.0.1'),
      ],
      0,
    );
    expect(cache.services().map((s) => s.name)).toEqual(['My DC']);
  });

  it('drops records beyond the per-interface limit and says how many', () => {
    const cache = new MdnsCache({ serviceType: '_nvme-disc._tcp', maxRecordsPerInterface: 3 });
    const result = cache.ingest('eth1', [ptr('a'), ptr('b'), ptr('c'), ptr('d'), ptr('e')], 0);
    expect(result.dropped).toBe(2);
    expect(cache.size('eth1')).toBe(3);
  });
});
