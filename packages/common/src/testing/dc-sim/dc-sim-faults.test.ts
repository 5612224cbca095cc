import { afterEach, describe, expect, it, vi } from 'vitest';
import { StasError } from '../../errors.js';
import {
  AEN_DISCOVERY_LOG_CHANGE,
  AsyncEventConfig,
  asyncEventRequestCommand,
  identifyCommand,
  keepAliveCommand,
  setAsyncEventConfigCommand,
} from '../../nvme/wire/admin-cmd.js';
import { decodeDiscoveryLogEntries } from '../../nvme/wire/discovery-log.js';
import { PduType, capsuleCmd } from '../../nvme/wire/pdu.js';
import { STATUS_DNR, StatusCode } from '../../nvme/wire/status.js';
import type { MalformedKind } from './dc-sim-options.js';
import type { RawHost } from './raw-host.js';
import { ENTRIES, Resources, readDiscoveryLog } from './test-support.js';

const res = new Resources();
afterEach(async () => {
  vi.useRealTimers();
  await res.release();
});

function c2hBytes(h: RawHost, cid: number): { bytes: number; last: boolean; resp: boolean } {
  let bytes = 0;
  let last = false;
  let resp = false;
  for (const p of h.received) {
    if (p.type === PduType.C2HData && p.cccid === cid) {
      bytes += p.data.length;
      last ||= p.last;
    }
    if (p.type === PduType.CapsuleResp && p.cqe.cid === cid) resp = true;
  }
  return { bytes, last, resp };
}

describe('fault: disconnect', () => {
  it('closes after N bytes of the aimed log page read, then serves the next connection normally', async () => {
    const sim = await res.sim({
      entries: ENTRIES,
      maxC2HDataBytes: 1000,
      faults: { disconnect: { skip: 1, afterBytes: 1500 } },
    });
    const h = await res.host(sim);
    await h.open();
    expect((await h.getLogPage({ length: 20 })).status).toBe(0); // the skipped read
    const closed = sim.waitFor('closed');
    const cid = h.cid() + 1; // the CID getLogPage() takes next
    await expect(h.getLogPage({ offset: 1024, length: 3072 })).rejects.toThrow('connection closed');
    expect(c2hBytes(h, cid)).toEqual({ bytes: 1500, last: false, resp: false });
    expect((await closed).reason).toBe('fault-disconnect');

    const again = await res.host(sim);
    await again.open();
    expect((await readDiscoveryLog(again)).entries).toEqual(ENTRIES);
  });

  it('closes as soon as the command arrives with afterBytes 0, and fires `times` times', async () => {
    const sim = await res.sim({ entries: ENTRIES, faults: { disconnect: { times: 2 } } });
    for (let i = 0; i < 2; i++) {
      const h = await res.host(sim);
      await h.open();
      await expect(h.getLogPage({ length: 20 })).rejects.toThrow('connection closed');
      expect(h.received.filter((p) => p.type === PduType.C2HData)).toEqual([]);
    }
    const h = await res.host(sim);
    await h.open();
    expect((await h.getLogPage({ length: 20 })).status).toBe(0);
  });
});

describe('fault: stall', () => {
  it('answers nothing while stalled, freezes KATO, and answers the queue on resume()', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const sim = await res.sim();
    const h = await res.host(sim);
    await h.open({ katoMs: 1000 });
    sim.stall();
    const seen = sim.waitFor('command', { filter: (e) => e.name === 'keep-alive' });
    const ka = h.command(keepAliveCommand({ cid: h.cid() }), undefined, 60_000);
    await seen;
    vi.advanceTimersByTime(5000); // far beyond KATO: the stalled target does not tear down
    expect(sim.connections[0]).toMatchObject({ state: 'connected', stalled: true });
    expect(sim.connections[0]?.roundTrips.byCommand['keep-alive']).toBe(1);
    expect(h.received.some((p) => p.type === PduType.CapsuleResp && p.cqe.cid === 3)).toBe(false);
    sim.resume();
    expect((await ka).status).toBe(0);
    const closed = sim.waitFor('closed', { timeoutMs: 60_000 });
    vi.advanceTimersByTime(1000);
    expect((await closed).reason).toBe('kato-expired');
  });

  it('stalls one connection from the aimed command on, keeping the order on resume()', async () => {
    const sim = await res.sim({ faults: { stall: { on: { command: 'keep-alive' } } } });
    const other = await res.host(sim);
    await other.open();
    const h = await res.host(sim);
    await h.open();
    const order: number[] = [];
    sim.on('response', (e) => order.push(e.cid));
    const first = h.command(keepAliveCommand({ cid: h.cid() }));
    const second = h.command(identifyCommand({ cid: h.cid() }));
    await sim.waitUntil(
      () => sim.connections[0]?.roundTrips.total === 2 && sim.connections[1]?.roundTrips.total === 4,
    );
    expect(sim.connections.map((c) => c.stalled)).toEqual([false, true]);
    // The other connection is not stalled: the fault hit only once.
    expect((await other.command(keepAliveCommand({ cid: other.cid() }))).status).toBe(0);
    sim.resume();
    expect((await first).status).toBe(0);
    expect((await second).status).toBe(0);
    expect(order.slice(-2)).toEqual([3, 4]);
  });
});

describe('fault: malformed PDU', () => {
  const cases: [MalformedKind, { hdgst?: boolean; ddgst?: boolean }, string][] = [
    ['plen-below-hlen', {}, 'WIRE_BAD_PLEN'],
    ['plen-huge', {}, 'WIRE_PLEN_TOO_LARGE'],
    ['bad-type', {}, 'WIRE_BAD_TYPE'],
    ['bad-hlen', {}, 'WIRE_BAD_HLEN'],
    ['bad-hdgst', {}, 'WIRE_BAD_FLAGS'],
    ['bad-hdgst', { hdgst: true }, 'WIRE_HDGST_MISMATCH'],
    ['bad-ddgst', {}, 'WIRE_BAD_FLAGS'],
    ['bad-ddgst', { ddgst: true }, 'WIRE_DDGST_MISMATCH'],
  ];

  it.each(cases)('%s (digests %o) makes the host decoder fail with %s', async (kind, digests, code) => {
    const sim = await res.sim({ faults: { malformed: { kind, on: { command: 'identify' } } } });
    const h = await res.host(sim);
    await h.open(digests);
    await expect(h.command(identifyCommand({ cid: h.cid() }))).rejects.toMatchObject({ code });
    expect(h.wireError).toMatchObject({ code });
  });

  it('aims bad-ddgst only at commands that return data', async () => {
    const sim = await res.sim({ faults: { malformed: { kind: 'bad-ddgst' } } });
    const h = await res.host(sim);
    await h.open({ ddgst: true });
    expect((await h.command(keepAliveCommand({ cid: h.cid() }))).status).toBe(0);
    await expect(h.command(identifyCommand({ cid: h.cid() }))).rejects.toMatchObject({
      code: 'WIRE_DDGST_MISMATCH',
    });
  });
});

describe('fault: data length', () => {
  it('sends C2HData beyond the command length', async () => {
    const sim = await res.sim({ entries: ENTRIES, faults: { dataLength: { delta: 8 } } });
    const h = await res.host(sim);
    await h.open();
    const r = await h.getLogPage({ length: 20 });
    expect(r.data.length).toBe(28);
    expect(r.c2h.at(-1)?.last).toBe(true);
  });

  it('sends a short transfer when delta is negative', async () => {
    const sim = await res.sim({ entries: ENTRIES, faults: { dataLength: { delta: -1024, skip: 1 } } });
    const h = await res.host(sim);
    await h.open();
    await h.getLogPage({ length: 20 });
    const r = await h.getLogPage({ offset: 1024, length: 3072 });
    expect(r.status).toBe(0);
    expect(decodeDiscoveryLogEntries(r.data, 2)).toEqual(ENTRIES.slice(0, 2));
  });
});

describe('fault: genctr race', () => {
  it('changes GENCTR between header and entries N times, forcing N retries of the consistent read', async () => {
    const sim = await res.sim({ entries: ENTRIES, genctr: 10, faults: { genctrRace: { times: 2 } } });
    const h = await res.host(sim);
    await h.open();
    const log = await readDiscoveryLog(h);
    expect(log).toMatchObject({ genctr: 12n, passes: 3 });
    expect(log.entries).toEqual(ENTRIES);
    // header, then (entries, header) per pass: the changed header starts the next pass.
    expect(sim.roundTrips.byCommand['get-log-page']).toBe(7);
    expect((await readDiscoveryLog(h)).passes).toBe(1);
  });
});

describe('fault: AEN flood', () => {
  it('completes the next K AERs at once, then holds the AER again', async () => {
    const sim = await res.sim({ faults: { aenFlood: { count: 2 } } });
    const h = await res.host(sim);
    await h.open();
    await h.command(setAsyncEventConfigCommand({ cid: h.cid(), mask: AsyncEventConfig.DLPCN }));
    for (let i = 0; i < 2; i++) {
      expect((await h.command(asyncEventRequestCommand({ cid: h.cid() }))).cqe.dw0).toBe(
        AEN_DISCOVERY_LOG_CHANGE,
      );
    }
    h.sendPdu(capsuleCmd(asyncEventRequestCommand({ cid: h.cid() })));
    await sim.waitUntil(() => sim.connections[0]?.aerOutstanding === 1);
    expect(sim.genctr).toBe(1n);
    sim.floodAens(1);
    expect((await h.command(asyncEventRequestCommand({ cid: h.cid() }))).cqe.dw0).toBe(
      AEN_DISCOVERY_LOG_CHANGE,
    );
  });

  it('does not flood a host that did not enable notices', async () => {
    const sim = await res.sim({ faults: { aenFlood: { count: 1 } } });
    const h = await res.host(sim);
    await h.open();
    h.sendPdu(capsuleCmd(asyncEventRequestCommand({ cid: h.cid() })));
    await sim.waitUntil(() => sim.connections[0]?.aerOutstanding === 1);
    expect(sim.connections[0]?.aerOutstanding).toBe(1);
  });
});

describe('fault: refused Connect, failed command, forced digests', () => {
  it('refuses Connect with the given status the given number of times', async () => {
    const status = StatusCode.ConnectInvalidHost | STATUS_DNR;
    const sim = await res.sim({ faults: { refuseConnect: { status, dw0: 0x10200, times: 1 } } });
    const h = await res.host(sim);
    await h.icreq();
    const r = await h.connectAdmin();
    expect(r.status).toBe(status);
    expect(r.cqe.dw0).toBe(0x10200);
    expect(sim.connections[0]?.state).toBe('await-connect');
    expect((await h.connectAdmin()).status).toBe(0);
  });

  it('fails the aimed command with the given status', async () => {
    const sim = await res.sim({
      faults: { failCommand: { on: { command: 'identify' }, status: StatusCode.InternalError } },
    });
    const h = await res.host(sim);
    await h.open();
    expect((await h.command(identifyCommand({ cid: h.cid() }))).status).toBe(StatusCode.InternalError);
    expect((await h.command(identifyCommand({ cid: h.cid() }))).status).toBe(0);
  });

  it('answers ICReq with forced digest bits', async () => {
    const sim = await res.sim({ faults: { icrespDigests: { hdgst: true, ddgst: false } } });
    const h = await res.host(sim);
    expect(await h.icreq()).toMatchObject({ hdgst: true, ddgst: false });
    expect((await h.connectAdmin()).status).toBe(0);
  });
});

describe('fault: response delay', () => {
  it('delays every PDU by D ms and keeps their order', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const sim = await res.sim({ faults: { responseDelayMs: 50 } });
    const h = await res.host(sim);
    const icresp = h.icreq();
    await sim.waitUntil(() => sim.connections[0]?.state === 'await-connect');
    vi.advanceTimersByTime(50);
    await icresp;
    let responses = 0;
    sim.on('response', () => responses++);
    const connect = h.connectAdmin();
    await sim.waitFor('command');
    vi.advanceTimersByTime(49);
    expect(responses).toBe(0);
    vi.advanceTimersByTime(1);
    expect(responses).toBe(1);
    expect((await connect).status).toBe(0);
  });
});

describe('fault plan changes at run time', () => {
  it('setFaults() replaces the plan with fresh counters and checks it', async () => {
    const sim = await res.sim({ entries: ENTRIES });
    const h = await res.host(sim);
    await h.open();
    sim.setFaults({ failCommand: { on: { command: 'keep-alive' }, status: StatusCode.InternalError } });
    expect((await h.command(keepAliveCommand({ cid: h.cid() }))).status).toBe(StatusCode.InternalError);
    expect((await h.command(keepAliveCommand({ cid: h.cid() }))).status).toBe(0);
    expect(() => {
      sim.setFaults({ disconnect: { skip: -1 } });
    }).toThrow(StasError);
    expect(sim.faults.failCommand?.status).toBe(StatusCode.InternalError);
  });
});
