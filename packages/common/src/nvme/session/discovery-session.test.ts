import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError, StasError, TimeoutError } from '../../errors.js';
import { nvmeEntry } from '../../testing/dc-sim/dc-sim-entries.js';
import { DcSimulator, type DcSimOptions } from '../../testing/dc-sim/dc-simulator.js';
import { AEN_DISCOVERY_LOG_CHANGE } from '../wire/admin-cmd.js';
import { DISCOVERY_NQN } from '../wire/fabrics-cmd.js';
import { openDiscoverySession, type DiscoverySession, type SessionEvent } from './discovery-session.js';
import {
  HOSTID,
  HOSTNQN,
  entries,
  handles,
  leaked,
  sessionOptions,
  simIdle,
  withoutUnhandledRejections,
} from './session-test-support.js';

const sims: DcSimulator[] = [];
const sessions: DiscoverySession[] = [];

afterEach(async () => {
  for (const s of sessions.splice(0)) s.destroy();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function sim(options: DcSimOptions = {}): Promise<DcSimulator> {
  const s = await DcSimulator.start(options);
  sims.push(s);
  return s;
}

async function open(
  dc: DcSimulator,
  extra: Parameters<typeof sessionOptions>[1] = {},
): Promise<DiscoverySession> {
  const s = await openDiscoverySession(sessionOptions(dc, extra));
  sessions.push(s);
  return s;
}

async function collect(events: AsyncIterable<SessionEvent>): Promise<SessionEvent[]> {
  const out: SessionEvent[] = [];
  for await (const ev of events) out.push(ev);
  return out;
}

describe('DiscoverySession against the simulator', () => {
  it('runs a full session: connect, enable, identify, AEN setup, log read, orderly close, nothing left behind', async () => {
    const dc = await sim({ entries: entries(3), genctr: 5 });
    const before = handles();
    const rejections = await withoutUnhandledRejections(async () => {
      const s = await open(dc);
      expect(s.cntlid).toBe(1);
      expect(s.identify).toMatchObject({ cntlid: 1, cntrltype: 2, subnqn: DISCOVERY_NQN, dctype: 0 });
      expect(s.aenEnabled).toBe(true);
      const info = dc.connections[0];
      expect(info).toMatchObject({
        hostnqn: HOSTNQN,
        hostid: HOSTID,
        subnqn: DISCOVERY_NQN,
        katoMs: 30_000,
        ready: true,
      });
      expect(info?.aenEnabled).toBe(0x8000_0000);
      expect(info?.aerOutstanding).toBe(1);

      const log = await s.readDiscoveryLog();
      expect(log.genctr).toBe(5n);
      expect(log.entries).toEqual(dc.entries);
      expect(log.roundTrips).toBe(2);
      expect(log.lsp).toBe(0);

      const events = collect(s.events);
      await s.close();
      await s.close();
      expect(await events).toEqual([{ kind: 'close', error: undefined }]);
      expect(s.stats.bytesIn).toBeGreaterThan(4 * 1024);
      expect(dc.roundTrips.byCommand).toMatchObject({
        'property-set': 2,
        connect: 1,
        identify: 1,
        'get-log-page': 2,
      });
      await expect(s.readDiscoveryLog()).rejects.toBeInstanceOf(ClosedError);
      await simIdle(dc);
    });
    expect(rejections).toEqual([]);
    expect(leaked(before, handles())).toEqual([]);
  });

  it('counts round trips: ICReq, Connect, enable, Identify, AEN setup, then the log read', async () => {
    const dc = await sim({ entries: entries(10) });
    const s = await open(dc);
    expect(s.stats.roundTrips).toBe(5);
    await s.readDiscoveryLog();
    expect(s.stats).toMatchObject({ roundTrips: 7, commands: 8 });
    expect(dc.roundTrips.total).toBe(8);
  });

  it('re-reads the log within 100 ms of a change, driven by the AEN', async () => {
    const dc = await sim({ entries: entries(5) });
    const s = await open(dc);
    await s.readDiscoveryLog();
    const seen: { at: number; count: number }[] = [];
    let reread: (() => void) | undefined;
    const nextRead = (): Promise<void> => new Promise((resolve) => (reread = resolve));
    const consumer = (async () => {
      for await (const ev of s.events) {
        if (ev.kind === 'aen' && ev.logChanged) {
          const log = await s.readDiscoveryLog();
          seen.push({ at: performance.now(), count: log.entries.length });
          reread?.();
          if (seen.length === 2) return;
        }
      }
    })();
    let read = nextRead();
    const t0 = performance.now();
    dc.setEntries(entries(7));
    await read;
    expect(seen[0]?.count).toBe(7);
    expect((seen[0]?.at ?? Infinity) - t0).toBeLessThan(100);

    // The AER was re-armed and the RAE=0 read unmasked the next notice.
    await dc.waitUntil(() => dc.connections[0]?.aerOutstanding === 1 && !dc.connections[0].aenMasked);
    read = nextRead();
    const t1 = performance.now();
    dc.addEntry(nvmeEntry({ traddr: '10.9.9.9', subnqn: 'nqn.2014-08.org.example:late' }));
    await read;
    expect(seen[1]?.count).toBe(8);
    expect((seen[1]?.at ?? Infinity) - t1).toBeLessThan(100);
    await consumer;
    await s.close();
  });

  it('delivers the AEN as a typed event with the decoded notice', async () => {
    const dc = await sim();
    const s = await open(dc);
    const it = s.events[Symbol.asyncIterator]();
    dc.bumpGenctr();
    const ev = await it.next();
    expect(ev.value).toEqual({
      kind: 'aen',
      dw0: AEN_DISCOVERY_LOG_CHANGE,
      event: { type: 2, info: 0xf0, lid: 0x70 },
      logChanged: true,
    });
    await s.close();
  });

  it('does not set up AENs when the DC does not advertise them (OAES b31 clear)', async () => {
    const dc = await sim({ aen: false });
    const s = await open(dc);
    expect(s.aenEnabled).toBe(false);
    expect(dc.roundTrips.byCommand['set-features']).toBeUndefined();
    expect(dc.roundTrips.byCommand.aer).toBeUndefined();
    await s.close();
  });

  it('keeps the association alive with Keep Alive over several KATO periods (KATO 1 s, only Keep Alive counts)', async () => {
    const dc = await sim({ kato: { trafficBased: false } });
    const s = await open(dc, { katoMs: 1000 });
    const t0 = performance.now();
    await dc.waitUntil(() => (dc.connections[0]?.roundTrips.byCommand['keep-alive'] ?? 0) >= 6, {
      timeoutMs: 6000,
    });
    expect(performance.now() - t0).toBeGreaterThan(2500); // three KATO periods went by
    expect(s.isOpen).toBe(true);
    expect(dc.connections[0]?.state).toBe('connected');
    await s.close();
  });

  it("ends the session with TimeoutError phase 'kato' when Keep Alives go unanswered", async () => {
    const dc = await sim();
    const s = await open(dc, { katoMs: 1000 });
    const events = collect(s.events);
    dc.stall();
    const list = await events;
    const last = list[list.length - 1];
    expect(last?.kind).toBe('close');
    const err = last?.kind === 'close' ? last.error : undefined;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ phase: 'kato', peer: s.peer });
    await expect(s.readDiscoveryLog()).rejects.toBe(err);
    await s.closed;
  });

  it('registers with and deregisters from a CDC (DIM), with the host identity and source address', async () => {
    const dc = await sim({ dctype: 'cdc' });
    const s = await open(dc);
    expect(s.supportsRegistration).toBe(true);
    await s.register({ hostname: 'host-a', version: 'Linux 6.9', symname: 'rack 7' });
    expect(dc.registrations).toEqual([
      expect.objectContaining({
        hostnqn: HOSTNQN,
        hostid: HOSTID,
        symname: 'rack 7',
        traddr: '127.0.0.1',
        adrfam: 1,
        entityName: 'host-a',
        entityVersion: 'Linux 6.9',
      }),
    ]);
    await s.deregister();
    expect(dc.registrations).toEqual([]);
    await s.close();
  });

  it('does not send DIM to a DC without registration support (DCTYPE none)', async () => {
    const dc = await sim({ dctype: 'none' });
    const s = await open(dc);
    expect(s.supportsRegistration).toBe(false);
    await expect(s.register()).rejects.toMatchObject({ code: 'NVME_DIM_UNSUPPORTED' });
    expect(dc.roundTrips.byCommand.dim).toBeUndefined();
    expect(s.isOpen).toBe(true);
    await s.close();
  });

  it('chunks the entries when MDTS is small, and gets the same log', async () => {
    const dc = await sim({ mdts: 1, entries: entries(100) });
    const s = await open(dc);
    dc.resetRoundTrips();
    const log = await s.readDiscoveryLog();
    expect(log.entries).toEqual(dc.entries);
    // header + 13 chunks of 8 KiB (100 KiB of entries) + header again
    expect(dc.roundTrips.byCommand['get-log-page']).toBe(15);
    expect(log.roundTrips).toBe(3);
    await s.close();
  });

  it('refuses a log above the maxEntries of the read, naming its setting, and stays usable', async () => {
    const dc = await sim({ entries: entries(5) });
    const s = await open(dc);
    const refused = s.readDiscoveryLog({ maxEntries: 4, maxEntriesSetting: 'max-log-page-entries' });
    await expect(refused).rejects.toMatchObject({
      code: 'NVME_DLP_TOO_LARGE',
      message: expect.stringContaining('exceeds the limit of 4 entries (set by max-log-page-entries)'),
    });
    const log = await s.readDiscoveryLog({ maxEntries: 5 });
    expect(log.entries).toEqual(dc.entries);
    await s.close();
  });

  it('reads the whole log from offset 0 in one command when the DC ignores offsets (LPA b2 clear)', async () => {
    const dc = await sim({ lpaExtendedData: false, entries: entries(4) });
    const s = await open(dc);
    const log = await s.readDiscoveryLog();
    expect(log.entries).toEqual(dc.entries);
    await s.close();
  });

  it('uses PLEO for every read when asked and advertised, after reading Supported Log Pages once', async () => {
    const local = entries(2).map((e) => ({ ...e, portid: 1 }));
    const remote = entries(2, 10).map((e) => ({ ...e, portid: 9 }));
    const dc = await sim({ logPages: { pleo: true }, entries: [...local, ...remote] });
    const lids: number[] = [];
    dc.on('command', (ev) => {
      if (ev.name === 'get-log-page') lids.push(ev.sqe.cdw10 & 0xff, (ev.sqe.cdw10 >>> 8) & 0x7f);
    });
    const s = await open(dc);
    const first = await s.readDiscoveryLog({ pleo: true });
    const second = await s.readDiscoveryLog({ pleo: true });
    expect(first.lsp).toBe(2);
    expect(first.entries).toEqual(local);
    expect(second.entries).toEqual(local);
    expect(lids).toEqual([0x00, 0, 0x70, 2, 0x70, 2, 0x70, 2, 0x70, 2]);
    expect((await s.readDiscoveryLog()).entries).toHaveLength(4);
    await s.close();
  });

  it('does not ask a DC without PLEO support for it (LID 0x00 refused counts as no options)', async () => {
    const dc = await sim({ entries: entries(2) });
    const s = await open(dc);
    const log = await s.readDiscoveryLog({ pleo: true });
    expect(log.lsp).toBe(0);
    expect(log.entries).toHaveLength(2);
    await s.close();
  });

  it('works with header and data digests', async () => {
    const dc = await sim({ entries: entries(20) });
    const s = await open(dc, { hdgst: true, ddgst: true });
    expect(dc.connections[0]?.digests).toEqual({ hdgst: true, ddgst: true });
    expect((await s.readDiscoveryLog()).entries).toEqual(dc.entries);
    await s.close();
  });

  it('reassembles a log the DC sends in many small C2HData PDUs', async () => {
    const dc = await sim({ maxC2HDataBytes: 1000, entries: entries(30) });
    const s = await open(dc);
    expect((await s.readDiscoveryLog()).entries).toEqual(dc.entries);
    await s.close();
  });

  it('talks IPv6 (::1)', async () => {
    let dc: DcSimulator;
    try {
      dc = await sim({ host: '::1', entries: entries(1) });
    } catch {
      return; // no IPv6 loopback in this environment
    }
    const s = await open(dc);
    expect(s.peer).toBe(`[::1]:${dc.port}`);
    expect((await s.readDiscoveryLog()).entries).toHaveLength(1);
    await s.close();
  });

  it('connects to a unique discovery NQN and accepts Identify reporting it', async () => {
    const nqn = 'nqn.2014-08.org.example:unique-dc';
    const dc = await sim({ subnqn: nqn });
    const s = await open(dc, { subsysnqn: nqn });
    expect(s.identify.subnqn).toBe(nqn);
    expect(dc.connections[0]?.subnqn).toBe(nqn);
    await s.close();
  });

  it('destroy() ends the session at once with the given error, idempotently, and leaves nothing behind', async () => {
    const dc = await sim();
    const before = handles();
    const s = await open(dc);
    const events = collect(s.events);
    const reason = new StasError('TEST_STOP', 'stop');
    s.destroy(reason);
    s.destroy();
    await s.close();
    expect(await events).toEqual([{ kind: 'close', error: reason }]);
    await expect(s.register()).rejects.toBe(reason);
    await simIdle(dc);
    expect(leaked(before, handles())).toEqual([]);
  });

  it('refuses bad options before connecting', async () => {
    const dc = await sim();
    await expect(openDiscoverySession(sessionOptions(dc, { hostnqn: 'host-a' }))).rejects.toMatchObject({
      code: 'NVME_BAD_OPTION',
    });
    await expect(openDiscoverySession(sessionOptions(dc, { katoMs: 500 }))).rejects.toMatchObject({
      code: 'NVME_BAD_OPTION',
    });
    await expect(openDiscoverySession(sessionOptions(dc, { hostIface: 'nosuchif0' }))).rejects.toMatchObject({
      code: 'NVME_BAD_OPTION',
    });
    expect(dc.roundTrips.total).toBe(0);
  });
});
