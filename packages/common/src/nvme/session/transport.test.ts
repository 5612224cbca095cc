import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError, ConnectError, StasError, TimeoutError, WireError } from '../../errors.js';
import { keepAliveCommand } from '../wire/admin-cmd.js';
import { PduFramer } from '../wire/pdu-framer.js';
import { PduType, capsuleCmd, decodeCommonHeader, decodePdu, encodePdu, type Pdu } from '../wire/pdu.js';
import { resolveEndpoint } from './endpoint.js';
import { FakeClock } from './fake-clock.js';
import { Transport, type TransportHandlers, type TransportOptions } from './transport.js';

interface Peer {
  readonly port: number;
  readonly frames: Uint8Array[];
  readonly sockets: Socket[];
  close(): Promise<void>;
}

/** A TCP peer that hands each whole PDU it receives to `onFrame`. */
async function scriptedPeer(onFrame: (socket: Socket, frame: Uint8Array) => void): Promise<Peer> {
  const frames: Uint8Array[] = [];
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    const framer = new PduFramer();
    socket.on('data', (chunk) => {
      framer.push(chunk, (frame) => {
        frames.push(frame);
        onFrame(socket, frame);
      });
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    frames,
    sockets,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

function icresp(
  fields: Partial<{ pfv: number; hdgst: boolean; ddgst: boolean; cpda: number; maxh2cdata: number }> = {},
) {
  return encodePdu({
    type: PduType.ICResp,
    pfv: 0,
    hdgst: false,
    ddgst: false,
    cpda: 0,
    maxh2cdata: 0x400000,
    ...fields,
  });
}

/** Answer ICReq by echoing the digests the host asked for. */
function echoIcResp(socket: Socket, frame: Uint8Array): boolean {
  if (decodeCommonHeader(frame).type !== PduType.ICReq) return false;
  const pdu = decodePdu(frame);
  if (pdu.type !== PduType.ICReq) return false;
  socket.write(icresp({ hdgst: pdu.hdgst, ddgst: pdu.ddgst }));
  return true;
}

interface Recorder extends TransportHandlers {
  readonly pdus: Pdu[];
  readonly closes: StasError[];
  /** Resolves with the first PDU delivered. */
  readonly first: Promise<Pdu>;
}

function recorder(): Recorder {
  const pdus: Pdu[] = [];
  const closes: StasError[] = [];
  let got: (pdu: Pdu) => void = () => undefined;
  const first = new Promise<Pdu>((resolve) => (got = resolve));
  return {
    pdus,
    closes,
    first,
    onPdu: (pdu) => {
      pdus.push(pdu);
      got(pdu);
    },
    onDataDigestError: () => undefined,
    onClose: (err) => closes.push(err),
  };
}

const peers: Peer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

async function start(onFrame: (socket: Socket, frame: Uint8Array) => void): Promise<Peer> {
  const p = await scriptedPeer(onFrame);
  peers.push(p);
  return p;
}

function opts(port: number, extra: Partial<TransportOptions> = {}): TransportOptions {
  return { endpoint: resolveEndpoint({ traddr: '127.0.0.1', trsvcid: port }, {}), ...extra };
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('Transport.connect', () => {
  it('sends ICReq (PFV 0, HPDA 0, the requested digests) and resolves on a matching ICResp', async () => {
    const peer = await start((s, f) => echoIcResp(s, f));
    const t = await Transport.connect(opts(peer.port, { hdgst: true, ddgst: true }), recorder());
    expect(decodePdu(peer.frames[0] as Uint8Array)).toEqual({
      type: PduType.ICReq,
      pfv: 0,
      hpda: 0,
      hdgst: true,
      ddgst: true,
      maxr2t: 0,
    });
    expect(t.negotiated).toEqual({ digests: { hdgst: true, ddgst: true }, cpda: 0, maxh2cdata: 0x400000 });
    expect(t.peer).toBe(`127.0.0.1:${peer.port}`);
    await t.end();
  });

  it('rejects with ConnectError refused, naming the peer, when nothing listens', async () => {
    const peer = await start(() => undefined);
    const port = peer.port;
    await peer.close();
    const err = await failure(Transport.connect(opts(port), recorder()));
    expect(err).toBeInstanceOf(ConnectError);
    expect(err).toMatchObject({ code: 'NVME_CONNECT_FAILED', kind: 'refused', peer: `127.0.0.1:${port}` });
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
  });

  it('rejects with ConnectError unreachable when the source address is not local', async () => {
    const peer = await start(() => undefined);
    const endpoint = resolveEndpoint(
      { traddr: '127.0.0.1', trsvcid: peer.port, hostTraddr: '192.0.2.77' },
      {},
    );
    const err = await failure(Transport.connect({ endpoint }, recorder()));
    expect(err).toMatchObject({ code: 'NVME_CONNECT_FAILED', kind: 'unreachable' });
  });

  it('rejects with ConnectError timeout when the TCP handshake does not finish in time', async () => {
    const peer = await start(() => undefined);
    const clock = new FakeClock();
    const p = failure(Transport.connect(opts(peer.port, { clock, connectTimeoutMs: 100 }), recorder()));
    clock.tick(100);
    const err = await p;
    expect(err).toMatchObject({ code: 'NVME_CONNECT_FAILED', kind: 'timeout' });
    expect(clock.pending).toBe(0);
  });

  it("rejects with TimeoutError phase 'icresp' when no ICResp comes", async () => {
    const clock = new FakeClock();
    let seen: () => void = () => undefined;
    const icreqSeen = new Promise<void>((resolve) => (seen = resolve));
    const peer = await start(() => {
      seen();
    });
    const p = failure(Transport.connect(opts(peer.port, { clock, icrespTimeoutMs: 10_000 }), recorder()));
    await icreqSeen;
    clock.tick(10_000);
    const err = await p;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ phase: 'icresp', peer: `127.0.0.1:${peer.port}` });
  });

  it('refuses an ICResp whose digests differ from the request, as Linux does', async () => {
    const peer = await start((s) => s.write(icresp({ hdgst: true })));
    const err = await failure(Transport.connect(opts(peer.port), recorder()));
    expect(err).toMatchObject({ code: 'NVME_PROTOCOL_ERROR' });
    expect((err as Error).message).toContain(
      'digests header on, data off but this host asked for header off, data off',
    );
  });

  it('refuses an ICResp with PFV ≠ 0', async () => {
    const peer = await start((s) => s.write(icresp({ pfv: 1 })));
    expect(await failure(Transport.connect(opts(peer.port), recorder()))).toMatchObject({
      code: 'NVME_PROTOCOL_ERROR',
    });
  });

  it('reports a C2HTermReq instead of an ICResp as NVME_PEER_TERMINATED', async () => {
    const peer = await start((s) =>
      s.write(encodePdu({ type: PduType.C2HTermReq, fes: 1, fei: 10, offendingHeader: new Uint8Array(0) })),
    );
    expect(await failure(Transport.connect(opts(peer.port), recorder()))).toMatchObject({
      code: 'NVME_PEER_TERMINATED',
    });
  });

  it('rounds MAXH2CDATA down to a dword multiple instead of refusing it (old nvmet 0xFFFF)', async () => {
    const peer = await start((s) => s.write(icresp({ maxh2cdata: 0xffff })));
    const t = await Transport.connect(opts(peer.port), recorder());
    expect(t.negotiated.maxh2cdata).toBe(0xfffc);
    await t.end();
  });

  it('rejects with the abort reason and leaves no socket behind', async () => {
    const peer = await start(() => undefined);
    const ctl = new AbortController();
    const reason = new StasError('TEST_ABORT', 'stop');
    const p = failure(Transport.connect(opts(peer.port), recorder(), { signal: ctl.signal }));
    ctl.abort(reason);
    expect(await p).toBe(reason);
  });
});

describe('Transport after ICResp', () => {
  it('sends PDUs with the negotiated header digest and delivers decoded PDUs', async () => {
    const peer = await start((s, f) => {
      if (echoIcResp(s, f)) return;
      s.write(
        encodePdu(
          {
            type: PduType.CapsuleResp,
            cqe: {
              dw0: 1,
              dw1: 0,
              sqhd: 0,
              sqid: 0,
              cid: 4,
              phase: false,
              status: { sct: 0, sc: 0, crd: 0, more: false, dnr: false },
            },
          },
          { hdgst: true, ddgst: false },
        ),
      );
    });
    const rec = recorder();
    const t = await Transport.connect(opts(peer.port, { hdgst: true }), rec);
    await t.send(capsuleCmd(keepAliveCommand({ cid: 4 })));
    await rec.first;
    expect(decodeCommonHeader(peer.frames[1] as Uint8Array)).toMatchObject({
      type: PduType.CapsuleCmd,
      flags: 1,
      plen: 76,
    });
    expect(rec.pdus[0]).toMatchObject({ type: PduType.CapsuleResp, cqe: { cid: 4, dw0: 1 } });
    expect(t.bytesOut).toBe(128 + 76);
    await t.end();
    expect(rec.closes).toHaveLength(1);
  });

  it('answers a malformed PDU with an H2CTermReq and closes with the WireError', async () => {
    const peer = await start((s, f) => {
      if (echoIcResp(s, f)) {
        const bad = new Uint8Array(24);
        bad.set([0x08, 0, 24, 0, 24, 0, 0, 0]); // reserved type 0x08
        s.write(bad);
      }
    });
    const rec = recorder();
    const t = await Transport.connect(opts(peer.port), rec);
    const err = await t.closed;
    expect(err).toBeInstanceOf(WireError);
    expect(err).toMatchObject({ code: 'WIRE_BAD_TYPE' });
    expect(rec.closes).toEqual([err]);
    const term = peer.frames.map((f) => decodePdu(f)).find((p) => p.type === PduType.H2CTermReq);
    expect(term).toMatchObject({ fes: 1, fei: 0 });
  });

  it('reports the peer closing the connection as ClosedError byPeer', async () => {
    const peer = await start((s, f) => {
      if (echoIcResp(s, f)) s.end();
    });
    const rec = recorder();
    const t = await Transport.connect(opts(peer.port), rec);
    const err = await t.closed;
    expect(err).toBeInstanceOf(ClosedError);
    expect(err).toMatchObject({ code: 'NVME_CLOSED', byPeer: true });
    await expect(t.send(capsuleCmd(keepAliveCommand({ cid: 1 })))).rejects.toBe(err);
  });

  it('destroy() is immediate and idempotent, and reports once', async () => {
    const peer = await start((s, f) => echoIcResp(s, f));
    const rec = recorder();
    const t = await Transport.connect(opts(peer.port), rec);
    t.destroy();
    t.destroy(new StasError('X', 'ignored'));
    const err = await t.closed;
    expect(err).toMatchObject({ code: 'NVME_CLOSED', byPeer: false });
    expect(rec.closes).toEqual([err]);
  });
});
