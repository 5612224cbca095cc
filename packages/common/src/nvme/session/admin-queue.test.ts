import { describe, expect, it } from 'vitest';
import { ClosedError, NvmeStatusError, TimeoutError, WireError } from '../../errors.js';
import { keepAliveCommand, identifyCommand } from '../wire/admin-cmd.js';
import { makeCqe, statusFromValue } from '../wire/cqe.js';
import { PduType, capsuleResp, type CapsuleCmdPdu, type Pdu } from '../wire/pdu.js';
import { SglId, makeSqe } from '../wire/sqe.js';
import { AER_CID, AdminQueue, type AdminQueueOptions } from './admin-queue.js';
import { FakeClock, settle } from './fake-clock.js';

const PEER = '192.0.2.1:8009';

function setup(opts: Partial<AdminQueueOptions> = {}) {
  const sent: Pdu[] = [];
  const clock = new FakeClock();
  const timeouts: TimeoutError[] = [];
  const events: number[] = [];
  const queue = new AdminQueue(
    {
      send: (pdu) => {
        sent.push(pdu);
        return Promise.resolve();
      },
      maxh2cdata: 4096,
    },
    {
      peer: PEER,
      clock,
      defaultTimeoutMs: 1000,
      onTimeout: (err) => timeouts.push(err),
      onAsyncEvent: (dw0) => events.push(dw0),
      ...opts,
    },
  );
  const cmds = (): CapsuleCmdPdu[] => sent.filter((p): p is CapsuleCmdPdu => p.type === PduType.CapsuleCmd);
  const complete = (cid: number, status = 0, dw0 = 0): void => {
    queue.handlePdu(capsuleResp(makeCqe({ cid, dw0, status: statusFromValue(status) })));
  };
  return { queue, sent, clock, timeouts, events, cmds, complete };
}

const ka = { name: 'Keep Alive', build: (cid: number) => keepAliveCommand({ cid }) };

function c2h(cccid: number, datao: number, data: number[], last: boolean, success = false): Pdu {
  return { type: PduType.C2HData, cccid, datao, last, success, data: Uint8Array.from(data) };
}

describe('AdminQueue', () => {
  it('gives outstanding commands distinct CIDs and resolves each with its completion', async () => {
    const t = setup();
    const a = t.queue.submit(ka);
    const b = t.queue.submit(ka);
    const [ca, cb] = t.cmds().map((c) => c.sqe.cid);
    expect(ca).not.toBe(cb);
    t.complete(cb as number, 0, 7);
    t.complete(ca as number, 0, 5);
    expect((await a).cqe.dw0).toBe(5);
    expect((await b).cqe.dw0).toBe(7);
    expect(t.clock.pending).toBe(0);
  });

  it('counts pipelined commands as one round trip', () => {
    const t = setup();
    void t.queue.submit(ka);
    void t.queue.submit(ka);
    void t.queue.submit(ka);
    expect(t.queue.roundTrips).toBe(1);
    expect(t.queue.commands).toBe(3);
    for (const c of t.cmds()) t.complete(c.sqe.cid);
    void t.queue.submit(ka);
    expect(t.queue.roundTrips).toBe(2);
  });

  it('keeps at most maxOutstanding commands on the wire; the rest wait in order', () => {
    const t = setup({ maxOutstanding: 2 });
    for (let i = 0; i < 4; i++) void t.queue.submit(ka);
    expect(t.cmds()).toHaveLength(2);
    t.complete(t.cmds()[0]?.sqe.cid ?? -1);
    expect(t.cmds()).toHaveLength(3);
    expect(t.queue.outstanding).toBe(3);
  });

  it('reassembles C2HData into the command buffer and zero-fills a short transfer', async () => {
    const t = setup();
    const p = t.queue.submit({ name: 'Identify', build: (cid) => identifyCommand({ cid }), dataLength: 8 });
    const cid = t.cmds()[0]?.sqe.cid ?? -1;
    t.queue.handlePdu(c2h(cid, 0, [1, 2, 3], false));
    t.queue.handlePdu(c2h(cid, 3, [4, 5], true));
    t.complete(cid);
    const r = await p;
    expect([...r.data]).toEqual([1, 2, 3, 4, 5, 0, 0, 0]);
    expect(r.received).toBe(5);
  });

  it('completes on a C2HData with SUCCESS and no CapsuleResp', async () => {
    const t = setup();
    const p = t.queue.submit({ name: 'Identify', build: (cid) => identifyCommand({ cid }), dataLength: 2 });
    t.queue.handlePdu(c2h(t.cmds()[0]?.sqe.cid ?? -1, 0, [9, 9], true, true));
    expect((await p).received).toBe(2);
  });

  it('throws WIRE_DATA_OUT_OF_RANGE for data beyond the command length', () => {
    const t = setup();
    void t.queue.submit({ name: 'Identify', build: (cid) => identifyCommand({ cid }), dataLength: 4 });
    const cid = t.cmds()[0]?.sqe.cid ?? -1;
    expect(() => {
      t.queue.handlePdu(c2h(cid, 2, [1, 2, 3], true));
    }).toThrow(expect.objectContaining({ code: 'WIRE_DATA_OUT_OF_RANGE' }));
  });

  it('throws WIRE_UNEXPECTED_PDU for a CID that is not outstanding', () => {
    const t = setup();
    expect(() => {
      t.complete(42);
    }).toThrow(WireError);
    expect(() => {
      t.queue.handlePdu(c2h(42, 0, [1], true));
    }).toThrow(expect.objectContaining({ code: 'WIRE_UNEXPECTED_PDU' }));
  });

  it('rejects an error status with NvmeStatusError naming the command and the peer', async () => {
    const t = setup();
    const p = t.queue.submit(ka);
    t.complete(t.cmds()[0]?.sqe.cid ?? -1, 0x4002);
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NvmeStatusError);
    expect(err).toMatchObject({ sct: 0, sc: 2, dnr: true, status: 0x4002 });
    expect((err as Error).message).toBe(
      `${PEER}: Keep Alive failed: Invalid Field in Command (0x4002: SCT 0, SC 0x02, DNR)`,
    );
  });

  it('times out a command, reports it, keeps its CID until the late completion, then consumes it silently', async () => {
    const t = setup();
    const p = t.queue.submit({ ...ka, timeoutMs: 500 });
    const cid = t.cmds()[0]?.sqe.cid ?? -1;
    const rejected = p.catch((e: unknown) => e);
    await t.clock.advance(500);
    const err = await rejected;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ phase: 'admin', peer: PEER });
    expect(t.timeouts).toEqual([err]);
    void t.queue.submit(ka);
    expect(t.cmds()[1]?.sqe.cid).not.toBe(cid);
    expect(() => {
      t.complete(cid);
    }).not.toThrow();
  });

  it('rejects with the caller signal reason on abort, without reporting a timeout', async () => {
    const t = setup();
    const ctl = new AbortController();
    const p = t.queue.submit({ ...ka, signal: ctl.signal }).catch((e: unknown) => e);
    const reason = new Error('cancelled');
    ctl.abort(reason);
    expect(await p).toBe(reason);
    expect(t.timeouts).toEqual([]);
    expect(t.clock.pending).toBe(0);
  });

  it('failAll rejects outstanding and waiting commands and every later one, and clears all deadlines', async () => {
    const t = setup({ maxOutstanding: 1 });
    const a = t.queue.submit(ka).catch((e: unknown) => e);
    const b = t.queue.submit(ka).catch((e: unknown) => e);
    const closed = new ClosedError(PEER, 'gone');
    t.queue.failAll(closed);
    expect(await a).toBe(closed);
    expect(await b).toBe(closed);
    await expect(t.queue.submit(ka)).rejects.toBe(closed);
    expect(t.clock.pending).toBe(0);
  });

  it('sends host data in-capsule up to 8 KiB', () => {
    const t = setup();
    void t.queue.submit({
      name: 'DIM',
      build: (cid) => makeSqe({ opc: 0x21, cid }),
      hostData: new Uint8Array(2076),
    });
    const cmd = t.cmds()[0];
    expect(cmd?.data.length).toBe(2076);
  });

  it('answers an R2T for larger host data with H2CData of at most MAXH2CDATA bytes', () => {
    const t = setup();
    const data = Uint8Array.from({ length: 10_000 }, (_, i) => i & 0xff);
    void t.queue.submit({ name: 'DIM', build: (cid) => makeSqe({ opc: 0x21, cid }), hostData: data });
    const cmd = t.cmds()[0];
    expect(cmd?.data.length).toBe(0);
    expect(cmd?.sqe.sgl).toEqual({ id: SglId.TransportDataBlock, address: 0, length: 10_000 });
    t.queue.handlePdu({ type: PduType.R2T, cccid: cmd?.sqe.cid ?? -1, ttag: 3, r2to: 0, r2tl: 10_000 });
    const h2c = t.sent.filter((p) => p.type === PduType.H2CData);
    expect(h2c.map((p) => [p.datao, p.data.length, p.last, p.ttag])).toEqual([
      [0, 4096, false, 3],
      [4096, 4096, false, 3],
      [8192, 1808, true, 3],
    ]);
  });

  it('fails a command whose data digest was wrong with Data Transfer Error', async () => {
    const t = setup();
    const p = t.queue.submit({ name: 'Identify', build: (cid) => identifyCommand({ cid }), dataLength: 4 });
    const cid = t.cmds()[0]?.sqe.cid ?? -1;
    t.queue.handleDataDigestError(new WireError('WIRE_DDGST_MISMATCH', 'bad', { cid }), 0x04);
    t.complete(cid);
    await expect(p).rejects.toMatchObject({ code: 'NVME_STATUS', sc: 0x04 });
  });

  it('runs the AER on its reserved CID, outside the round-trip count, and reports its events', async () => {
    const t = setup();
    t.queue.armAer();
    t.queue.armAer();
    expect(t.cmds().map((c) => c.sqe.cid)).toEqual([AER_CID]);
    expect(t.queue.roundTrips).toBe(0);
    t.complete(AER_CID, 0, 0x0070f002);
    expect(t.events).toEqual([0x0070f002]);
    expect(t.queue.aerArmed).toBe(false);
    await settle();
  });

  it('reports an AER completed with an error status and does not re-arm it', () => {
    const errors: NvmeStatusError[] = [];
    const t = setup({ onAsyncEventError: (e) => errors.push(e) });
    t.queue.armAer();
    t.complete(AER_CID, 0x0105);
    expect(errors[0]?.sc).toBe(0x05);
    expect(t.queue.aerArmed).toBe(false);
  });
});
