import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RemoteInfo } from 'node:dgram';
import packet, { type Answer } from 'dns-packet';
import type { BrowserClock, DcBrowserEvent } from './dc-browser.js';
import { EmbeddedBrowser } from './embedded-browser.js';
import type { MdnsSocketFactory, MdnsSocketHandlers, MdnsSocketSpec } from './mdns-socket.js';

const SVC = '_nvme-disc._tcp.local';
const clock: BrowserClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

interface FakeSocket {
  readonly spec: MdnsSocketSpec;
  readonly handlers: MdnsSocketHandlers;
  readonly sent: Uint8Array[];
  closed: boolean;
}

const v4 = (address: string) => ({ address, family: 'IPv4', internal: false, cidr: `${address}/24` });
const v6 = (address: string) => ({ address, family: 'IPv6', internal: false, cidr: `${address}/64` });

function dcAnswers(instance: string, host: string, address: string, ttl = 120): Answer[] {
  return [
    { name: SVC, type: 'PTR', ttl: 4500, data: `${instance}.${SVC}` },
    { name: `${instance}.${SVC}`, type: 'SRV', ttl, flush: true, data: { port: 8009, target: host } },
    { name: `${instance}.${SVC}`, type: 'TXT', ttl: 4500, flush: true, data: ['p=tcp'] },
    { name: host, type: 'A', ttl, flush: true, data: address },
  ];
}

function response(answers: Answer[]): unknown {
  return packet.decode(packet.encode({ type: 'response', flags: packet.AUTHORITATIVE_ANSWER, answers }));
}

function rinfo(address: string, port = 5353): RemoteInfo {
  return { address, family: address.includes(':') ? 'IPv6' : 'IPv4', port, size: 100 };
}

describe('EmbeddedBrowser', () => {
  let table: Record<string, ReturnType<typeof v4>[] | undefined>;
  let sockets: FakeSocket[];
  let sendError: Error | null;
  let browser: EmbeddedBrowser;
  let events: DcBrowserEvent[];

  const openSocket: MdnsSocketFactory = (spec, handlers) => {
    const socket: FakeSocket = { spec, handlers, sent: [], closed: false };
    sockets.push(socket);
    return {
      spec,
      send: (bytes) => {
        socket.sent.push(bytes);
        return Promise.resolve(sendError);
      },
      close: () => {
        socket.closed = true;
        return Promise.resolve();
      },
    };
  };
  const open = (iface: string, family: 4 | 6) =>
    sockets.filter((s) => !s.closed && s.spec.iface === iface && s.spec.family === family);
  const questions = (socket: FakeSocket) =>
    socket.sent.map((bytes) =>
      packet.decode(Buffer.from(bytes)).questions?.map((q) => `${q.type} ${q.name}`),
    );
  const changes = () => events.filter((e) => e.type === 'services-changed');

  beforeEach(() => {
    vi.useFakeTimers();
    table = { lo: undefined, eth1: [v4('10.1.0.2'), v6('fe80::2')], eth2: [v4('10.2.0.2')] };
    sockets = [];
    sendError = null;
    events = [];
    browser = new EmbeddedBrowser({
      clock,
      random: () => 0,
      listInterfaces: () => table,
      openSocket,
      coalesceMs: 10,
      settleMs: 1500,
    });
    browser.on((event) => events.push(event));
  });

  afterEach(async () => {
    await browser.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
  });

  it('opens an IPv4 socket per interface and an IPv6 one where there is IPv6, then settles', async () => {
    await browser.start();
    expect(sockets.map((s) => `${s.spec.iface}/${s.spec.family}/${s.spec.address ?? ''}`)).toEqual([
      'eth1/4/10.1.0.2',
      'eth1/6/',
      'eth2/4/10.2.0.2',
    ]);
    expect(browser.state()).toEqual({ kind: 'starting' });
    expect(browser.snapshot()).toMatchObject({ ok: false, reason: 'not-loaded' });
    await vi.advanceTimersByTimeAsync(1500);
    expect(browser.state()).toEqual({ kind: 'running' });
    expect(browser.snapshot()).toEqual({ ok: true, value: [] });
  });

  it('asks for the service type after 20 ms, then after 1, 2 and 4 s', async () => {
    await browser.start();
    const socket = open('eth1', 4)[0]!;
    await vi.advanceTimersByTimeAsync(19);
    expect(socket.sent).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(questions(socket)).toEqual([[`PTR ${SVC}`]]);
    await vi.advanceTimersByTimeAsync(1000);
    await vi.advanceTimersByTimeAsync(2000);
    expect(socket.sent).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(3999);
    expect(socket.sent).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(socket.sent).toHaveLength(4);
    expect(open('eth1', 6)[0]!.sent).toHaveLength(4);
  });

  it('reports a DC on the interface whose subnet holds the source, once per burst', async () => {
    await browser.start();
    const answers = response(dcAnswers('DC 1', 'dc.local', '10.1.0.9'));
    for (const s of sockets) s.handlers.onResponse(answers, rinfo('10.1.0.9'));
    await vi.advanceTimersByTimeAsync(10);
    expect(changes()).toEqual([
      {
        type: 'services-changed',
        services: [
          {
            iface: 'eth1',
            address: '10.1.0.9',
            port: 8009,
            txt: new Map([['p', 'tcp']]),
            name: 'DC 1',
            host: 'dc.local',
            protocol: 'ipv4',
          },
        ],
      },
    ]);
    expect(browser.stats()).toMatchObject({ packets: 1, unattributed: 0 });
  });

  it('attributes an IPv6 link-local source by its scope', async () => {
    await browser.start();
    const answers = response([
      ...dcAnswers('DC 6', 'dc6.local', '10.9.9.9').slice(0, 3),
      { name: 'dc6.local', type: 'AAAA', ttl: 120, data: 'fe80::9' },
    ]);
    for (const s of sockets) s.handlers.onResponse(answers, rinfo('fe80::9%eth1'));
    await vi.advanceTimersByTimeAsync(10);
    expect(changes().at(-1)).toMatchObject({
      services: [{ iface: 'eth1', address: 'fe80::9', protocol: 'ipv6' }],
    });
  });

  it('counts packets from unknown sources, other ports and undecodable ones without reporting them', async () => {
    await browser.start();
    const answers = response(dcAnswers('DC', 'dc.local', '10.7.0.9'));
    open('eth1', 4)[0]!.handlers.onResponse(answers, rinfo('10.7.0.9'));
    open('eth1', 4)[0]!.handlers.onResponse(answers, rinfo('10.1.0.9', 40000));
    open('eth1', 4)[0]!.handlers.onBadPacket();
    await vi.advanceTimersByTimeAsync(10);
    expect(changes()).toEqual([]);
    expect(browser.stats()).toMatchObject({ unattributed: 1, refusedPackets: 1, badPackets: 1, packets: 0 });
  });

  it('asks follow-up questions when a response names an instance without its records', async () => {
    await browser.start();
    const socket = open('eth2', 4)[0]!;
    socket.handlers.onResponse(
      response(dcAnswers('DC', 'dc.local', '10.2.0.9').slice(0, 1)),
      rinfo('10.2.0.9'),
    );
    expect(questions(socket)).toEqual([[`SRV DC.${SVC}`, `TXT DC.${SVC}`]]);
    socket.handlers.onResponse(
      response(dcAnswers('DC', 'dc.local', '10.2.0.9').slice(1, 3)),
      rinfo('10.2.0.9'),
    );
    expect(questions(socket).at(-1)).toEqual(['A dc.local', 'AAAA dc.local']);
  });

  it('removes a DC one second after its goodbye', async () => {
    await browser.start();
    const socket = open('eth2', 4)[0]!;
    socket.handlers.onResponse(response(dcAnswers('DC', 'dc.local', '10.2.0.9')), rinfo('10.2.0.9'));
    await vi.advanceTimersByTimeAsync(10);
    socket.handlers.onResponse(
      response([{ name: SVC, type: 'PTR', ttl: 0, data: `DC.${SVC}` }]),
      rinfo('10.2.0.9'),
    );
    await vi.advanceTimersByTimeAsync(999);
    expect(changes()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(11);
    expect(changes()).toHaveLength(2);
    expect(changes().at(-1)).toEqual({ type: 'services-changed', services: [] });
  });

  it('refreshes records at 80 % of their TTL and drops them when the TTL runs out', async () => {
    await browser.start();
    const socket = open('eth2', 4)[0]!;
    socket.handlers.onResponse(response(dcAnswers('DC', 'dc.local', '10.2.0.9', 10)), rinfo('10.2.0.9'));
    const before = socket.sent.length;
    await vi.advanceTimersByTimeAsync(8000);
    const refreshes = questions(socket).slice(before).flat();
    expect(refreshes).toEqual(expect.arrayContaining([`SRV DC.${SVC}`, 'A dc.local']));
    await vi.advanceTimersByTimeAsync(2010);
    expect(changes().at(-1)).toEqual({ type: 'services-changed', services: [] });
  });

  it('follows interfaces that appear and disappear', async () => {
    await browser.start();
    const socket = open('eth2', 4)[0]!;
    socket.handlers.onResponse(response(dcAnswers('DC', 'dc.local', '10.2.0.9')), rinfo('10.2.0.9'));
    await vi.advanceTimersByTimeAsync(10);
    expect(changes()).toHaveLength(1);
    table = { eth1: table.eth1, eth3: [v4('10.3.0.2')] };
    await vi.advanceTimersByTimeAsync(5000);
    expect(socket.closed).toBe(true);
    expect(changes().at(-1)).toEqual({ type: 'services-changed', services: [] });
    const eth3 = open('eth3', 4)[0]!;
    await vi.advanceTimersByTimeAsync(20);
    expect(questions(eth3)).toEqual([[`PTR ${SVC}`]]);
    expect(browser.stats().interfaces).toEqual(['eth1', 'eth3']);
  });

  it('reopens the sockets of an interface whose IPv4 address changed', async () => {
    await browser.start();
    table = { ...table, eth2: [v4('10.2.0.3')] };
    await vi.advanceTimersByTimeAsync(5000);
    expect(sockets.filter((s) => s.spec.iface === 'eth2').map((s) => [s.spec.address, s.closed])).toEqual([
      ['10.2.0.2', true],
      ['10.2.0.3', false],
    ]);
  });

  it('is unavailable while no interface can carry mDNS', async () => {
    table = {};
    await browser.start();
    expect(browser.state()).toMatchObject({ kind: 'unavailable', reason: 'no-interfaces' });
    expect(browser.snapshot()).toMatchObject({ ok: false, reason: 'not-running' });
    table = { eth5: [v4('10.5.0.2')] };
    await vi.advanceTimersByTimeAsync(5000);
    expect(browser.state()).toEqual({ kind: 'starting' });
    await vi.advanceTimersByTimeAsync(1500);
    expect(browser.state()).toEqual({ kind: 'running' });
  });

  it('reports a failing send once per socket until it works again', async () => {
    sendError = Object.assign(new Error('send ENETUNREACH 224.0.0.251:5353'), { code: 'ENETUNREACH' });
    await browser.start();
    await vi.advanceTimersByTimeAsync(20 + 1000 + 2000);
    const problems = events.filter((e) => e.type === 'problem');
    expect(problems).toHaveLength(3); // eth1 v4, eth1 v6, eth2 v4
    expect(problems[0]).toMatchObject({
      code: 'send-failed',
      detail: expect.stringContaining('ENETUNREACH'),
    });
    expect(browser.stats().sendErrors).toBe(9);
    sendError = null;
    await vi.advanceTimersByTimeAsync(4000);
    sendError = new Error('again');
    await vi.advanceTimersByTimeAsync(8000);
    expect(events.filter((e) => e.type === 'problem')).toHaveLength(6);
  });

  it('reports a socket error once per socket', async () => {
    await browser.start();
    const socket = open('eth1', 4)[0]!;
    socket.handlers.onError(new Error('addMembership EADDRNOTAVAIL'));
    socket.handlers.onError(new Error('addMembership EADDRNOTAVAIL'));
    expect(events.filter((e) => e.type === 'problem')).toEqual([
      { type: 'problem', code: 'socket-error', detail: 'eth1 IPv4: addMembership EADDRNOTAVAIL' },
    ]);
  });

  it('closes every socket and forgets everything when stopped, also through its abort signal', async () => {
    const controller = new AbortController();
    await browser.start({ signal: controller.signal });
    open('eth2', 4)[0]!.handlers.onResponse(
      response(dcAnswers('DC', 'dc.local', '10.2.0.9')),
      rinfo('10.2.0.9'),
    );
    controller.abort();
    await browser.stop();
    expect(sockets.every((s) => s.closed)).toBe(true);
    expect(browser.state()).toMatchObject({ kind: 'unavailable', reason: 'stopped' });
    expect(browser.snapshot()).toMatchObject({ ok: false });
    open('eth2', 4);
    expect(changes()).toEqual([]);
  });
});
