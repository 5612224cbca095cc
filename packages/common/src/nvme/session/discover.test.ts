import { afterEach, describe, expect, it } from 'vitest';
import { DcSimulator } from '../../testing/dc-sim/dc-simulator.js';
import { discover } from './discover.js';
import { entries, handles, leaked, sessionOptions, simIdle } from './session-test-support.js';

const sims: DcSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function sim(options: Parameters<typeof DcSimulator.start>[0] = {}): Promise<DcSimulator> {
  const s = await DcSimulator.start(options);
  sims.push(s);
  return s;
}

describe('discover (one-shot)', () => {
  it.each([0, 1, 10, 100, 1000])(
    'reads %i entries with no MDTS limit in at most 8 round trips, counted by the session and by the DC',
    async (n) => {
      const dc = await sim({ entries: entries(n), genctr: 42 });
      const r = await discover(sessionOptions(dc));
      expect(r.entries).toEqual(dc.entries);
      expect(r.genctr).toBe(42n);
      // Session: ICReq, Connect, CC.EN+CSTS, Identify, log read (1 for an empty log, else 2), CC.SHN+CSTS.
      expect(r.logRoundTrips).toBe(n === 0 ? 1 : 2);
      expect(r.roundTrips).toBe(n === 0 ? 6 : 7);
      expect(r.roundTrips).toBeLessThanOrEqual(8);
      // The DC counts every command capsule of the whole exchange, shutdown included.
      expect(dc.roundTrips.byCommand['get-log-page']).toBe(r.logRoundTrips);
      expect(dc.roundTrips.total).toBe(n === 0 ? 7 : 8);
      expect(dc.roundTrips.total).toBeLessThanOrEqual(8);
    },
  );

  it('returns the Identify subset and sends no AEN setup and no Keep Alive', async () => {
    const dc = await sim({ dctype: 'cdc', subnqn: 'nqn.2014-08.org.example:cdc', entries: entries(2) });
    const r = await discover(sessionOptions(dc));
    expect(r.identify).toMatchObject({
      cntlid: 1,
      cntrltype: 2,
      dctype: 2,
      subnqn: 'nqn.2014-08.org.example:cdc',
      mdts: 0,
    });
    expect(r.peer).toBe(`127.0.0.1:${dc.port}`);
    expect(dc.roundTrips.byCommand['set-features']).toBeUndefined();
    expect(dc.roundTrips.byCommand.aer).toBeUndefined();
    expect(dc.roundTrips.byCommand['keep-alive']).toBeUndefined();
  });

  it('closes the session before it settles, even when the read fails', async () => {
    const dc = await sim({ faults: { failCommand: { on: { command: 'get-log-page' }, status: 0x4002 } } });
    const before = handles();
    await expect(discover(sessionOptions(dc))).rejects.toMatchObject({ code: 'NVME_STATUS' });
    await simIdle(dc);
    expect(leaked(before, handles())).toEqual([]);
  });

  it('chunks with a small MDTS (more round trips, same entries)', async () => {
    const dc = await sim({ mdts: 2, entries: entries(100) });
    const r = await discover(sessionOptions(dc));
    expect(r.entries).toEqual(dc.entries);
    expect(r.logRoundTrips).toBe(3);
    expect(dc.roundTrips.byCommand['get-log-page']).toBe(1 + Math.ceil((100 * 1024) / 16384) + 1);
  });
});
