/**
 * stafd's mDNS/DNS-SD source when avahi-daemon runs: browses `_nvme-disc._tcp` through
 * `org.freedesktop.Avahi` on the system bus (bus.ts) and implements DcBrowser (dc-browser.ts).
 *
 * - One ServiceBrowser on every interface and protocol, domain `local`, multicast only. Created with
 *   avahi 0.8's `Server2.ServiceBrowserPrepare` + `Start()` (race-free: the object exists before it
 *   emits); on an older avahi (no Server2) with `Server.ServiceBrowserNew`. Our signal subscriptions
 *   (sender org.freedesktop.Avahi, any path) exist before either, and avahi addresses its signals to
 *   the client that created the object, so nothing is missed in the fallback either.
 * - Each ItemNew gets a persistent ServiceResolver (Prepare + Start, or ServiceResolverNew) rather
 *   than one-shot `ResolveService`: its `Found` signal repeats when the TXT record or the address
 *   changes, so those changes reach stafd without polling. The resolver asks for the address family
 *   the item was browsed on (aprotocol = protocol), so the IPv4 item reports an IPv4 address and the
 *   IPv6 item an IPv6 one. ItemRemove frees it. A resolver `Failure` that is a timeout (stale cache
 *   entry of a publisher that died) is not an error: the item just stays unresolved.
 * - Interface index → name with `GetNetworkInterfaceNameByIndex`, cached while a service uses the
 *   index; a failure (or an unusable name) is a `problem` and the service stays unreported until its
 *   next Found (behaviour spec §9 F19: nvme-stas crashed on it).
 * - avahi restarts: the owner of org.freedesktop.Avahi is watched; when it goes, everything is
 *   forgotten and the state is `unavailable/avahi-absent`; when an owner appears, the browser is
 *   created again. A failed creation is retried with a doubling delay (1 s … 60 s).
 * - State: `starting` until avahi said AllForNow and every item then known was answered (or
 *   `settleMs` passed), then `running`.
 *
 * Never rejects or throws for avahi or bus trouble: it becomes state and `problem` events. No logging.
 * Tests: avahi-browser.test.ts (fake bus), avahi-signals.test.ts, test/integration/mdns-avahi-browser.test.ts
 */
import { isValidIfName } from '../net/ifname.js';
import { describeError } from '../errors.js';
import type { Observation } from '../util/observation.js';
import type { Disposer, ReceivedSignal, SignalFilter } from '../dbus/bus.js';
import {
  ServiceSetPublisher,
  systemBrowserClock,
  type BrowserClock,
  type BrowserState,
  type BrowsedService,
  type DcBrowser,
  type DcBrowserListener,
} from './dc-browser.js';
import {
  AVAHI,
  AVAHI_IF_UNSPEC,
  AVAHI_LOOKUP_USE_MULTICAST,
  AVAHI_PROTO,
  isTimeoutFailure,
  itemKey,
  parseFailure,
  parseFound,
  parseItem,
  type AvahiFound,
  type AvahiItem,
} from './avahi-signals.js';
import { parseTxt } from './txt.js';

/** What the avahi browser needs of a bus connection (SystemBus has it). */
export interface AvahiBus {
  call(
    destination: string,
    path: string,
    iface: string,
    member: string,
    signature: string,
    args: readonly unknown[],
    options?: { readonly timeoutMs?: number; readonly replySignature?: string },
  ): Promise<unknown[]>;
  subscribeSignal(filter: SignalFilter, handler: (signal: ReceivedSignal) => void): Promise<Disposer>;
  watchNameOwner(name: string, listener: (owner: string | null) => void): Promise<Disposer>;
  onDisconnect(listener: (info: { readonly reason: string }) => void): () => void;
}

export interface AvahiBrowserOptions {
  /** Default `_nvme-disc._tcp`. */
  readonly serviceType?: string;
  readonly clock?: BrowserClock;
  /** Coalescing window of `services-changed`; default 100 ms. */
  readonly coalesceMs?: number;
  /** Timeout of each call to avahi; default 5000 ms. */
  readonly callTimeoutMs?: number;
  /** Longest wait for the initial results before the state becomes `running`; default 3000 ms. */
  readonly settleMs?: number;
  /** Most services (items) tracked; default 256. */
  readonly maxServices?: number;
  readonly onListenerError?: (err: unknown) => void;
}

interface Entry {
  readonly item: AvahiItem;
  resolverPath: string | undefined;
  found: AvahiFound | undefined;
  service: BrowsedService | undefined;
  /** Found or Failure seen, or the resolver could not be created. */
  answered: boolean;
  removed: boolean;
}

const RETRY_BASE_MS = 1000;
const RETRY_CAP_MS = 60_000;

function isUnknownMember(err: unknown): boolean {
  return (
    typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'DBUS_UNKNOWN_MEMBER'
  );
}

export class AvahiBrowser implements DcBrowser {
  readonly kind = 'avahi' as const;
  readonly #bus: AvahiBus;
  readonly #serviceType: string;
  readonly #clock: BrowserClock;
  readonly #timeoutMs: number;
  readonly #settleMs: number;
  readonly #maxServices: number;
  readonly #publisher: ServiceSetPublisher;
  readonly #entries = new Map<string, Entry>();
  readonly #byResolverPath = new Map<string, Entry>();
  readonly #ifnames = new Map<number, Promise<string | null>>();
  #disposers: Disposer[] = [];
  #unlistenDisconnect: (() => void) | undefined;
  #unlistenAbort: (() => void) | undefined;
  #started = false;
  #active = false;
  /** Bumped whenever avahi's owner changes or we stop: async work of an older generation is void. */
  #generation = 0;
  #owner: string | null = null;
  #server2: boolean | undefined;
  #browserPath: string | undefined;
  #allForNow = false;
  #limitReported = false;
  #retryAttempt = 0;
  #retryTimer: object | number | undefined;
  #settleTimer: object | number | undefined;

  constructor(bus: AvahiBus, options: AvahiBrowserOptions = {}) {
    this.#bus = bus;
    this.#serviceType = options.serviceType ?? '_nvme-disc._tcp';
    this.#clock = options.clock ?? systemBrowserClock;
    this.#timeoutMs = options.callTimeoutMs ?? 5000;
    this.#settleMs = options.settleMs ?? 3000;
    this.#maxServices = options.maxServices ?? 256;
    this.#publisher = new ServiceSetPublisher({
      clock: this.#clock,
      coalesceMs: options.coalesceMs,
      onListenerError: options.onListenerError,
    });
  }

  on(listener: DcBrowserListener): () => void {
    return this.#publisher.on(listener);
  }

  state(): BrowserState {
    return this.#publisher.state();
  }

  snapshot(): Observation<readonly BrowsedService[]> {
    return this.#publisher.snapshot();
  }

  async start(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const signal = options.signal;
    if (signal?.aborted === true) return;
    this.#active = true;
    if (signal !== undefined) {
      const onAbort = (): void => {
        void this.stop();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#unlistenAbort = () => {
        signal.removeEventListener('abort', onAbort);
      };
    }
    this.#publisher.setState({ kind: 'starting' });
    this.#unlistenDisconnect = this.#bus.onDisconnect((info) => {
      this.#onBusLost(info.reason);
    });
    try {
      this.#disposers.push(
        await this.#bus.subscribeSignal({ sender: AVAHI.name, interface: AVAHI.serviceBrowser }, (s) => {
          this.#onBrowserSignal(s);
        }),
      );
      this.#disposers.push(
        await this.#bus.subscribeSignal({ sender: AVAHI.name, interface: AVAHI.serviceResolver }, (s) => {
          this.#onResolverSignal(s);
        }),
      );
      if (this.#stopped()) return;
      this.#disposers.push(
        await this.#bus.watchNameOwner(AVAHI.name, (owner) => {
          this.#onOwner(owner);
        }),
      );
    } catch (err) {
      if (this.#stopped()) return;
      this.#generation++;
      this.#publisher.setState({
        kind: 'unavailable',
        reason: 'bus-error',
        detail: `cannot watch avahi on the bus: ${describeError(err)}`,
      });
    } finally {
      if (this.#stopped()) await this.#dispose();
    }
  }

  /** (A method, so that the compiler does not assume the flag unchanged across awaits.) */
  #stopped(): boolean {
    return !this.#active;
  }

  async stop(): Promise<void> {
    if (!this.#active) return;
    this.#active = false;
    this.#generation++;
    this.#unlistenAbort?.();
    this.#unlistenDisconnect?.();
    this.#unlistenAbort = this.#unlistenDisconnect = undefined;
    this.#clearTimers();
    const frees = this.#owner === null ? [] : this.#freeAll();
    this.#forget();
    this.#owner = null;
    this.#publisher.setServices([]);
    this.#publisher.setState({ kind: 'unavailable', reason: 'stopped', detail: 'stopped' });
    await Promise.all([...frees, this.#dispose()]);
  }

  async #dispose(): Promise<void> {
    const disposers = this.#disposers;
    this.#disposers = [];
    await Promise.all(disposers.map((dispose) => dispose().catch(() => undefined)));
  }

  #clearTimers(): void {
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
    if (this.#settleTimer !== undefined) this.#clock.clearTimeout(this.#settleTimer);
    this.#retryTimer = this.#settleTimer = undefined;
  }

  /** Forget avahi's objects and our services (avahi went away, or we stop). */
  #forget(): void {
    this.#entries.clear();
    this.#byResolverPath.clear();
    this.#ifnames.clear();
    this.#browserPath = undefined;
    this.#allForNow = false;
    this.#limitReported = false;
  }

  #onBusLost(reason: string): void {
    if (!this.#active) return;
    this.#generation++;
    this.#clearTimers();
    this.#forget();
    this.#owner = null;
    this.#disposers = []; // the bus dropped every subscription with the connection
    this.#publisher.setServices([]);
    this.#publisher.setState({ kind: 'unavailable', reason: 'bus-disconnected', detail: reason });
  }

  #onOwner(owner: string | null): void {
    if (!this.#active || owner === this.#owner) return;
    this.#owner = owner;
    this.#generation++;
    this.#clearTimers();
    this.#forget();
    this.#retryAttempt = 0;
    this.#publisher.setServices([]);
    if (owner === null) {
      this.#publisher.setState({
        kind: 'unavailable',
        reason: 'avahi-absent',
        detail: 'org.freedesktop.Avahi has no owner on the bus',
      });
      return;
    }
    this.#publisher.setState({ kind: 'starting' });
    void this.#createBrowser(this.#generation);
  }

  #call(
    iface: string,
    path: string,
    member: string,
    signature: string,
    args: readonly unknown[],
    reply: string,
  ) {
    return this.#bus.call(AVAHI.name, path, iface, member, signature, args, {
      timeoutMs: this.#timeoutMs,
      replySignature: reply,
    });
  }

  /** Free an avahi object; best effort (it may be gone with an avahi that restarted). */
  async #free(objectIface: string, path: string): Promise<void> {
    await this.#call(objectIface, path, 'Free', '', [], '').catch(() => undefined);
  }

  /** Free the browser and every resolver (before #forget()). */
  #freeAll(): Promise<void>[] {
    const frees: Promise<void>[] = [];
    if (this.#browserPath !== undefined) frees.push(this.#free(AVAHI.serviceBrowser, this.#browserPath));
    for (const entry of this.#entries.values()) {
      if (entry.resolverPath !== undefined) frees.push(this.#free(AVAHI.serviceResolver, entry.resolverPath));
    }
    return frees;
  }

  /** Create an object with `<Kind>Prepare` + Start (avahi 0.8) or `<Kind>New`; resolves with its path. */
  async #createObject(
    kind: 'ServiceBrowser' | 'ServiceResolver',
    signature: string,
    args: readonly unknown[],
  ) {
    const objectIface = kind === 'ServiceBrowser' ? AVAHI.serviceBrowser : AVAHI.serviceResolver;
    if (this.#server2 !== false) {
      try {
        const [path] = await this.#call(
          AVAHI.server2,
          AVAHI.serverPath,
          `${kind}Prepare`,
          signature,
          args,
          'o',
        );
        this.#server2 = true;
        return {
          path: path as string,
          start: () => this.#call(objectIface, path as string, 'Start', '', [], ''),
        };
      } catch (err) {
        if (!isUnknownMember(err)) throw err;
        this.#server2 = false;
      }
    }
    const [path] = await this.#call(AVAHI.server, AVAHI.serverPath, `${kind}New`, signature, args, 'o');
    return { path: path as string, start: undefined };
  }

  async #createBrowser(generation: number): Promise<void> {
    try {
      const object = await this.#createObject('ServiceBrowser', 'iissu', [
        AVAHI_IF_UNSPEC,
        AVAHI_PROTO.unspec,
        this.#serviceType,
        'local',
        AVAHI_LOOKUP_USE_MULTICAST,
      ]);
      if (generation !== this.#generation) {
        await this.#free(AVAHI.serviceBrowser, object.path);
        return;
      }
      this.#browserPath = object.path;
      await object.start?.();
      if (generation !== this.#generation) return;
      this.#retryAttempt = 0;
      this.#settleTimer = this.#clock.setTimeout(() => {
        this.#settleTimer = undefined;
        if (generation === this.#generation) this.#setRunning();
      }, this.#settleMs);
    } catch (err) {
      if (generation !== this.#generation) return;
      this.#publisher.problem(
        'avahi-call-failed',
        `cannot browse ${this.#serviceType}: ${describeError(err)}`,
      );
      this.#failBrowser(`cannot browse ${this.#serviceType}: ${describeError(err)}`);
    }
  }

  /** The browser is unusable: drop it, report, and try again later. */
  #failBrowser(detail: string): void {
    void Promise.all(this.#freeAll());
    this.#generation++;
    this.#clearTimers();
    this.#forget();
    this.#publisher.setServices([]);
    this.#publisher.setState({ kind: 'unavailable', reason: 'avahi-error', detail });
    const delay = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(this.#retryAttempt, 16));
    this.#retryAttempt++;
    const retryGeneration = this.#generation;
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      if (retryGeneration !== this.#generation || !this.#active || this.#owner === null) return;
      this.#publisher.setState({ kind: 'starting' });
      void this.#createBrowser(this.#generation);
    }, delay);
  }

  #setRunning(): void {
    if (this.#settleTimer !== undefined) this.#clock.clearTimeout(this.#settleTimer);
    this.#settleTimer = undefined;
    this.#publisher.setState({ kind: 'running' });
  }

  #checkSettled(): void {
    if (this.#publisher.state().kind !== 'starting' || !this.#allForNow) return;
    for (const entry of this.#entries.values()) if (!entry.answered) return;
    this.#setRunning();
  }

  #publish(): void {
    const services: BrowsedService[] = [];
    for (const entry of this.#entries.values()) if (entry.service !== undefined) services.push(entry.service);
    this.#publisher.setServices(services);
  }

  // ---- browser signals -------------------------------------------------------------------------

  #onBrowserSignal(signal: ReceivedSignal): void {
    if (!this.#active || this.#owner === null) return;
    if (this.#browserPath !== undefined && signal.path !== this.#browserPath) return;
    switch (signal.member) {
      case 'ItemNew':
      case 'ItemRemove': {
        const item = parseItem(signal);
        if (item === null) {
          this.#publisher.problem('bad-signal', `avahi ${signal.member} with unusable arguments`);
          return;
        }
        if (item.type.toLowerCase() !== this.#serviceType.toLowerCase()) return;
        if (signal.member === 'ItemNew') this.#onItemNew(item);
        else this.#onItemRemove(item);
        return;
      }
      case 'AllForNow':
        this.#allForNow = true;
        this.#checkSettled();
        return;
      case 'Failure': {
        const text = parseFailure(signal) ?? '(no reason given)';
        this.#publisher.problem(
          'avahi-browser-failure',
          `avahi's browser for ${this.#serviceType} failed: ${text}`,
        );
        this.#failBrowser(`avahi's browser failed: ${text}`);
        return;
      }
      default:
        return; // CacheExhausted
    }
  }

  #onItemNew(item: AvahiItem): void {
    const key = itemKey(item);
    if (this.#entries.has(key)) return;
    if (this.#entries.size >= this.#maxServices) {
      if (!this.#limitReported) {
        this.#limitReported = true;
        this.#publisher.problem(
          'service-limit',
          `more than ${this.#maxServices} services; further ones are ignored`,
        );
      }
      return;
    }
    const entry: Entry = {
      item,
      resolverPath: undefined,
      found: undefined,
      service: undefined,
      answered: false,
      removed: false,
    };
    this.#entries.set(key, entry);
    void this.#createResolver(this.#generation, entry);
  }

  #onItemRemove(item: AvahiItem): void {
    const key = itemKey(item);
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    entry.removed = true;
    this.#entries.delete(key);
    if (entry.resolverPath !== undefined) {
      this.#byResolverPath.delete(entry.resolverPath);
      void this.#free(AVAHI.serviceResolver, entry.resolverPath);
    }
    if (![...this.#entries.values()].some((e) => e.item.iface === item.iface))
      this.#ifnames.delete(item.iface);
    if (entry.service !== undefined) this.#publish();
    this.#checkSettled();
  }

  async #createResolver(generation: number, entry: Entry): Promise<void> {
    const { item } = entry;
    try {
      const object = await this.#createObject('ServiceResolver', 'iisssiu', [
        item.iface,
        item.protocol,
        item.name,
        item.type,
        item.domain,
        item.protocol,
        0,
      ]);
      if (generation !== this.#generation || entry.removed) {
        await this.#free(AVAHI.serviceResolver, object.path);
        return;
      }
      entry.resolverPath = object.path;
      this.#byResolverPath.set(object.path, entry);
      await object.start?.();
    } catch (err) {
      if (generation !== this.#generation || entry.removed) return;
      entry.answered = true;
      this.#publisher.problem(
        'avahi-call-failed',
        `cannot resolve "${item.name}" (interface ${item.iface}): ${describeError(err)}`,
      );
      this.#checkSettled();
    }
  }

  // ---- resolver signals ------------------------------------------------------------------------

  #onResolverSignal(signal: ReceivedSignal): void {
    if (!this.#active || this.#owner === null) return;
    if (signal.member === 'Found') {
      const found = parseFound(signal);
      if (found === null) {
        this.#publisher.problem('bad-signal', 'avahi ServiceResolver.Found with unusable arguments');
        return;
      }
      const entry = this.#entries.get(itemKey(found));
      if (entry === undefined) return;
      if (entry.resolverPath !== undefined && entry.resolverPath !== signal.path) return;
      entry.found = found;
      entry.answered = true;
      void this.#applyFound(this.#generation, entry, found);
      return;
    }
    if (signal.member === 'Failure') {
      const entry = this.#byResolverPath.get(signal.path);
      if (entry === undefined) return;
      entry.answered = true;
      const text = parseFailure(signal) ?? '(no reason given)';
      if (!isTimeoutFailure(text)) {
        this.#publisher.problem(
          'avahi-resolver-failure',
          `cannot resolve "${entry.item.name}" (interface ${entry.item.iface}): ${text}`,
        );
      }
      this.#checkSettled();
    }
  }

  async #applyFound(generation: number, entry: Entry, found: AvahiFound): Promise<void> {
    const ifname = await this.#interfaceName(generation, found.iface);
    if (generation !== this.#generation || entry.removed || entry.found !== found) return;
    entry.service =
      ifname === null
        ? undefined
        : {
            iface: ifname,
            address: found.address,
            port: found.port,
            txt: parseTxt(found.txt),
            name: found.name,
            host: found.host,
            protocol: found.address.includes(':') ? 'ipv6' : 'ipv4',
          };
    this.#publish();
    this.#checkSettled();
  }

  #interfaceName(generation: number, index: number): Promise<string | null> {
    let name = this.#ifnames.get(index);
    if (name === undefined) {
      name = this.#call(AVAHI.server, AVAHI.serverPath, 'GetNetworkInterfaceNameByIndex', 'i', [index], 's')
        .then(([text]) => {
          if (typeof text === 'string' && isValidIfName(text)) return text;
          throw new Error(`avahi gave the unusable interface name ${JSON.stringify(text)}`);
        })
        .catch((err: unknown) => {
          if (generation === this.#generation) {
            this.#ifnames.delete(index);
            this.#publisher.problem(
              'iface-name-failed',
              `no name for interface index ${index}: ${describeError(err)}`,
            );
          }
          return null;
        });
      this.#ifnames.set(index, name);
    }
    return name;
  }
}
