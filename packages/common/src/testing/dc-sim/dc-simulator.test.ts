import { createHook } from 'node:async_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StasError } from '../../errors.js';
import {
  AEN_DISCOVERY_LOG_CHANGE,
  AsyncEventConfig,
  DiscoveryLsp,
  DiscoveryLspSupport,
  FeatureId,
  asyncEventRequestCommand,
  decodeSupportedLogPages,
  getFeaturesCommand,
  getLogPageCommand,
  identifyCommand,
  keepAliveCommand,
  setAsyncEventConfigCommand,
  setFeaturesCommand,
} from '../../nvme/wire/admin-cmd.js';
import {
  Subtype,
  decodeDiscoveryLogEntries,
  decodeDiscoveryLogHeader,
} from '../../nvme/wire/discovery-log.js';
import { dimCommand, encodeDimData, hostRegistrationData } from '../../nvme/wire/dim.js';
import {
  CC_DEFAULT,
  Property,
  connectInvalidParameterDw0,
  decodeCap,
  decodeConnectResult,
  decodeCsts,
  encodeCc,
} from '../../nvme/wire/fabrics-cmd.js';
import { decodeIdentifyController } from '../../nvme/wire/identify-ctrl.js';
import {
  PduType,
  TermReqFes,
  capsuleCmd,
  encodePdu,
  type Pdu,
  type TermReqPdu,
} from '../../nvme/wire/pdu.js';
import { makeSqe, sglTransportData } from '../../nvme/wire/sqe.js';
import { STATUS_DNR, StatusCode } from '../../nvme/wire/status.js';
import { DcSimulator } from './dc-simulator.js';
import { EXTENDED_ENTRY_SIZE } from './dc-sim-log.js';
import { HOST_ID, HOST_ID_TEXT, HOST_NQN, RawHost } from './raw-host.js';
import { ENTRIES, Resources, readDiscoveryLog } from './test-support.js';

const res = new Resources();
afterEach(async () => {
  vi.useRealTimers();
  await res.release();
});

const DNR = STATUS_DNR;
const isTermReq = (p: Pdu): p is TermReqPdu => p.type === PduType.C2HTermReq;

async function enableAen(h: RawHost): Promise<void> {
  const r = await h.command(setAsyncEventConfigCommand({ cid: h.cid(), mask: AsyncEventConfig.DLPCN }));
  expect(r.status).toBe(0);
}

function registrationBytes(symname?: string): Uint8Array {
  return encodeDimData(
    hostRegistrationData({
      hostnqn: HOST_NQN,
      hostid: HOST_ID,
      hostname: 'host1',
      version: 'Linux 6.8',
      adrfam: 1,
      ...(symname !== undefined && { symname }),
    }),
  );
}

describe('DcSimulator session', () => {
  it('serves a whole discovery session as nvmet would', async () => {
    const sim = await res.sim({ entries: ENTRIES });
    const h = await res.host(sim);

    const icresp = await h.icreq();
    expect(icresp).toMatchObject({ pfv: 0, cpda: 0, hdgst: false, ddgst: false, maxh2cdata: 0x400000 });

    const connect = await h.connectAdmin({ katoMs: 30000 });
    expect(connect.status).toBe(0);
    expect(decodeConnectResult(connect.cqe)).toEqual({ cntlid: 1, atr: false, ascr: false });
    expect(connect.cqe.sqhd).toBe(1);

    const cap = await h.propertyGet(Property.CAP);
    expect(cap.cqe.sqhd).toBe(2);
    expect(decodeCap(cap.cqe.dw0, cap.cqe.dw1)).toMatchObject({ mqes: 127, to: 15, mpsmin: 0 });
    expect((await h.propertySet(Property.CC.offset, encodeCc(CC_DEFAULT))).status).toBe(0);
    expect((await h.propertySet(Property.CC.offset, encodeCc({ ...CC_DEFAULT, en: true }))).status).toBe(0);
    const csts = await h.propertyGet(Property.CSTS);
    expect(decodeCsts(csts.cqe.dw0).rdy).toBe(true);
    expect((await h.propertyGet(Property.VS)).cqe.dw0).toBe(0x00010300);

    const id = await h.command(identifyCommand({ cid: h.cid() }));
    const ctrl = decodeIdentifyController(id.data);
    expect(ctrl).toMatchObject({
      cntlid: 1,
      cntrltype: 2,
      dctype: 0,
      subnqn: 'nqn.2014-08.org.nvmexpress.discovery',
      oaes: 0x80000000,
      lpa: 0x04,
      aerl: 3,
      mdts: 0,
      kas: 0,
      icdoff: 0,
    });
    expect(ctrl.sgls & 0x3).not.toBe(0);

    await enableAen(h);
    const aerCid = h.cid();
    h.sendPdu(capsuleCmd(asyncEventRequestCommand({ cid: aerCid })));
    await sim.waitUntil(() => sim.connections[0]?.aerOutstanding === 1);

    const log = await readDiscoveryLog(h);
    expect(log.genctr).toBe(1n);
    expect(log.passes).toBe(1);
    expect(log.entries).toEqual(ENTRIES);

    expect((await h.command(keepAliveCommand({ cid: h.cid() }))).status).toBe(0);

    expect(sim.connections[0]).toMatchObject({
      hostnqn: HOST_NQN,
      hostid: HOST_ID_TEXT,
      katoMs: 30000,
      cntlid: 1,
      ready: true,
      aenEnabled: 0x80000000,
      aerOutstanding: 1,
      registered: false,
    });

    // Shutdown as Linux does: CC.SHN=01 with EN kept, then CSTS.SHST=10b.
    expect((await h.propertySet(Property.CC.offset, 0x00464001)).status).toBe(0);
    expect(decodeCsts((await h.propertyGet(Property.CSTS)).cqe.dw0).shst).toBe(2);
  });

  it('counts one round trip per command capsule, per connection and in total', async () => {
    const sim = await res.sim({ entries: ENTRIES });
    const h1 = await res.host(sim);
    await h1.open();
    await readDiscoveryLog(h1);
    const h2 = await res.host(sim);
    await h2.open();
    await h2.command(keepAliveCommand({ cid: h2.cid() }));

    expect(sim.connections.map((c) => c.roundTrips)).toEqual([
      { total: 5, byCommand: { connect: 1, 'property-set': 1, 'get-log-page': 3 } },
      { total: 3, byCommand: { connect: 1, 'property-set': 1, 'keep-alive': 1 } },
    ]);
    expect(sim.roundTrips).toEqual({
      total: 8,
      byCommand: { connect: 2, 'property-set': 2, 'get-log-page': 3, 'keep-alive': 1 },
    });
    sim.resetRoundTrips();
    expect(sim.roundTrips).toEqual({ total: 0, byCommand: {} });
  });

  it('emits typed events for connection, connect, command, response and close', async () => {
    const sim = await res.sim();
    const connection = sim.waitFor('connection');
    const h = await res.host(sim);
    expect((await connection).state).toBe('await-icreq');
    const connected = sim.waitFor('connected');
    const command = sim.waitFor('command', { filter: (e) => e.name === 'connect' });
    const response = sim.waitFor('response', { filter: (e) => e.name === 'connect' });
    await h.open();
    expect((await connected).hostnqn).toBe(HOST_NQN);
    expect((await command).cid).toBe(1);
    expect(await response).toMatchObject({ status: 0, dw0: 1, dataBytes: 0 });
    const closed = sim.waitFor('closed');
    await h.close();
    expect((await closed).reason).toBe('host-closed');
    expect(sim.connections).toEqual([]);
  });
});

describe('DcSimulator discovery log', () => {
  it('splits log page data over C2HData PDUs of maxC2HDataBytes', async () => {
    const sim = await res.sim({ entries: ENTRIES, maxC2HDataBytes: 1000 });
    const h = await res.host(sim);
    await h.open();
    const r = await h.getLogPage({ offset: 1024, length: 3072 });
    expect(r.c2h.map((p) => [p.datao, p.data.length, p.last])).toEqual([
      [0, 1000, false],
      [1000, 1000, false],
      [2000, 1000, false],
      [3000, 72, true],
    ]);
    expect(decodeDiscoveryLogEntries(r.data, 3)).toEqual(ENTRIES);
  });

  it('reads a large log in chunks within MDTS and rejects a read above it', async () => {
    const many = Array.from({ length: 10 }, (_, i) => ({
      ...ENTRIES[0]!,
      subnqn: `nqn.2024-01.io.example:s${i}`,
    }));
    const sim = await res.sim({ entries: many, mdts: 1 });
    const h = await res.host(sim);
    await h.open();
    expect(decodeIdentifyController((await h.command(identifyCommand({ cid: h.cid() }))).data).mdts).toBe(1);
    const log = await readDiscoveryLog(h, { chunk: 8192 });
    expect(log.entries.map((e) => e.subnqn)).toEqual(many.map((e) => e.subnqn));
    expect(sim.roundTrips.byCommand['get-log-page']).toBe(4); // header, 8 KiB, 2 KiB, header
    expect((await h.getLogPage({ length: 16384 })).status).toBe(StatusCode.InvalidField | DNR);
  });

  it('honours the log page offset and length and reads zeros past the end', async () => {
    const sim = await res.sim({ entries: ENTRIES, genctr: 7 });
    const h = await res.host(sim);
    await h.open();
    const header = await h.getLogPage({ length: 20 });
    expect(decodeDiscoveryLogHeader(header.data)).toMatchObject({ genctr: 7n, numrec: 3n, recfmt: 0 });
    const second = await h.getLogPage({ offset: 2048, length: 1024 });
    expect(decodeDiscoveryLogEntries(second.data, 1)).toEqual([ENTRIES[1]]);
    const past = await h.getLogPage({ offset: 4096, length: 1024 });
    expect(past.status).toBe(0);
    expect(past.data.every((b) => b === 0)).toBe(true);
    const unaligned = { ...getLogPageCommand({ cid: h.cid(), lid: 0x70, length: 20 }), cdw12: 2 };
    expect((await h.command(unaligned)).status).toBe(StatusCode.InvalidField | DNR);
  });

  it('ignores the offset like nvmet <= 4.20 when LPA b2 is off', async () => {
    const sim = await res.sim({ entries: ENTRIES, lpaExtendedData: false });
    const h = await res.host(sim);
    await h.open();
    expect(decodeIdentifyController((await h.command(identifyCommand({ cid: h.cid() }))).data).lpa).toBe(0);
    const r = await h.getLogPage({ offset: 1024, length: 20 });
    expect(decodeDiscoveryLogHeader(r.data).numrec).toBe(3n);
  });

  it('advertises PLEOS in LID 0 and returns only port-local entries with PLEO', async () => {
    const sim = await res.sim({ entries: ENTRIES, logPages: { pleo: true } });
    const h = await res.host(sim);
    await h.open();
    const lid0 = await h.getLogPage({ lid: 0, length: 1024 });
    const pages = decodeSupportedLogPages(lid0.data);
    expect(pages.find((p) => p.lid === 0x70)?.lidsp).toBe(DiscoveryLspSupport.PLEOS);
    const log = await readDiscoveryLog(h, { lsp: DiscoveryLsp.PLEO });
    expect(log.entries).toEqual([ENTRIES[0], ENTRIES[2]]);
    const header = await h.getLogPage({ length: 20, lsp: DiscoveryLsp.PLEO });
    expect(decodeDiscoveryLogHeader(header.data).dlpf).toBe(0x2);
  });

  it('fails LID 0 with Invalid Field and ignores PLEO when it supports no LSP, like nvmet', async () => {
    const sim = await res.sim({ entries: ENTRIES });
    const h = await res.host(sim);
    await h.open();
    expect((await h.getLogPage({ lid: 0, length: 1024 })).status).toBe(StatusCode.InvalidField | DNR);
    expect((await readDiscoveryLog(h, { lsp: DiscoveryLsp.PLEO })).entries).toEqual(ENTRIES);
  });

  it('returns extended entries (TEL 1032, no attributes) with EXTDLPE when supported', async () => {
    const sim = await res.sim({ entries: ENTRIES, logPages: { extdlpe: true } });
    const h = await res.host(sim);
    await h.open();
    const size = 1024 + 3 * EXTENDED_ENTRY_SIZE;
    const r = await h.getLogPage({ length: size, lsp: DiscoveryLsp.EXTDLPE });
    const view = new DataView(r.data.buffer, r.data.byteOffset);
    expect(decodeDiscoveryLogHeader(r.data).dlpf).toBe(0x1);
    expect(view.getUint32(20, true)).toBe(size);
    expect(view.getUint32(1024 + 1024, true)).toBe(EXTENDED_ENTRY_SIZE);
    expect(view.getUint16(1024 + 1028, true)).toBe(0);
    const second = r.data.subarray(1024 + EXTENDED_ENTRY_SIZE, 1024 + EXTENDED_ENTRY_SIZE + 1024);
    expect(decodeDiscoveryLogEntries(second, 1)).toEqual([ENTRIES[1]]);
  });

  it('builds two simulators where one refers to the other', async () => {
    const b = await res.sim({ subnqn: 'nqn.2024-01.io.example:dc-b', entries: [ENTRIES[0]!] });
    const a = await res.sim({ entries: [ENTRIES[1]!, b.referralEntry()] });
    const ha = await res.host(a);
    await ha.open();
    const referral = (await readDiscoveryLog(ha)).entries.find((e) => e.subtype === Subtype.Referral);
    expect(referral).toMatchObject({ traddr: '127.0.0.1', trsvcid: String(b.port), subnqn: b.subnqn });
    const hb = await res.host({ host: referral!.traddr, port: Number(referral!.trsvcid) });
    await hb.open({ subnqn: referral!.subnqn });
    expect((await readDiscoveryLog(hb)).entries).toEqual([ENTRIES[0]]);
    expect(a.currentDiscoveryEntry()).toMatchObject({ subtype: 3, trsvcid: String(a.port), portid: 1 });
  });
});

describe('DcSimulator asynchronous events', () => {
  it('completes the AER with 0x0070F002 when the log changes and the host enabled notices', async () => {
    const sim = await res.sim({ entries: ENTRIES });
    const h = await res.host(sim);
    await h.open();
    await enableAen(h);
    const cid = h.cid();
    const aer = h.command(asyncEventRequestCommand({ cid }));
    await sim.waitUntil(() => sim.connections[0]?.aerOutstanding === 1);
    const aen = sim.waitFor('aen');
    sim.addEntry({ ...ENTRIES[0]!, subnqn: 'nqn.2024-01.io.example:new' });
    expect((await aer).cqe.dw0).toBe(AEN_DISCOVERY_LOG_CHANGE);
    expect(await aen).toEqual({ connectionId: 1, cid, dw0: AEN_DISCOVERY_LOG_CHANGE });
    expect(sim.genctr).toBe(2n);
    expect((await readDiscoveryLog(h)).entries).toHaveLength(4);
  });

  it('keeps a raised AEN for the next AER, and drops changes while masked until a RAE=0 read', async () => {
    const sim = await res.sim({ entries: ENTRIES });
    const h = await res.host(sim);
    await h.open();
    await enableAen(h);
    sim.removeEntry(ENTRIES[2]!); // raised and queued: no AER yet
    expect(sim.connections[0]?.aenMasked).toBe(true);
    expect((await h.command(asyncEventRequestCommand({ cid: h.cid() }))).cqe.dw0).toBe(
      AEN_DISCOVERY_LOG_CHANGE,
    );

    const held = h.cid();
    const next = h.command(asyncEventRequestCommand({ cid: held }));
    await sim.waitUntil(() => sim.connections[0]?.aerOutstanding === 1);
    sim.bumpGenctr(); // masked: dropped, not queued
    await h.getLogPage({ length: 20, rae: true }); // RAE=1 keeps the mask
    sim.bumpGenctr();
    expect(sim.connections[0]).toMatchObject({ aerOutstanding: 1, aenMasked: true });
    await h.getLogPage({ length: 20, rae: false }); // unmasks
    expect(sim.connections[0]?.aenMasked).toBe(false);
    sim.bumpGenctr();
    expect((await next).cqe.dw0).toBe(AEN_DISCOVERY_LOG_CHANGE);
  });

  it('sends no AEN to a host that did not enable notices, and rejects unsupported AEC bits', async () => {
    const sim = await res.sim({ entries: ENTRIES });
    const h = await res.host(sim);
    await h.open();
    const bad = await h.command(setAsyncEventConfigCommand({ cid: h.cid(), mask: 0x80000100 }));
    expect(bad.status).toBe(StatusCode.InvalidField | DNR);
    h.sendPdu(capsuleCmd(asyncEventRequestCommand({ cid: h.cid() })));
    await sim.waitUntil(() => sim.connections[0]?.aerOutstanding === 1);
    sim.addEntry({ ...ENTRIES[0]!, subnqn: 'nqn.2024-01.io.example:x' });
    expect(sim.connections[0]).toMatchObject({ aerOutstanding: 1, aenMasked: false });
    const gf = await h.command(getFeaturesCommand({ cid: h.cid(), fid: FeatureId.AsyncEventConfiguration }));
    expect(gf.cqe.dw0).toBe(0);
  });

  it('refuses more AERs than AERL+1 with Asynchronous Event Request Limit Exceeded', async () => {
    const sim = await res.sim({ aerl: 1 });
    const h = await res.host(sim);
    await h.open();
    h.sendPdu(capsuleCmd(asyncEventRequestCommand({ cid: h.cid() })));
    h.sendPdu(capsuleCmd(asyncEventRequestCommand({ cid: h.cid() })));
    const third = await h.command(asyncEventRequestCommand({ cid: h.cid() }));
    expect(third.status).toBe(StatusCode.AsyncEventRequestLimitExceeded | DNR);
    expect(sim.connections[0]?.aerOutstanding).toBe(2);
  });

  it('answers a CID that is still outstanding with Command ID Conflict', async () => {
    const sim = await res.sim();
    const h = await res.host(sim);
    await h.open();
    const cid = h.cid();
    h.sendPdu(capsuleCmd(asyncEventRequestCommand({ cid })));
    const r = await h.command(keepAliveCommand({ cid }));
    expect(r.status).toBe(StatusCode.CommandIdConflict | DNR);
    expect(sim.connections[0]?.aerOutstanding).toBe(1);
  });
});

describe('DcSimulator keep alive', () => {
  it('tears the connection down when KATO passes without a command, like nvmet', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const sim = await res.sim({ kato: { trafficBased: false } });
    const h = await res.host(sim);
    await h.open({ katoMs: 1000 });
    vi.advanceTimersByTime(900);
    expect((await h.command(keepAliveCommand({ cid: h.cid() }))).status).toBe(0);
    vi.advanceTimersByTime(900);
    // Not traffic based: a non-Keep-Alive command does not reset the timer.
    expect((await h.command(identifyCommand({ cid: h.cid() }))).status).toBe(0);
    expect(sim.connections[0]?.state).toBe('connected');
    const closed = sim.waitFor('closed');
    vi.advanceTimersByTime(100);
    expect((await closed).reason).toBe('kato-expired');
    await h.closed;
  });

  it('resets the timer on any command when traffic based (default)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const sim = await res.sim();
    const h = await res.host(sim);
    await h.open({ katoMs: 1000 });
    vi.advanceTimersByTime(999);
    await h.command(identifyCommand({ cid: h.cid() }));
    vi.advanceTimersByTime(999);
    expect(sim.connections[0]?.state).toBe('connected');
    const closed = sim.waitFor('closed');
    vi.advanceTimersByTime(1);
    expect((await closed).reason).toBe('kato-expired');
  });

  it('uses 120 s when the host connects with KATO 0, and Set Features KATO changes it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const sim = await res.sim();
    const h = await res.host(sim);
    await h.open({ katoMs: 0 });
    vi.advanceTimersByTime(119_999);
    expect(sim.connections[0]?.state).toBe('connected');
    const sf = await h.command(
      setFeaturesCommand({ cid: h.cid(), fid: FeatureId.KeepAliveTimer, cdw11: 5000 }),
    );
    expect(sf.status).toBe(0);
    const gf = await h.command(getFeaturesCommand({ cid: h.cid(), fid: FeatureId.KeepAliveTimer }));
    expect(gf.cqe.dw0).toBe(5000);
    const closed = sim.waitFor('closed', { timeoutMs: 60_000 });
    vi.advanceTimersByTime(5000);
    expect((await closed).reason).toBe('kato-expired');
  });
});

describe('DcSimulator DIM', () => {
  it('records a registration on a CDC, taking the address from the connection', async () => {
    const sim = await res.sim({ dctype: 'cdc' });
    const h = await res.host(sim);
    await h.open();
    expect(decodeIdentifyController((await h.command(identifyCommand({ cid: h.cid() }))).data).dctype).toBe(
      2,
    );
    const data = registrationBytes('lab-host');
    const registered = sim.waitFor('registered');
    const r = await h.command(dimCommand({ cid: h.cid(), tas: 0, tdl: data.length }), data);
    expect(r.status).toBe(0);
    const expected = {
      hostnqn: HOST_NQN,
      hostid: HOST_ID_TEXT,
      symname: 'lab-host',
      traddr: '127.0.0.1',
      adrfam: 1,
      trtype: 3,
      etype: 1,
      entityName: 'host1',
      entityVersion: 'Linux 6.8',
      connectionId: 1,
    };
    expect(await registered).toMatchObject(expected);
    expect(sim.registrations).toEqual([expect.objectContaining(expected)]);
    expect(sim.connections[0]?.registered).toBe(true);

    const deregistered = sim.waitFor('deregistered');
    const d = await h.command(dimCommand({ cid: h.cid(), tas: 1, tdl: data.length }), data);
    expect(d.status).toBe(0);
    expect(await deregistered).toEqual({ connectionId: 1, hostnqn: HOST_NQN, hostid: HOST_ID_TEXT });
    expect(sim.registrations).toEqual([]);
  });

  it('answers DIM with Invalid Opcode + DNR when DCTYPE is none, as nvmet does', async () => {
    const sim = await res.sim();
    const h = await res.host(sim);
    await h.open();
    const data = registrationBytes();
    const r = await h.command(dimCommand({ cid: h.cid(), tas: 0, tdl: data.length }), data);
    expect(r.status).toBe(StatusCode.InvalidOpcode | DNR);
  });

  it('rejects malformed DIM data with Invalid Discovery Information and a bad TAS with Invalid Field', async () => {
    const sim = await res.sim({ dctype: 'ddc' });
    const h = await res.host(sim);
    await h.open();
    const junk = new Uint8Array(1024);
    const r = await h.command(dimCommand({ cid: h.cid(), tas: 0, tdl: 1024 }), junk);
    expect(r.status).toBe(StatusCode.InvalidDiscoveryInformation | DNR);
    const data = registrationBytes();
    const t = await h.command(dimCommand({ cid: h.cid(), tas: 5, tdl: data.length }), data);
    expect(t.status).toBe(StatusCode.InvalidField | DNR);
  });

  it('fetches host data with R2T/H2CData when it is not in the capsule', async () => {
    const sim = await res.sim({ dctype: 'cdc' });
    const h = await res.host(sim);
    await h.open();
    const data = registrationBytes();
    const cid = h.cid();
    const done = h.expect(cid);
    const r2t = h.nextPdu((p) => p.type === PduType.R2T);
    h.sendPdu(
      capsuleCmd({ ...dimCommand({ cid, tas: 0, tdl: data.length }), sgl: sglTransportData(data.length) }),
    );
    const t = await r2t;
    if (t.type !== PduType.R2T) throw new Error('expected an R2T');
    expect(t).toMatchObject({ cccid: cid, r2to: 0, r2tl: data.length });
    h.sendPdu({
      type: PduType.H2CData,
      cccid: cid,
      ttag: t.ttag,
      datao: 0,
      last: false,
      data: data.subarray(0, 1000),
    });
    h.sendPdu({
      type: PduType.H2CData,
      cccid: cid,
      ttag: t.ttag,
      datao: 1000,
      last: true,
      data: data.subarray(1000),
    });
    expect((await done).status).toBe(0);
    expect(sim.registrations).toHaveLength(1);
  });
});

describe('DcSimulator Connect and controller state', () => {
  it('refuses a Connect to another subsystem NQN with Invalid Parameters pointing at SUBNQN', async () => {
    const sim = await res.sim();
    const h = await res.host(sim);
    await h.icreq();
    const r = await h.connectAdmin({ subnqn: 'nqn.2024-01.io.example:other' });
    expect(r.status).toBe(StatusCode.ConnectInvalidParameters | DNR);
    expect(r.cqe.dw0).toBe(connectInvalidParameterDw0({ ipo: 256, inData: true }));
  });

  it('accepts its unique NQN and the well-known one, and reports the unique one', async () => {
    const sim = await res.sim({ subnqn: 'nqn.2024-01.io.example:dc1' });
    const h1 = await res.host(sim);
    await h1.open({ subnqn: 'nqn.2024-01.io.example:dc1' });
    const h2 = await res.host(sim);
    await h2.open();
    const id = decodeIdentifyController((await h2.command(identifyCommand({ cid: h2.cid() }))).data);
    expect(id).toMatchObject({ subnqn: 'nqn.2024-01.io.example:dc1', cntlid: 2 });
  });

  it('refuses hosts that are not allowed with Connect Invalid Host', async () => {
    const sim = await res.sim({ allowedHosts: ['nqn.2024-01.io.example:someone-else'] });
    const h = await res.host(sim);
    await h.icreq();
    const r = await h.connectAdmin();
    expect(r.status).toBe(StatusCode.ConnectInvalidHost | DNR);
    expect(r.cqe.dw0).toBe(connectInvalidParameterDw0({ ipo: 512, inData: true }));
  });

  it('refuses SQSIZE above MQES, pointing at SQSIZE in the SQE', async () => {
    const sim = await res.sim({ mqes: 31 });
    const h = await res.host(sim);
    await h.icreq();
    const r = await h.connectAdmin({ sqsize: 32 });
    expect(r.status).toBe(StatusCode.ConnectInvalidParameters | DNR);
    expect(r.cqe.dw0).toBe(connectInvalidParameterDw0({ ipo: 44, inData: false }));
  });

  it('answers commands before Connect and before CC.EN=1 with Invalid Opcode + DNR', async () => {
    const sim = await res.sim();
    const h = await res.host(sim);
    await h.icreq();
    expect((await h.propertyGet(Property.CAP)).status).toBe(StatusCode.InvalidOpcode | DNR);
    await h.connectAdmin();
    expect((await h.command(identifyCommand({ cid: h.cid() }))).status).toBe(StatusCode.InvalidOpcode | DNR);
    expect((await h.command(makeSqe({ opc: 0x80, cid: h.cid() }))).status).toBe(
      StatusCode.InvalidOpcode | DNR,
    );
  });

  it('sets CSTS.CFS for an unsupported CC and checks property sizes', async () => {
    const sim = await res.sim();
    const h = await res.host(sim);
    await h.icreq();
    await h.connectAdmin();
    expect((await h.propertyGet({ offset: Property.CC.offset, size: 8 })).status).toBe(
      StatusCode.InvalidField | DNR,
    );
    await h.propertySet(Property.CC.offset, encodeCc({ ...CC_DEFAULT, en: true, mps: 1 }));
    expect(decodeCsts((await h.propertyGet(Property.CSTS)).cqe.dw0)).toMatchObject({ rdy: false, cfs: true });
  });

  it('answers a wrong SGL length with Data SGL Length Invalid and an unknown CNS with Invalid Field', async () => {
    const sim = await res.sim();
    const h = await res.host(sim);
    await h.open();
    const shortId = { ...identifyCommand({ cid: h.cid() }), sgl: sglTransportData(1024) };
    expect((await h.command(shortId)).status).toBe(StatusCode.DataSglLengthInvalid | DNR);
    expect((await h.command(identifyCommand({ cid: h.cid(), cns: 2 }))).status).toBe(
      StatusCode.InvalidField | DNR,
    );
    const badPsdt = { ...keepAliveCommand({ cid: h.cid() }), psdt: 0 };
    expect((await h.command(badPsdt)).status).toBe(StatusCode.InvalidField | DNR);
  });

  it('sets C2HData SUCCESS and sends no CapsuleResp when the host disables SQ flow control', async () => {
    const sim = await res.sim({ entries: ENTRIES });
    const h = await res.host(sim);
    await h.icreq();
    const c = await h.connectAdmin({ cattr: 0x4 });
    expect(c.cqe.sqhd).toBe(0xffff);
    await h.propertySet(Property.CC.offset, encodeCc({ ...CC_DEFAULT, en: true }));
    const r = await h.getLogPage({ length: 20 });
    expect(r.c2h).toHaveLength(1);
    expect(r.c2h[0]).toMatchObject({ last: true, success: true });
    expect(h.received.some((p) => p.type === PduType.CapsuleResp && p.cqe.cid === r.cqe.cid)).toBe(false);
  });
});

describe('DcSimulator transport', () => {
  it('echoes the digests the host asks for and sends PDUs with them', async () => {
    const sim = await res.sim({ entries: ENTRIES, maxC2HDataBytes: 2048 });
    const h = await res.host(sim);
    await h.open({ hdgst: true, ddgst: true });
    expect(sim.connections[0]?.digests).toEqual({ hdgst: true, ddgst: true });
    // RawHost's framer decodes with both digests on: every PDU was verified.
    expect((await readDiscoveryLog(h)).entries).toEqual(ENTRIES);
  });

  it('clears digest bits it does not support', async () => {
    const sim = await res.sim({ digests: { hdgst: false, ddgst: true } });
    const h = await res.host(sim);
    expect(await h.icreq({ hdgst: true, ddgst: true })).toMatchObject({ hdgst: false, ddgst: true });
  });

  it('refuses ICReq HPDA != 0 with a C2HTermReq (Unsupported Parameter at byte 10), like nvmet', async () => {
    const sim = await res.sim();
    const h = await res.host(sim);
    const term = h.nextPdu(isTermReq);
    h.sendPdu({ type: PduType.ICReq, pfv: 0, hpda: 1, hdgst: false, ddgst: false, maxr2t: 0 });
    expect(await term).toMatchObject({ fes: TermReqFes.UnsupportedParameter, fei: 10 });
    await h.closed;
  });

  it('pads C2HData to HPDA when told to accept it', async () => {
    const sim = await res.sim({ entries: ENTRIES, acceptHpda: true });
    const h = await res.host(sim);
    const resp = h.nextPdu((p) => p.type === PduType.ICResp);
    h.sendPdu({ type: PduType.ICReq, pfv: 0, hpda: 3, hdgst: false, ddgst: false, maxr2t: 0 });
    await resp;
    await h.connectAdmin();
    await h.propertySet(Property.CC.offset, encodeCc({ ...CC_DEFAULT, en: true }));
    const raw: Uint8Array[] = [];
    h.socket.on('data', (b: Buffer) => raw.push(b));
    await h.getLogPage({ length: 20 });
    const c2h = Buffer.concat(raw);
    expect(c2h[0]).toBe(PduType.C2HData);
    expect(c2h[3]).toBe(32); // HLEN 24 rounded up to a multiple of (HPDA+1)*4 = 16
  });

  it('answers a command before ICReq with a PDU Sequence Error C2HTermReq', async () => {
    const sim = await res.sim();
    const h = await res.host(sim);
    const term = h.nextPdu(isTermReq);
    const closed = sim.waitFor('closed');
    h.sendPdu(capsuleCmd(keepAliveCommand({ cid: 1 })));
    expect(await term).toMatchObject({ fes: TermReqFes.PduSequenceError });
    expect((await closed).reason).toBe('protocol-error');
  });

  it('answers an unknown PDU type with Invalid PDU Header Field and a copy of the header', async () => {
    const sim = await res.sim();
    const h = await res.host(sim);
    await h.icreq();
    const term = h.nextPdu(isTermReq);
    const bogus = Uint8Array.from([0x0a, 0, 24, 0, 24, 0, 0, 0, ...new Array<number>(16).fill(7)]);
    h.sendBytes(bogus);
    const t = (await term) as TermReqPdu;
    expect(t.fes).toBe(TermReqFes.InvalidHeaderField);
    expect(Array.from(t.offendingHeader)).toEqual(Array.from(bogus));
    await h.closed;
  });

  it('answers a PDU that only a controller sends with Invalid PDU Header Field', async () => {
    const sim = await res.sim();
    const h = await res.host(sim);
    await h.icreq();
    const term = h.nextPdu(isTermReq);
    const c2h = encodePdu({
      type: PduType.C2HData,
      cccid: 1,
      datao: 0,
      last: true,
      success: false,
      data: new Uint8Array(4),
    });
    h.sendBytes(c2h);
    const t = (await term) as TermReqPdu;
    expect(t).toMatchObject({ fes: TermReqFes.InvalidHeaderField, fei: 0 });
    expect(Array.from(t.offendingHeader)).toEqual(Array.from(c2h));
  });

  it('answers a header digest error with FES Header Digest Error', async () => {
    const sim = await res.sim();
    const h = await res.host(sim);
    await h.icreq({ hdgst: true });
    const pdu = encodePdu(capsuleCmd(keepAliveCommand({ cid: 9 })), h.digests);
    pdu[72] = (pdu[72] ?? 0) ^ 1;
    const term = h.nextPdu(isTermReq);
    h.sendBytes(pdu);
    expect(await term).toMatchObject({ fes: TermReqFes.HeaderDigestError });
  });

  it('fails only the command whose in-capsule data digest is wrong (Transient Transport Error)', async () => {
    const sim = await res.sim({ dctype: 'cdc' });
    const h = await res.host(sim);
    await h.open({ ddgst: true });
    const data = registrationBytes();
    const cid = h.cid();
    const pdu = encodePdu(capsuleCmd(dimCommand({ cid, tas: 0, tdl: data.length }), data), h.digests);
    pdu[pdu.length - 1] = (pdu[pdu.length - 1] ?? 0) ^ 1;
    const done = h.expect(cid);
    h.sendBytes(pdu);
    expect((await done).status).toBe(StatusCode.TransientTransportError);
    expect((await h.command(keepAliveCommand({ cid: h.cid() }))).status).toBe(0);
    expect(sim.registrations).toEqual([]);
  });

  it('closes on H2CTermReq', async () => {
    const sim = await res.sim();
    const h = await res.host(sim);
    await h.icreq();
    const closed = sim.waitFor('closed');
    h.sendPdu({ type: PduType.H2CTermReq, fes: 1, fei: 0, offendingHeader: new Uint8Array(0) });
    expect((await closed).reason).toBe('host-term-req');
  });
});

describe('DcSimulator lifecycle', () => {
  it('close() closes the server and every connection and leaves no handle or timer behind', async () => {
    // Sockets and servers from process.getActiveResourcesInfo(); timers through async_hooks, keeping
    // those whose setTimeout() caller is in this folder (vitest keeps timers of its own).
    const sockets = (): number[] => {
      const info = process.getActiveResourcesInfo();
      return ['TCPServerWrap', 'TCPSocketWrap'].map((t) => info.filter((r) => r === t).length);
    };
    const timers = new Set<number>();
    const hook = createHook({
      init(id, type) {
        if (type !== 'Timeout') return;
        const frames = (new Error().stack ?? '').split('\n');
        const caller = frames[frames.findIndex((f) => f.includes('at setTimeout')) + 1] ?? '';
        if (caller.includes('/testing/dc-sim/')) timers.add(id);
      },
      destroy(id) {
        timers.delete(id);
      },
    });
    const before = sockets();
    hook.enable();
    try {
      const sim = await DcSimulator.start({ entries: ENTRIES, faults: { responseDelayMs: 1 } });
      const h = await RawHost.connect(sim.port, sim.host);
      await h.open({ katoMs: 60_000 });
      h.sendPdu(capsuleCmd(asyncEventRequestCommand({ cid: h.cid() })));
      await sim.waitUntil(() => sim.connections[0]?.aerOutstanding === 1);
      const pending = sim.waitFor('aen', { timeoutMs: 60_000 }).catch((e: unknown) => e);
      expect(timers.size).toBeGreaterThanOrEqual(2); // KATO and the waitFor timeout at least
      expect(sockets()).toEqual([before[0]! + 1, before[1]! + 2]);
      await sim.close();
      expect(await pending).toMatchObject({ code: 'DCSIM_CLOSED' });
      await h.closed;
      expect(sockets()).toEqual(before);
      expect(timers.size).toBe(0);
      await sim.close(); // idempotent
    } finally {
      hook.disable();
    }
  });

  it('refuses entries whose fields do not fit, at start and when the log is changed', async () => {
    const bad = { ...ENTRIES[0]!, subnqn: 'n'.repeat(300) };
    await expect(DcSimulator.start({ entries: [bad] })).rejects.toMatchObject({ code: 'WIRE_ENCODE_RANGE' });
    const sim = await res.sim({ entries: ENTRIES });
    expect(() => {
      sim.addEntry(bad);
    }).toThrow(/SUBNQN/);
    expect(sim.entries).toEqual(ENTRIES);
    expect(sim.genctr).toBe(1n);
  });

  it('rejects waitFor with DCSIM_TIMEOUT when nothing happens', async () => {
    const sim = await res.sim();
    const err = await sim.waitFor('connection', { timeoutMs: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StasError);
    expect((err as StasError).code).toBe('DCSIM_TIMEOUT');
  });

  it('listens on ::1 when asked', async () => {
    const sim = await res.sim({ host: '::1' });
    const h = await res.host(sim);
    await h.open();
    expect(sim.connections[0]?.remoteAddress).toBe('::1');
  });

  it('drops every connection on dropConnections()', async () => {
    const sim = await res.sim();
    const h1 = await res.host(sim);
    const h2 = await res.host(sim);
    await h1.icreq();
    await h2.icreq();
    sim.dropConnections();
    await Promise.all([h1.closed, h2.closed]);
    await sim.waitUntil(() => sim.connections.length === 0);
    expect(sim.connections).toEqual([]);
  });
});
