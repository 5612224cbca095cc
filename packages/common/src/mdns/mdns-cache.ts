/**
 * The embedded browser's mDNS cache (RFC 6762 §5.2, §10) for one service type, per interface, and
 * the services it resolves to.
 *
 * Pure: time is the `now` argument (ms), randomness is injected; no sockets, timers or logging.
 * What it keeps, per interface:
 * - PTR `<type>.local` → `<instance>.<type>.local`; SRV and TXT of such instances; A/AAAA records.
 *   Addresses of hosts that no cached SRV points to are "orphans": at most
 *   `maxOrphanAddressesPerInterface` of them are kept (oldest dropped first) and never refreshed, so
 *   that a host's announcement seen just before its service's SRV still serves (measured: avahi
 *   announces its host records, then a new service's SRV/TXT WITHOUT the addresses it multicast
 *   less than 1 s earlier, and does not answer a follow-up for them either). Other records are
 *   not kept.
 * - TTL expiry; TTL 0 (goodbye) → the record goes 1 s later (§10.1); the cache-flush bit makes other
 *   records of that name and type that are older than 1 s go 1 s later (§10.2: address and TXT
 *   changes); refresh questions at 80/85/90/95 % of the TTL (query-schedule.ts).
 * - at most `maxRecordsPerInterface` other records; more are dropped and counted.
 * It also says which follow-up questions to ask when a packet names an instance without its SRV/TXT
 * or a host without addresses (each (interface, name, type) at most once per second), and which PTR
 * records to list as known answers (§7.1: those with more than half their TTL left).
 *
 * A service is reported per (interface, address family, instance) once PTR, SRV, TXT and an address
 * of that family are cached: the best SRV (lowest priority, then highest weight), the newest TXT, and
 * one address (the lowest; for IPv6 a routable one before a link-local one).
 *
 * Tests: mdns-cache.test.ts
 */
import type { BrowsedService } from './dc-browser.js';
import { lowerName, rdataKey, type MdnsQuestion, type MdnsRecord } from './mdns-records.js';
import { refreshAt } from './query-schedule.js';
import { parseTxt } from './txt.js';

export const GOODBYE_GRACE_MS = 1000;
const FOLLOW_UP_INTERVAL_MS = 1000;

export interface CacheOptions {
  /** The DNS-SD service type, e.g. `_nvme-disc._tcp`. */
  readonly serviceType: string;
  readonly maxRecordsPerInterface?: number;
  /** Address records of hosts no SRV points to (yet) kept per interface, oldest dropped first. */
  readonly maxOrphanAddressesPerInterface?: number;
  /** For refresh jitter; returns [0, 1). Default: no jitter spread (0.5). */
  readonly random?: () => number;
}

export interface IngestResult {
  /** The cached record set changed (services may have changed). */
  readonly changed: boolean;
  /** Questions to ask on this interface now. */
  readonly followUps: readonly MdnsQuestion[];
  /** Records not kept because the interface's cache is full. */
  readonly dropped: number;
}

interface Entry {
  record: MdnsRecord;
  receivedAt: number;
  expiresAt: number;
  refreshIndex: number;
  nextRefresh: number | undefined;
}

type IfaceCache = Map<string, Entry>;

function entryKey(record: MdnsRecord): string {
  return `${record.type}\0${record.lname}\0${rdataKey(record)}`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isLinkLocalV6(address: string): boolean {
  return /^fe[89ab][0-9a-f]:/.test(address);
}

export class MdnsCache {
  readonly serviceName: string;
  readonly #lserviceName: string;
  readonly #maxRecords: number;
  readonly #maxOrphans: number;
  readonly #random: () => number;
  readonly #ifaces = new Map<string, IfaceCache>();
  readonly #asked = new Map<string, number>();

  constructor(options: CacheOptions) {
    this.serviceName = `${options.serviceType}.local`;
    this.#lserviceName = lowerName(this.serviceName);
    this.#maxRecords = options.maxRecordsPerInterface ?? 512;
    this.#maxOrphans = options.maxOrphanAddressesPerInterface ?? 64;
    this.#random = options.random ?? (() => 0.5);
  }

  /** Records cached for `iface` (all interfaces when omitted). */
  size(iface?: string): number {
    if (iface !== undefined) return this.#ifaces.get(iface)?.size ?? 0;
    let n = 0;
    for (const cache of this.#ifaces.values()) n += cache.size;
    return n;
  }

  /** True for `<instance>.<type>.local` (lower case). */
  #instanceOf(lname: string): boolean {
    const suffix = `.${this.#lserviceName}`;
    return lname.length > suffix.length && lname.endsWith(suffix);
  }

  #relevant(record: MdnsRecord): boolean {
    switch (record.type) {
      case 'PTR':
        return record.lname === this.#lserviceName && this.#instanceOf(lowerName(record.target));
      case 'SRV':
      case 'TXT':
        return this.#instanceOf(record.lname);
      case 'A':
      case 'AAAA':
        return true; // kept as an orphan until an SRV record points to the host
    }
  }

  /** An address record of a host that no cached SRV record points to (yet). */
  #isOrphan(record: MdnsRecord, hosts: ReadonlySet<string>): boolean {
    return (record.type === 'A' || record.type === 'AAAA') && !hosts.has(record.lname);
  }

  /** Make room for one more orphan address: drop the oldest one when there are too many. */
  #makeRoomForOrphan(cache: IfaceCache, hosts: ReadonlySet<string>): void {
    let count = 0;
    let oldest: [string, Entry] | undefined;
    for (const item of cache) {
      if (!this.#isOrphan(item[1].record, hosts)) continue;
      count++;
      if (oldest === undefined || item[1].receivedAt < oldest[1].receivedAt) oldest = item;
    }
    if (count >= this.#maxOrphans && oldest !== undefined) cache.delete(oldest[0]);
  }

  /** Host names (lower case) that cached SRV records of `cache` point to. */
  #hosts(cache: IfaceCache): Set<string> {
    const hosts = new Set<string>();
    for (const { record } of cache.values()) if (record.type === 'SRV') hosts.add(lowerName(record.host));
    return hosts;
  }

  /** Take the records of one received packet, attributed to `iface`. */
  ingest(iface: string, records: readonly MdnsRecord[], now: number): IngestResult {
    let cache = this.#ifaces.get(iface);
    if (cache === undefined) {
      cache = new Map();
      this.#ifaces.set(iface, cache);
    }
    let changed = false;
    let dropped = 0;
    // SRV first, so that the addresses in the same packet find their host.
    const order = (r: MdnsRecord): number => (r.type === 'A' || r.type === 'AAAA' ? 1 : 0);
    const sorted = [...records].sort((a, b) => order(a) - order(b));
    let hosts = this.#hosts(cache);
    for (const record of sorted) {
      if (!this.#relevant(record)) continue;
      const orphan = this.#isOrphan(record, hosts);
      const key = entryKey(record);
      const existing = cache.get(key);
      if (record.ttl === 0) {
        if (existing !== undefined) {
          existing.expiresAt = Math.min(existing.expiresAt, now + GOODBYE_GRACE_MS);
          existing.nextRefresh = undefined;
        }
        continue;
      }
      if (record.flush) this.#flushOthers(cache, record, key, now);
      if (existing !== undefined) {
        existing.record = record;
        existing.receivedAt = now;
        existing.expiresAt = now + record.ttl * 1000;
        existing.refreshIndex = 0;
        existing.nextRefresh = refreshAt(now, record.ttl, 0, this.#random);
        continue;
      }
      if (orphan) {
        this.#makeRoomForOrphan(cache, hosts);
      } else if (this.#referencedCount(cache, hosts) >= this.#maxRecords) {
        dropped++;
        continue;
      }
      cache.set(key, {
        record,
        receivedAt: now,
        expiresAt: now + record.ttl * 1000,
        refreshIndex: 0,
        nextRefresh: refreshAt(now, record.ttl, 0, this.#random),
      });
      if (!orphan) changed = true;
      if (record.type === 'SRV') hosts = this.#hosts(cache);
    }
    if (cache.size === 0) this.#ifaces.delete(iface);
    return { changed, followUps: this.#followUps(iface, records, now), dropped };
  }

  #referencedCount(cache: IfaceCache, hosts: ReadonlySet<string>): number {
    let n = 0;
    for (const { record } of cache.values()) if (!this.#isOrphan(record, hosts)) n++;
    return n;
  }

  /** §10.2: other records with this name and type, received more than 1 s ago, go in 1 s. */
  #flushOthers(cache: IfaceCache, record: MdnsRecord, key: string, now: number): void {
    for (const [otherKey, entry] of cache) {
      if (otherKey === key || entry.record.type !== record.type || entry.record.lname !== record.lname) {
        continue;
      }
      if (entry.receivedAt < now - GOODBYE_GRACE_MS) {
        entry.expiresAt = Math.min(entry.expiresAt, now + GOODBYE_GRACE_MS);
        entry.nextRefresh = undefined;
      }
    }
  }

  #has(cache: IfaceCache | undefined, type: MdnsRecord['type'], lname: string): boolean {
    if (cache === undefined) return false;
    for (const { record } of cache.values()) if (record.type === type && record.lname === lname) return true;
    return false;
  }

  #followUps(iface: string, records: readonly MdnsRecord[], now: number): MdnsQuestion[] {
    for (const [key, at] of this.#asked) if (at <= now - FOLLOW_UP_INTERVAL_MS) this.#asked.delete(key);
    const cache = this.#ifaces.get(iface);
    const questions: MdnsQuestion[] = [];
    const ask = (name: string, type: MdnsRecord['type']): void => {
      const lname = lowerName(name);
      if (this.#has(cache, type, lname)) return;
      const key = `${iface}\0${type}\0${lname}`;
      if (this.#asked.has(key)) return;
      this.#asked.set(key, now);
      questions.push({ name, type });
    };
    const hostsToCheck = new Map<string, string>();
    for (const record of records) {
      if (record.ttl === 0) continue;
      if (record.type === 'PTR' && record.lname === this.#lserviceName) {
        const instance = lowerName(record.target);
        if (!this.#instanceOf(instance)) continue;
        ask(record.target, 'SRV');
        ask(record.target, 'TXT');
        if (cache !== undefined) {
          for (const { record: srv } of cache.values()) {
            if (srv.type === 'SRV' && srv.lname === instance) hostsToCheck.set(lowerName(srv.host), srv.host);
          }
        }
      } else if (record.type === 'SRV' && this.#instanceOf(record.lname)) {
        hostsToCheck.set(lowerName(record.host), record.host);
      }
    }
    for (const host of hostsToCheck.values()) {
      ask(host, 'A');
      ask(host, 'AAAA');
    }
    return questions;
  }

  /** Remove expired records; true if any went. */
  expire(now: number): boolean {
    let changed = false;
    for (const [iface, cache] of this.#ifaces) {
      for (const [key, entry] of cache) {
        if (entry.expiresAt <= now) {
          cache.delete(key);
          changed = true;
        }
      }
      if (cache.size === 0) this.#ifaces.delete(iface);
    }
    return changed;
  }

  /** Forget an interface (it went away); true if it had records. */
  dropInterface(iface: string): boolean {
    const had = (this.#ifaces.get(iface)?.size ?? 0) > 0;
    this.#ifaces.delete(iface);
    for (const key of this.#asked.keys()) if (key.startsWith(`${iface}\0`)) this.#asked.delete(key);
    return had;
  }

  /** Refresh questions due by `now`, per interface; each record's refresh moves to its next step. */
  dueRefreshes(now: number): Map<string, MdnsQuestion[]> {
    const due = new Map<string, MdnsQuestion[]>();
    for (const [iface, cache] of this.#ifaces) {
      const hosts = this.#hosts(cache);
      const seen = new Set<string>();
      const questions: MdnsQuestion[] = [];
      for (const entry of cache.values()) {
        if (entry.nextRefresh === undefined || entry.nextRefresh > now) continue;
        entry.refreshIndex++;
        entry.nextRefresh = refreshAt(entry.receivedAt, entry.record.ttl, entry.refreshIndex, this.#random);
        const { record } = entry;
        const key = `${record.type}\0${record.lname}`;
        if (seen.has(key) || this.#isOrphan(record, hosts)) continue; // nobody needs an orphan
        seen.add(key);
        questions.push({ name: record.name, type: record.type });
      }
      if (questions.length > 0) due.set(iface, questions);
    }
    return due;
  }

  /** The earliest time something is due (an expiry or a refresh), or undefined. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const cache of this.#ifaces.values()) {
      for (const entry of cache.values()) {
        const at =
          entry.nextRefresh === undefined ? entry.expiresAt : Math.min(entry.expiresAt, entry.nextRefresh);
        if (next === undefined || at < next) next = at;
      }
    }
    return next;
  }

  /** Known answers for a PTR query on `iface` (RFC 6762 §7.1): our PTRs with over half their TTL left. */
  knownAnswers(iface: string, now: number): MdnsRecord[] {
    const answers: MdnsRecord[] = [];
    for (const entry of this.#ifaces.get(iface)?.values() ?? []) {
      const { record } = entry;
      if (record.type !== 'PTR' || entry.nextRefresh === undefined) continue;
      const remaining = entry.expiresAt - now;
      if (remaining > (record.ttl * 1000) / 2) {
        answers.push({ ...record, ttl: Math.floor(remaining / 1000) });
      }
    }
    return answers;
  }

  /** The resolved services, over all interfaces. */
  services(): BrowsedService[] {
    const services: BrowsedService[] = [];
    for (const [iface, cache] of this.#ifaces) services.push(...this.#servicesOf(iface, cache));
    return services;
  }

  #servicesOf(iface: string, cache: IfaceCache): BrowsedService[] {
    const entries = [...cache.values()];
    const instances = new Map<string, string>();
    for (const { record } of entries) {
      if (record.type === 'PTR') instances.set(lowerName(record.target), record.target);
    }
    const out: BrowsedService[] = [];
    for (const [linstance, instance] of instances) {
      const srv = entries
        .flatMap(({ record }) => (record.type === 'SRV' && record.lname === linstance ? [record] : []))
        .sort(
          (a, b) => a.priority - b.priority || b.weight - a.weight || compareText(rdataKey(a), rdataKey(b)),
        )[0];
      const txt = entries
        .flatMap((e) => (e.record.type === 'TXT' && e.record.lname === linstance ? [e] : []))
        .sort(
          (a, b) => b.receivedAt - a.receivedAt || compareText(rdataKey(a.record), rdataKey(b.record)),
        )[0];
      if (srv === undefined || txt === undefined || txt.record.type !== 'TXT') continue;
      const host = lowerName(srv.host);
      const addresses = (type: 'A' | 'AAAA'): string[] =>
        entries.flatMap(({ record }) =>
          record.type === type && record.lname === host ? [record.address] : [],
        );
      const name = instance.slice(0, instance.length - this.serviceName.length - 1);
      const common = { iface, port: srv.port, txt: parseTxt(txt.record.items), name, host: srv.host };
      const v4 = addresses('A').sort(compareText)[0];
      if (v4 !== undefined) out.push({ ...common, address: v4, protocol: 'ipv4' });
      const v6 = addresses('AAAA').sort(
        (a, b) => Number(isLinkLocalV6(a)) - Number(isLinkLocalV6(b)) || compareText(a, b),
      )[0];
      if (v6 !== undefined) out.push({ ...common, address: v6, protocol: 'ipv6' });
    }
    return out;
  }
}
