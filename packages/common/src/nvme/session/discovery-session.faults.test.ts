import { afterEach, describe, expect, it } from 'vitest';
import {
  ClosedError,
  ConnectError,
  NvmeStatusError,
  StasError,
  TimeoutError,
  WireError,
} from '../../errors.js';
import { DcSimulator, type DcSimOptions } from '../../testing/dc-sim/dc-simulator.js';
import type { DcSimCloseReason } from '../../testing/dc-sim/dc-sim-events.js';
import {
  openDiscoverySession,
  type DiscoverySession,
  type DiscoverySessionOptions,
} from './discovery-session.js';
import {
  entries,
  handles,
  leaked,
  sessionOptions,
  simIdle,
  withoutUnhandledRejections,
} from './session-test-support.js';

const sims: DcSimulator[] = [];

afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function sim(options: DcSimOptions = {}): Promise<DcSimulator> {
  const s = await DcSimulator.start({ entries: entries(3), ...options });
  sims.push(s);
  return s;
}

async function outcome(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err;
  }
}

/**
 * Run a fault scenario and check the cleanliness contract: no unhandled rejection, the simulator's
 * connection gone, and no socket or timer left compared with before the session.
 */
async function scenario(
  dc: DcSimulator,
  run: () => Promise<void>,
  expectReason?: DcSimCloseReason,
): Promise<void> {
  const before = handles();
  const reasons: DcSimCloseReason[] = [];
  dc.on('closed', (ev) => reasons.push(ev.reason));
  const rejections = await withoutUnhandledRejections(async () => {
    await run();
    await simIdle(dc);
  });
  expect(rejections).toEqual([]);
  if (expectReason !== undefined) expect(reasons).toEqual([expectReason]);
  expect(leaked(before, handles())).toEqual([]);
}

function open(dc: DcSimulator, extra: Partial<DiscoverySessionOptions> = {}): Promise<DiscoverySession> {
  return openDiscoverySession(sessionOptions(dc, extra));
}

describe('DiscoverySession faults: each ends in a typed error and a clean close', () => {
  it('Connect refused by the DC → NvmeStatusError (Connect Invalid Host)', async () => {
    const dc = await sim({ faults: { refuseConnect: { status: 0x4184 } } });
    await scenario(dc, async () => {
      const err = await outcome(open(dc));
      expect(err).toBeInstanceOf(NvmeStatusError);
      expect(err).toMatchObject({ sct: 1, sc: 0x84, dnr: true });
      expect((err as Error).message).toContain('Connect failed: Connect Invalid Host');
      expect((err as Error).message).toContain(`127.0.0.1:${dc.port}`);
    });
  });

  it('nothing listening → ConnectError refused', async () => {
    const dc = await sim();
    const port = dc.port;
    await dc.close();
    const err = await outcome(openDiscoverySession(sessionOptions(dc, { trsvcid: port })));
    expect(err).toBeInstanceOf(ConnectError);
    expect(err).toMatchObject({ kind: 'refused' });
  });

  it('DC hangs on Identify → TimeoutError admin', async () => {
    const dc = await sim({ faults: { stall: { on: { command: 'identify' } } } });
    await scenario(dc, async () => {
      const err = await outcome(open(dc, { adminTimeoutMs: 200 }));
      expect(err).toBeInstanceOf(TimeoutError);
      expect(err).toMatchObject({ phase: 'admin' });
      expect((err as Error).message).toContain('Identify Controller got no completion within 200 ms');
    });
  });

  it("DC hangs on Connect → TimeoutError phase 'connect'", async () => {
    const dc = await sim({ faults: { stall: { on: { command: 'connect' } } } });
    await scenario(dc, async () => {
      expect(await outcome(open(dc, { adminTimeoutMs: 200 }))).toMatchObject({
        code: 'NVME_TIMEOUT',
        phase: 'connect',
      });
    });
  });

  it('ICResp with other digests than asked → NVME_PROTOCOL_ERROR', async () => {
    const dc = await sim({ faults: { icrespDigests: { hdgst: true, ddgst: false } } });
    await scenario(dc, async () => {
      expect(await outcome(open(dc))).toMatchObject({ code: 'NVME_PROTOCOL_ERROR' });
    });
  });

  it('DC drops the connection during the log read → ClosedError byPeer, and the close event carries it', async () => {
    const dc = await sim({ faults: { disconnect: { afterBytes: 2000 } }, entries: entries(5) });
    await scenario(dc, async () => {
      const s = await open(dc);
      const err = await outcome(s.readDiscoveryLog());
      expect(err).toBeInstanceOf(ClosedError);
      expect(err).toMatchObject({ byPeer: true });
      const last: unknown[] = [];
      for await (const ev of s.events) last.push(ev);
      expect(last).toEqual([{ kind: 'close', error: err }]);
      await expect(s.readDiscoveryLog()).rejects.toBe(err);
    });
  });

  it('DC restarts (all connections dropped) → ClosedError byPeer, keep-alive stopped', async () => {
    const dc = await sim();
    await scenario(dc, async () => {
      const s = await open(dc, { katoMs: 1000 });
      dc.dropConnections();
      await s.closed;
      await expect(s.readDiscoveryLog()).rejects.toMatchObject({ code: 'NVME_CLOSED', byPeer: true });
    });
  });

  for (const kind of ['plen-huge', 'plen-below-hlen', 'bad-type', 'bad-hlen', 'bad-hdgst'] as const) {
    it(`malformed PDU (${kind}) → WireError, H2CTermReq to the DC, this session closed`, async () => {
      const dc = await sim({ faults: { malformed: { kind, on: { command: 'get-log-page' } } } });
      await scenario(
        dc,
        async () => {
          const s = await open(dc, kind === 'bad-hdgst' ? { hdgst: true } : {});
          const err = await outcome(s.readDiscoveryLog());
          expect(err).toBeInstanceOf(WireError);
          await s.closed;
          expect(s.isOpen).toBe(false);
        },
        'host-term-req',
      );
    });
  }

  it('data digest error on a log read → NvmeStatusError Data Transfer Error; the session stays usable', async () => {
    const dc = await sim({ faults: { malformed: { kind: 'bad-ddgst', on: { command: 'get-log-page' } } } });
    await scenario(dc, async () => {
      const s = await open(dc, { ddgst: true });
      const err = await outcome(s.readDiscoveryLog());
      expect(err).toBeInstanceOf(NvmeStatusError);
      expect(err).toMatchObject({ sct: 0, sc: 0x04 });
      expect((await s.readDiscoveryLog()).entries).toHaveLength(3);
      await s.close();
    });
  });

  it('more data than asked for → WIRE_DATA_OUT_OF_RANGE, H2CTermReq, session closed', async () => {
    const dc = await sim({ faults: { dataLength: { delta: 8 } } });
    await scenario(
      dc,
      async () => {
        const s = await open(dc);
        expect(await outcome(s.readDiscoveryLog())).toMatchObject({ code: 'WIRE_DATA_OUT_OF_RANGE' });
        await s.closed;
      },
      'host-term-req',
    );
  });

  it('a short transfer (nofuse) → NVME_DLP_SHORT_TRANSFER; the session stays usable', async () => {
    const dc = await sim({ faults: { dataLength: { delta: -1024, skip: 1 } } });
    await scenario(dc, async () => {
      const s = await open(dc);
      expect(await outcome(s.readDiscoveryLog())).toMatchObject({ code: 'NVME_DLP_SHORT_TRANSFER' });
      expect(s.isOpen).toBe(true);
      expect((await s.readDiscoveryLog()).entries).toHaveLength(3);
      await s.close();
    });
  });

  it('a failed Get Log Page → NvmeStatusError; the session stays usable', async () => {
    const dc = await sim({
      faults: { failCommand: { on: { command: 'get-log-page' }, status: 0x4002 } },
    });
    await scenario(dc, async () => {
      const s = await open(dc);
      expect(await outcome(s.readDiscoveryLog())).toMatchObject({ code: 'NVME_STATUS', status: 0x4002 });
      expect((await s.readDiscoveryLog()).entries).toHaveLength(3);
      await s.close();
    });
  });

  it('GENCTR moving during a chunked read → the read retries and succeeds', async () => {
    const dc = await sim({ mdts: 1, entries: entries(20), faults: { genctrRace: { times: 2 } } });
    await scenario(dc, async () => {
      const s = await open(dc);
      const log = await s.readDiscoveryLog();
      expect(log.entries).toEqual(dc.entries);
      expect(log.genctr).toBe(dc.genctr);
      // header, then three passes of (chunks, header): each re-check header starts the next pass
      expect(log.roundTrips).toBe(1 + 3 * 2);
      await s.close();
    });
  });

  it('GENCTR moving before a single-command read → one pass: the image carries its own header', async () => {
    const dc = await sim({ entries: entries(4), faults: { genctrRace: { times: 1 } } });
    await scenario(dc, async () => {
      const s = await open(dc);
      const log = await s.readDiscoveryLog();
      expect(log.genctr).toBe(2n);
      expect(log.entries).toHaveLength(4);
      expect(log.roundTrips).toBe(2);
      await s.close();
    });
  });

  it('an AEN flood is coalesced into a bounded queue', async () => {
    const dc = await sim();
    await scenario(dc, async () => {
      const s = await open(dc);
      dc.floodAens(50);
      dc.bumpGenctr(); // completes the outstanding AER; the next 50 re-armed ones complete at once
      await dc.waitUntil(() => dc.roundTrips.byCommand.aer === 52);
      await s.close();
      const events: string[] = [];
      for await (const ev of s.events) events.push(ev.kind);
      expect(events).toEqual(['aen', 'close']);
    });
  });

  it('the opening is aborted by the caller → rejects with the reason, nothing left behind', async () => {
    const dc = await sim({ faults: { stall: { on: { command: 'identify' } } } });
    await scenario(dc, async () => {
      const ctl = new AbortController();
      const reason = new StasError('TEST_ABORT', 'user gave up');
      const p = openDiscoverySession(sessionOptions(dc), { signal: ctl.signal });
      await dc.waitFor('command', { filter: (ev) => ev.name === 'identify' }).catch(() => undefined);
      ctl.abort(reason);
      expect(await outcome(p)).toBe(reason);
    });
  });

  it('a read cancelled by the caller rejects with the reason; close() stays bounded with a hung DC', async () => {
    const dc = await sim();
    await scenario(dc, async () => {
      const s = await open(dc, { shutdownTimeoutMs: 100 });
      dc.stall();
      const ctl = new AbortController();
      const p = outcome(s.readDiscoveryLog({ signal: ctl.signal }));
      const reason = new Error('enough');
      ctl.abort(reason);
      expect(await p).toBe(reason);
      await s.close();
      dc.resume();
    });
  });
});
