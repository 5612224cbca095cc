/**
 * One NVMe/TCP connection of the simulated discovery controller: PDU framing, ICReq/ICResp, the admin
 * queue with its controller (Connect, properties, Identify, Get Log Page, features, AER, Keep Alive, DIM),
 * the KATO timer, held AERs with nvmet's AEN masking, R2T for large host data, and the fault hooks.
 *
 * Owns its socket and its timers (KATO, response delays); everything is released when the socket
 * closes. Bad PDUs from the host are answered with a C2HTermReq and the connection is closed; a data
 * digest error fails only its command (Transient Transport Error). Command errors are NVMe statuses as
 * nvmet gives them. Never throws to the caller; never logs (tests observe events through ConnectionHost).
 *
 * Used by: dc-simulator.ts
 * Tests:   dc-simulator.test.ts, dc-sim-faults.test.ts
 */
import type { Socket } from 'node:net';
import { WireError } from '../../errors.js';
import {
  AEN_DISCOVERY_LOG_CHANGE,
  AsyncEventConfig,
  DiscoveryLsp,
  FeatureId,
  IDENTIFY_DATA_SIZE,
  IdentifyCns,
  LogPageId,
  decodeGetFeaturesCommand,
  decodeGetLogPageCommand,
  decodeIdentifyCommand,
  decodeSetFeaturesCommand,
} from '../../nvme/wire/admin-cmd.js';
import { makeCqe, statusFromValue } from '../../nvme/wire/cqe.js';
import { DLP_HEADER_SIZE, type DiscoveryLogEntry } from '../../nvme/wire/discovery-log.js';
import { DimTask, decodeDimCommand, decodeDimData, dieHostId, dieSymName } from '../../nvme/wire/dim.js';
import {
  CNTLID_DYNAMIC,
  CONNECT_DATA_SIZE,
  DISCOVERY_NQN,
  Property,
  connectInvalidParameterDw0,
  connectResultDw0,
  decodeConnectCommand,
  decodeConnectData,
  decodePropertyGetCommand,
  decodePropertySetCommand,
  encodeCap,
  type ConnectCommand,
  type ConnectData,
} from '../../nvme/wire/fabrics-cmd.js';
import { PduFramer } from '../../nvme/wire/pdu-framer.js';
import {
  NO_DIGESTS,
  PduFlag,
  PduType,
  TERM_REQ_MAX_COPY,
  TermReqFes,
  capsuleResp,
  decodePdu,
  encodePdu,
  type H2CDataPdu,
  type ICReqPdu,
  type Pdu,
  type PduDigests,
} from '../../nvme/wire/pdu.js';
import { SglId, decodeSqe, type Sqe } from '../../nvme/wire/sqe.js';
import { STATUS_DNR, StatusCode } from '../../nvme/wire/status.js';
import type { FaultPlan, CommandRef } from './dc-sim-fault-plan.js';
import {
  uuidText,
  type DcSimCloseReason,
  type DcSimConnectionInfo,
  type DcSimEvents,
  type DcSimRegistration,
  type DcSimRoundTrips,
} from './dc-sim-events.js';
import {
  discoveryLogImage,
  identifyControllerData,
  sliceImage,
  supportedLogPagesImage,
} from './dc-sim-log.js';
import {
  commandName,
  type DcSimCommandName,
  type MalformedKind,
  type ResolvedDcSimOptions,
} from './dc-sim-options.js';

/** What a connection needs from its simulator. */
export interface ConnectionHost {
  readonly options: ResolvedDcSimOptions;
  readonly faults: FaultPlan;
  /** Simulator-wide stall (DcSimulator.stall()). */
  readonly stalled: boolean;
  readonly genctr: bigint;
  readonly entries: readonly DiscoveryLogEntry[];
  /** GENCTR + 1 without content change or AEN (genctr-race fault). */
  bumpGenctrSilently(): void;
  nextCntlid(): number;
  countCommand(name: DcSimCommandName): void;
  register(registration: DcSimRegistration): void;
  deregister(connectionId: number, hostnqn: string, hostid: string | undefined): void;
  emit<K extends keyof DcSimEvents>(event: K, ...args: DcSimEvents[K]): void;
  /** State may have changed (re-check waitUntil predicates). */
  changed(): void;
  /** The connection's socket closed; it has released everything. */
  released(connection: SimConnection): void;
}

type State = DcSimConnectionInfo['state'];

/** Something to do on the socket, in order: write bytes, close, or report a completion as sent. */
type OutItem =
  { readonly bytes: Uint8Array } | { readonly close: DcSimCloseReason } | { readonly sent: () => void };

interface PendingTransfer {
  readonly sqe: Sqe;
  readonly ttag: number;
  readonly data: Uint8Array;
  received: number;
}

/** A corrupted PDU or framing error: the frame (or what there is of it) for the C2HTermReq copy. */
class BadPdu extends Error {
  readonly fes: number;
  readonly fei: number;
  readonly header: Uint8Array;

  constructor(fes: number, fei: number, header: Uint8Array, message: string) {
    super(message);
    this.fes = fes;
    this.fei = fei;
    this.header = header.subarray(0, TERM_REQ_MAX_COPY);
  }
}

const DNR = STATUS_DNR;
const ST = StatusCode;
/** CSTS bits. */
const CSTS_RDY = 0x1;
const CSTS_CFS = 0x2;
const CSTS_SHST_MASK = 0xc;
const CSTS_SHST_COMPLETE = 0x8;
/** Connect SQE offsets for IPO. */
const IPO_QID = 42;
const IPO_SQSIZE = 44;
const IPO_DATA_CNTLID = 16;
const IPO_DATA_SUBNQN = 256;
const IPO_DATA_HOSTNQN = 512;

function fesFor(err: unknown): { fes: number; fei: number } {
  if (err instanceof WireError) {
    if (err.code === 'WIRE_HDGST_MISMATCH')
      return { fes: TermReqFes.HeaderDigestError, fei: err.offset ?? 0 };
    return { fes: TermReqFes.InvalidHeaderField, fei: err.offset ?? 0 };
  }
  return { fes: TermReqFes.InvalidHeaderField, fei: 0 };
}

export class SimConnection {
  readonly id: number;
  readonly #host: ConnectionHost;
  readonly #socket: Socket;
  readonly #framer: PduFramer;
  readonly #remoteAddress: string;
  readonly #remotePort: number;
  #state: State = 'await-icreq';
  #closeReason: DcSimCloseReason | undefined;
  /** Input is ignored after a fatal error or teardown. */
  #inputClosed = false;
  /** First bytes (≤128) of the PDU the framer holds partially, for a TermReq copy. */
  #carry: Uint8Array = new Uint8Array(0);
  #digests: PduDigests = NO_DIGESTS;
  #hpda = 0;
  #stalled = false;
  /** PDUs held while stalled, with their bytes (for a TermReq copy). */
  readonly #queue: { readonly pdu: Pdu; readonly frame: Uint8Array }[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  #katoTimer: NodeJS.Timeout | undefined;
  /** Effective keep-alive timeout, 0 = none. */
  #katoTimeoutMs = 0;
  #roundTrips = 0;
  readonly #byCommand: Partial<Record<DcSimCommandName, number>> = {};
  readonly #outstanding = new Set<number>();
  /** disconnect fault: CID → bytes of C2HData to send before closing. */
  readonly #cuts = new Map<number, number>();
  readonly #transfers = new Map<number, PendingTransfer>();
  #nextTtag = 1;
  // Controller state (after Connect).
  #cntlid: number | undefined;
  #hostnqn: string | undefined;
  #hostid: string | undefined;
  #subnqn: string | undefined;
  #katoMs: number | undefined;
  #sqSize = 0;
  #sqhd = 0;
  #sqFlowDisabled = false;
  #cc = 0;
  #csts = 0;
  #aenEnabled = 0;
  #aenMasked = false;
  readonly #events: number[] = [];
  readonly #aers: number[] = [];
  #registered = false;
  /** Whether the previous LID 0x70 read on this connection carried only header bytes (genctr race). */
  #lastReadHeaderOnly = false;
  #resolveClosed: () => void = () => undefined;
  /** Settles when the socket has closed and everything is released. */
  readonly whenClosed: Promise<void> = new Promise((resolve) => {
    this.#resolveClosed = resolve;
  });

  constructor(id: number, socket: Socket, host: ConnectionHost) {
    this.id = id;
    this.#host = host;
    this.#socket = socket;
    this.#remoteAddress = socket.remoteAddress ?? '';
    this.#remotePort = socket.remotePort ?? 0;
    const o = host.options;
    this.#framer = new PduFramer({ maxPlen: Math.max(o.inCapsuleDataSize, o.maxH2CData, 8192) + 256 });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.#onData(chunk);
      this.#host.changed();
    });
    socket.on('error', () => {
      // A reset by the host; 'close' follows.
    });
    socket.on('close', () => {
      this.#onClose();
    });
  }

  // -------------------------------------------------------------------------------------------------
  // Public surface for the simulator

  info(): DcSimConnectionInfo {
    return {
      id: this.id,
      remoteAddress: this.#remoteAddress,
      remotePort: this.#remotePort,
      state: this.#state,
      digests: { ...this.#digests },
      hostnqn: this.#hostnqn,
      hostid: this.#hostid,
      subnqn: this.#subnqn,
      cntlid: this.#cntlid,
      katoMs: this.#katoMs,
      ready: (this.#csts & CSTS_RDY) !== 0,
      aenEnabled: this.#aenEnabled,
      aerOutstanding: this.#aers.length,
      aenMasked: this.#aenMasked,
      registered: this.#registered,
      stalled: this.#isStalled,
      roundTrips: this.roundTrips(),
    };
  }

  roundTrips(): DcSimRoundTrips {
    return { total: this.#roundTrips, byCommand: { ...this.#byCommand } };
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** The discovery log changed: queue the AEN as nvmet does (enabled and not masked), deliver if an AER waits. */
  notifyDiscoveryChange(): void {
    if (this.#state !== 'connected') return;
    if ((this.#aenEnabled & AsyncEventConfig.DLPCN) === 0 || this.#aenMasked) return;
    this.#aenMasked = true;
    this.#events.push(AEN_DISCOVERY_LOG_CHANGE);
    this.#deliverEvents();
  }

  /** Simulator-wide stall began: freeze the KATO timer. */
  pause(): void {
    this.#stopKato();
  }

  /** End any stall: restart KATO, answer what was queued, deliver pending events. */
  resume(): void {
    this.#stalled = false;
    if (!this.#canProcess()) return;
    this.#restartKato();
    let item = this.#queue.shift();
    while (item !== undefined) {
      this.#handlePdu(item.pdu, item.frame);
      item = this.#canProcess() ? this.#queue.shift() : undefined;
    }
    this.#deliverEvents();
  }

  /** Close now (DcSimulator.dropConnections/close). */
  destroy(reason: DcSimCloseReason): void {
    this.#teardown(reason, 'destroy');
  }

  // -------------------------------------------------------------------------------------------------
  // Input

  get #isStalled(): boolean {
    return this.#stalled || this.#host.stalled;
  }

  #canProcess(): boolean {
    return !this.#isStalled && !this.#inputClosed;
  }

  #onData(chunk: Uint8Array): void {
    if (this.#inputClosed) return;
    const held = this.#framer.bufferedBytes;
    let consumed = 0;
    let frames = 0;
    try {
      this.#framer.push(chunk, (frame) => {
        consumed += frames === 0 ? frame.length - held : frame.length;
        frames++;
        this.#onFrame(frame);
      });
    } catch (err) {
      if (err instanceof BadPdu) {
        this.#fatal(err.fes, err.fei, err.header);
        return;
      }
      // The framer refused a common header: copy what there is of the offending PDU.
      const header = frames === 0 ? concat(this.#carry, chunk) : chunk.subarray(consumed);
      const { fes, fei } = fesFor(err);
      this.#fatal(fes, fei, header.subarray(0, TERM_REQ_MAX_COPY));
      return;
    }
    const partial = this.#framer.bufferedBytes;
    if (partial === 0) this.#carry = new Uint8Array(0);
    else if (frames === 0) this.#carry = concat(this.#carry, chunk).slice(0, TERM_REQ_MAX_COPY);
    else this.#carry = chunk.slice(chunk.length - partial, chunk.length - partial + TERM_REQ_MAX_COPY);
  }

  #onFrame(frame: Uint8Array): void {
    if (this.#inputClosed) return;
    let pdu: Pdu;
    try {
      pdu = decodePdu(frame, this.#digests);
    } catch (err) {
      if (err instanceof WireError && err.code === 'WIRE_DDGST_MISMATCH' && frame[0] === PduType.CapsuleCmd) {
        // The header digest was verified first, so the SQE can be trusted; the command alone fails.
        this.#receiveCommand(decodeSqe(frame.subarray(8, 72)), new Uint8Array(0), frame, true);
        return;
      }
      if (err instanceof WireError && err.code === 'WIRE_DDGST_MISMATCH' && frame[0] === PduType.H2CData) {
        this.#failTransfer(err.cid ?? -1, frame);
        return;
      }
      const { fes, fei } = fesFor(err);
      throw new BadPdu(fes, fei, frame, err instanceof Error ? err.message : String(err));
    }
    switch (pdu.type) {
      case PduType.CapsuleCmd:
        this.#receiveCommand(pdu.sqe, pdu.data, frame, false);
        return;
      case PduType.ICReq:
      case PduType.H2CTermReq:
      case PduType.H2CData:
        this.#receive(pdu, frame);
        return;
      default:
        // ICResp, C2HTermReq, CapsuleResp, C2HData, R2T travel the other way.
        throw new BadPdu(TermReqFes.InvalidHeaderField, 0, frame, `unexpected ${pdu.type} from a host`);
    }
  }

  #receive(pdu: Pdu, frame: Uint8Array): void {
    if (this.#isStalled) {
      this.#queue.push({ pdu, frame });
      return;
    }
    this.#handlePdu(pdu, frame);
  }

  /** Count a command capsule at arrival (also while stalled), then hand it on. */
  #receiveCommand(sqe: Sqe, data: Uint8Array, frame: Uint8Array, ddgstError: boolean): void {
    const name = commandName(sqe);
    this.#roundTrips++;
    this.#byCommand[name] = (this.#byCommand[name] ?? 0) + 1;
    this.#host.countCommand(name);
    this.#host.emit('command', { connectionId: this.id, name, cid: sqe.cid, sqe });
    if (this.#host.faults.hits('stall', commandRef(sqe, name)) && !this.#stalled) {
      this.#stalled = true;
      this.#stopKato();
    }
    // A data digest error travels with the command (marker data) so that it waits in the queue like
    // everything else while stalled; #onCommand answers it with Transient Transport Error.
    this.#receive({ type: PduType.CapsuleCmd, sqe, data: ddgstError ? DDGST_FAILED : data }, frame);
  }

  #handlePdu(pdu: Pdu, frame: Uint8Array): void {
    switch (pdu.type) {
      case PduType.ICReq:
        this.#onICReq(pdu, frame);
        return;
      case PduType.H2CTermReq:
        this.#inputClosed = true;
        this.#teardown('host-term-req', 'end');
        return;
      case PduType.CapsuleCmd:
        if (this.#state === 'await-icreq') {
          this.#fatal(TermReqFes.PduSequenceError, 0, frame);
          return;
        }
        this.#onCommand(pdu.sqe, pdu.data);
        return;
      case PduType.H2CData:
        this.#onH2CData(pdu, frame);
        return;
      default:
        // #onFrame lets no other type through.
        this.#fatal(TermReqFes.InvalidHeaderField, 0, frame);
    }
  }

  #onICReq(pdu: ICReqPdu, raw: Uint8Array): void {
    if (this.#state !== 'await-icreq') {
      this.#fatal(TermReqFes.PduSequenceError, 0, raw);
      return;
    }
    if (pdu.pfv !== 0) {
      this.#fatal(TermReqFes.UnsupportedParameter, 8, raw);
      return;
    }
    const o = this.#host.options;
    if (pdu.hpda !== 0 && !o.acceptHpda) {
      this.#fatal(TermReqFes.UnsupportedParameter, 10, raw);
      return;
    }
    this.#hpda = pdu.hpda;
    const digests = this.#host.faults.icrespDigests ?? {
      hdgst: pdu.hdgst && o.digests.hdgst,
      ddgst: pdu.ddgst && o.digests.ddgst,
    };
    const resp = encodePdu({
      type: PduType.ICResp,
      pfv: 0,
      cpda: o.cpda,
      hdgst: digests.hdgst,
      ddgst: digests.ddgst,
      maxh2cdata: o.maxH2CData,
    });
    this.#digests = { hdgst: digests.hdgst, ddgst: digests.ddgst };
    this.#state = 'await-connect';
    this.#send([{ bytes: resp }]);
  }

  // -------------------------------------------------------------------------------------------------
  // Commands

  #onCommand(sqe: Sqe, data: Uint8Array): void {
    const name = commandName(sqe);
    if (this.#sqSize > 0) this.#sqhd = (this.#sqhd + 1) % this.#sqSize;
    const cmd = commandRef(sqe, name);
    if (this.#state === 'connected' && (this.#host.options.kato.trafficBased || name === 'keep-alive')) {
      this.#restartKato();
    }
    if (this.#host.options.checkCidConflict && this.#outstanding.has(sqe.cid)) {
      this.#respond(sqe, name, { status: ST.CommandIdConflict | DNR }, false);
      return;
    }
    this.#outstanding.add(sqe.cid);
    if (data === DDGST_FAILED) {
      this.#complete(sqe, name, { status: ST.TransientTransportError });
      return;
    }
    const faults = this.#host.faults;
    if (faults.hits('disconnect', cmd)) {
      const after = faults.disconnectAfterBytes;
      if (after === 0) {
        this.#send([{ close: 'fault-disconnect' }]);
        return;
      }
      this.#cuts.set(sqe.cid, after);
    }
    if (faults.hits('failCommand', cmd)) {
      this.#complete(sqe, name, { status: faults.failStatus });
      return;
    }
    if (sqe.psdt !== 1 || sqe.fuse !== 0) {
      this.#complete(sqe, name, { status: ST.InvalidField | DNR });
      return;
    }
    const parseError = this.#parse(sqe, name);
    if (parseError !== undefined) {
      this.#complete(sqe, name, { status: parseError });
      return;
    }
    const hostData = name === 'connect' || name === 'dim';
    if (sqe.sgl.id === SglId.DataBlockOffset) {
      if (!hostData) {
        // In-capsule data for a command that moves none from the host (nvmet: Invalid Field).
        this.#complete(sqe, name, { status: ST.InvalidField | DNR });
        return;
      }
      if (sqe.sgl.address !== 0) {
        this.#complete(sqe, name, { status: ST.SglOffsetInvalid | DNR });
        return;
      }
      if (sqe.sgl.length > this.#host.options.inCapsuleDataSize || data.length !== sqe.sgl.length) {
        this.#complete(sqe, name, { status: ST.DataSglLengthInvalid | DNR });
        return;
      }
    } else if (hostData && sqe.sgl.id === SglId.TransportDataBlock && sqe.sgl.length > 0) {
      if (data.length > 0) {
        this.#complete(sqe, name, { status: ST.InvalidField | DNR });
        return;
      }
      this.#startTransfer(sqe);
      return;
    } else if (data.length > 0) {
      this.#complete(sqe, name, { status: ST.InvalidField | DNR });
      return;
    }
    this.#execute(sqe, name, data);
  }

  /** nvmet's parse step: is this command acceptable in the current state at all? */
  #parse(sqe: Sqe, name: DcSimCommandName): number | undefined {
    if (this.#state !== 'connected') return name === 'connect' ? undefined : ST.InvalidOpcode | DNR;
    if (sqe.opc === 0x7f)
      return name === 'property-get' || name === 'property-set' ? undefined : ST.InvalidOpcode | DNR;
    if ((this.#csts & CSTS_RDY) === 0) return ST.InvalidOpcode | DNR;
    switch (name) {
      case 'get-log-page':
      case 'identify':
      case 'set-features':
      case 'get-features':
      case 'aer':
      case 'keep-alive':
        return undefined;
      case 'dim':
        return this.#host.options.dctype === 'none' ? ST.InvalidOpcode | DNR : undefined;
      default:
        return ST.InvalidOpcode | DNR;
    }
  }

  #execute(sqe: Sqe, name: DcSimCommandName, data: Uint8Array): void {
    switch (name) {
      case 'connect':
        this.#connect(sqe, data);
        return;
      case 'property-get':
        this.#propertyGet(sqe);
        return;
      case 'property-set':
        this.#propertySet(sqe);
        return;
      case 'identify':
        this.#identify(sqe);
        return;
      case 'get-log-page':
        this.#getLogPage(sqe);
        return;
      case 'set-features':
        this.#setFeatures(sqe);
        return;
      case 'get-features':
        this.#getFeatures(sqe);
        return;
      case 'aer':
        this.#asyncEventRequest(sqe);
        return;
      case 'keep-alive':
        this.#complete(sqe, name, { status: sqe.sgl.length === 0 ? 0 : ST.DataSglLengthInvalid | DNR });
        return;
      case 'dim':
        this.#dim(sqe, data);
        return;
      default:
        this.#complete(sqe, name, { status: ST.InvalidOpcode | DNR });
    }
  }

  #connect(sqe: Sqe, data: Uint8Array): void {
    const name = 'connect';
    const o = this.#host.options;
    if (sqe.sgl.length !== CONNECT_DATA_SIZE) {
      this.#complete(sqe, name, { status: ST.DataSglLengthInvalid | DNR });
      return;
    }
    const refusal = this.#host.faults.takeRefusal();
    if (refusal !== undefined) {
      this.#complete(sqe, name, { status: refusal.status, dw0: refusal.dw0 });
      return;
    }
    const c = decodeConnectCommand(sqe);
    const d = decodeConnectData(data);
    const error = connectError(c, d, o);
    if (error !== undefined) {
      this.#complete(sqe, name, error);
      return;
    }
    this.#state = 'connected';
    this.#cntlid = this.#host.nextCntlid();
    this.#hostnqn = d.hostnqn;
    this.#hostid = uuidText(d.hostid);
    this.#subnqn = d.subnqn;
    this.#katoMs = c.katoMs;
    this.#katoTimeoutMs = this.#roundKato(c.katoMs === 0 ? o.kato.zeroKatoMs : c.katoMs);
    this.#sqSize = c.sqsize + 1;
    this.#sqhd = 1 % this.#sqSize;
    this.#sqFlowDisabled = (c.cattr & 0x4) !== 0;
    this.#restartKato();
    this.#host.emit('connected', this.info());
    this.#complete(sqe, name, { dw0: connectResultDw0({ cntlid: this.#cntlid, atr: false, ascr: false }) });
  }

  #propertyGet(sqe: Sqe): void {
    const name = 'property-get';
    if (sqe.sgl.length !== 0) {
      this.#complete(sqe, name, { status: ST.DataSglLengthInvalid | DNR });
      return;
    }
    const p = decodePropertyGetCommand(sqe);
    const o = this.#host.options;
    if (p.size === 8 && p.offset === Property.CAP.offset) {
      const [lo, hi] = encodeCap({
        mqes: o.mqes,
        cqr: true,
        ams: 0,
        to: 15,
        dstrd: 0,
        nssrs: false,
        css: 0x41, // NVM command set and "I/O command sets" (CSI), as nvmet
        mpsmin: 0,
        mpsmax: 0,
        crms: 0,
      });
      this.#complete(sqe, name, { dw0: lo, dw1: hi });
      return;
    }
    if (p.size === 4) {
      const value =
        p.offset === Property.VS.offset
          ? o.version
          : p.offset === Property.CC.offset
            ? this.#cc
            : p.offset === Property.CSTS.offset
              ? this.#csts
              : undefined;
      if (value !== undefined) {
        this.#complete(sqe, name, { dw0: value });
        return;
      }
    }
    this.#complete(sqe, name, { status: ST.InvalidField | DNR });
  }

  #propertySet(sqe: Sqe): void {
    const name = 'property-set';
    if (sqe.sgl.length !== 0) {
      this.#complete(sqe, name, { status: ST.DataSglLengthInvalid | DNR });
      return;
    }
    const p = decodePropertySetCommand(sqe);
    if (p.size !== 4 || p.offset !== Property.CC.offset) {
      this.#complete(sqe, name, { status: ST.InvalidField | DNR });
      return;
    }
    this.#updateCc(p.value >>> 0);
    this.#complete(sqe, name, {});
  }

  /** nvmet's CC write: EN 0→1 starts (or fails with CFS), EN 1→0 clears, SHN reports shutdown complete. */
  #updateCc(value: number): void {
    const old = this.#cc;
    this.#cc = value;
    const en = (value & 1) !== 0;
    const wasEn = (old & 1) !== 0;
    if (en && !wasEn) {
      const css = (value >>> 4) & 0x7;
      const mps = (value >>> 7) & 0xf;
      const ams = (value >>> 11) & 0x7;
      if (mps !== 0 || ams !== 0 || (css !== 0 && css !== 6)) {
        this.#csts = CSTS_CFS;
      } else {
        this.#csts = CSTS_RDY;
        this.#restartKato();
      }
    }
    if (!en && wasEn) this.#clearController();
    const shn = (value >>> 14) & 0x3;
    const wasShn = (old >>> 14) & 0x3;
    if (shn !== 0 && wasShn === 0) {
      this.#clearController();
      this.#csts |= CSTS_SHST_COMPLETE;
    }
    if (shn === 0 && wasShn !== 0) this.#csts &= ~CSTS_SHST_MASK;
  }

  #clearController(): void {
    this.#csts &= ~CSTS_RDY;
    this.#cc = 0;
  }

  #identify(sqe: Sqe): void {
    const name = 'identify';
    if (sqe.sgl.length !== IDENTIFY_DATA_SIZE) {
      this.#complete(sqe, name, { status: ST.DataSglLengthInvalid | DNR });
      return;
    }
    if (decodeIdentifyCommand(sqe).cns !== IdentifyCns.Controller) {
      this.#complete(sqe, name, { status: ST.InvalidField | DNR });
      return;
    }
    this.#complete(sqe, name, { data: identifyControllerData(this.#host.options, this.#cntlid ?? 0) });
  }

  #getLogPage(sqe: Sqe): void {
    const name = 'get-log-page';
    const o = this.#host.options;
    let g;
    try {
      g = decodeGetLogPageCommand(sqe);
    } catch {
      this.#complete(sqe, name, { status: ST.InvalidField | DNR });
      return;
    }
    if (sqe.sgl.length !== g.length) {
      this.#complete(sqe, name, { status: ST.DataSglLengthInvalid | DNR });
      return;
    }
    const known =
      g.lid === LogPageId.Discovery ||
      (g.lid === LogPageId.SupportedLogPages && o.logPages.supportedLogPages);
    const tooLong = o.mdts > 0 && g.length > 4096 * 2 ** o.mdts;
    if (!known || g.offset % 4 !== 0 || tooLong) {
      this.#complete(sqe, name, { status: ST.InvalidField | DNR });
      return;
    }
    // Without LPA b2 the offset is ignored, as nvmet ≤ 4.20 did.
    const offset = o.lpaExtendedData ? g.offset : 0;
    if (g.lid === LogPageId.SupportedLogPages) {
      this.#complete(sqe, name, { data: sliceImage(supportedLogPagesImage(o), offset, g.length) });
      return;
    }
    const carriesEntries = offset + g.length > DLP_HEADER_SIZE;
    if (carriesEntries && this.#lastReadHeaderOnly && this.#host.faults.takeGenctrRace()) {
      this.#host.bumpGenctrSilently();
    }
    this.#lastReadHeaderOnly = !carriesEntries;
    const image = discoveryLogImage({
      genctr: this.#host.genctr,
      entries: this.#host.entries,
      portLocalOnly: (g.lsp & DiscoveryLsp.PLEO) !== 0 && o.logPages.pleo,
      isPortLocal: o.isPortLocal,
      extended: (g.lsp & DiscoveryLsp.EXTDLPE) !== 0 && o.logPages.extdlpe,
    });
    if (!g.rae) this.#aenMasked = false;
    this.#complete(sqe, name, { data: sliceImage(image, offset, g.length) });
  }

  #setFeatures(sqe: Sqe): void {
    const name = 'set-features';
    if (sqe.sgl.length !== 0) {
      this.#complete(sqe, name, { status: ST.DataSglLengthInvalid | DNR });
      return;
    }
    const f = decodeSetFeaturesCommand(sqe);
    if (f.fid === FeatureId.AsyncEventConfiguration) {
      const supported = this.#host.options.aen ? AsyncEventConfig.DLPCN : 0;
      if ((f.cdw11 & ~supported) !== 0) {
        this.#complete(sqe, name, { status: ST.InvalidField | DNR });
        return;
      }
      this.#aenEnabled = f.cdw11 >>> 0;
      this.#complete(sqe, name, { dw0: this.#aenEnabled });
      return;
    }
    if (f.fid === FeatureId.KeepAliveTimer) {
      this.#katoMs = f.cdw11 >>> 0;
      this.#katoTimeoutMs = this.#roundKato(this.#katoMs);
      this.#restartKato();
      this.#complete(sqe, name, { dw0: this.#katoMs });
      return;
    }
    this.#complete(sqe, name, { status: ST.InvalidField | DNR });
  }

  #getFeatures(sqe: Sqe): void {
    const name = 'get-features';
    const f = decodeGetFeaturesCommand(sqe);
    if (sqe.sgl.length !== 0) {
      this.#complete(sqe, name, { status: ST.DataSglLengthInvalid | DNR });
    } else if (f.fid === FeatureId.AsyncEventConfiguration) {
      this.#complete(sqe, name, { dw0: this.#aenEnabled });
    } else if (f.fid === FeatureId.KeepAliveTimer) {
      this.#complete(sqe, name, { dw0: this.#katoMs ?? 0 });
    } else {
      this.#complete(sqe, name, { status: ST.InvalidField | DNR });
    }
  }

  #asyncEventRequest(sqe: Sqe): void {
    const name = 'aer';
    if (sqe.sgl.length !== 0) {
      this.#complete(sqe, name, { status: ST.DataSglLengthInvalid | DNR });
      return;
    }
    if (this.#aers.length >= this.#host.options.aerl + 1) {
      this.#complete(sqe, name, { status: ST.AsyncEventRequestLimitExceeded | DNR });
      return;
    }
    if ((this.#aenEnabled & AsyncEventConfig.DLPCN) !== 0 && this.#host.faults.takeAenFlood()) {
      this.#completeAer(sqe.cid, AEN_DISCOVERY_LOG_CHANGE);
      return;
    }
    this.#aers.push(sqe.cid);
    this.#deliverEvents();
  }

  #deliverEvents(): void {
    while (this.#events.length > 0 && this.#aers.length > 0 && !this.#isStalled && !this.#inputClosed) {
      this.#completeAer(this.#aers.shift() as number, this.#events.shift() as number);
    }
  }

  #completeAer(cid: number, dw0: number): void {
    const sqe = { opc: 0x0c, nsid: 0, cid } as const;
    this.#complete(sqe, 'aer', { dw0 }, () => {
      this.#host.emit('aen', { connectionId: this.id, cid, dw0 });
    });
  }

  #dim(sqe: Sqe, data: Uint8Array): void {
    const name = 'dim';
    const cmd = decodeDimCommand(sqe);
    if (cmd.tas !== DimTask.Register && cmd.tas !== DimTask.Deregister && cmd.tas !== DimTask.Update) {
      this.#complete(sqe, name, { status: ST.InvalidField | DNR });
      return;
    }
    let dim;
    try {
      dim = decodeDimData(data);
    } catch {
      this.#complete(sqe, name, { status: ST.InvalidDiscoveryInformation | DNR });
      return;
    }
    for (const e of dim.entries) {
      const hostnqn = e.nqn !== '' ? e.nqn : dim.eid;
      const id = dieHostId(e);
      const hostid = id === undefined ? undefined : uuidText(id);
      if (cmd.tas === DimTask.Deregister) {
        this.#host.deregister(this.id, hostnqn, hostid);
      } else {
        this.#host.register({
          hostnqn,
          hostid,
          symname: dieSymName(e),
          traddr: e.traddr !== '' ? e.traddr : this.#remoteAddress,
          trsvcid: e.trsvcid,
          adrfam: e.adrfam,
          trtype: e.trtype,
          etype: dim.etype,
          entityName: dim.ename,
          entityVersion: dim.ever,
          connectionId: this.id,
        });
      }
    }
    this.#registered = cmd.tas !== DimTask.Deregister;
    this.#complete(sqe, name, {});
  }

  // -------------------------------------------------------------------------------------------------
  // Host data through R2T / H2CData

  #startTransfer(sqe: Sqe): void {
    const ttag = this.#nextTtag;
    this.#nextTtag = (this.#nextTtag % 0xfffe) + 1;
    this.#transfers.set(sqe.cid, { sqe, ttag, data: new Uint8Array(sqe.sgl.length), received: 0 });
    const r2t = encodePdu(
      { type: PduType.R2T, cccid: sqe.cid, ttag, r2to: 0, r2tl: sqe.sgl.length },
      this.#digests,
    );
    this.#send([{ bytes: r2t }]);
  }

  #onH2CData(pdu: H2CDataPdu, header: Uint8Array): void {
    const { cccid, datao, last, data } = pdu;
    const t = this.#transfers.get(cccid);
    if (t?.ttag !== pdu.ttag) {
      this.#fatal(TermReqFes.PduSequenceError, 0, header);
      return;
    }
    if (datao !== t.received || datao + data.length > t.data.length) {
      this.#fatal(TermReqFes.DataTransferOutOfRange, 12, header);
      return;
    }
    if (data.length > this.#host.options.maxH2CData) {
      this.#fatal(TermReqFes.DataTransferLimitExceeded, 16, header);
      return;
    }
    t.data.set(data, datao);
    t.received += data.length;
    if (t.received < t.data.length) {
      if (last) this.#fatal(TermReqFes.PduSequenceError, 1, header);
      return;
    }
    this.#transfers.delete(cccid);
    this.#execute(t.sqe, commandName(t.sqe), t.data);
  }

  #failTransfer(cid: number, frame: Uint8Array): void {
    const t = this.#transfers.get(cid);
    if (t === undefined) {
      this.#fatal(TermReqFes.PduSequenceError, 0, frame);
      return;
    }
    this.#transfers.delete(cid);
    this.#complete(t.sqe, commandName(t.sqe), { status: ST.TransientTransportError });
  }

  // -------------------------------------------------------------------------------------------------
  // Output

  /** Complete a command: C2HData (if any), then the CapsuleResp, with the data faults applied. */
  #complete(
    sqe: Pick<Sqe, 'opc' | 'nsid' | 'cid'>,
    name: DcSimCommandName,
    result: { status?: number; dw0?: number; dw1?: number; data?: Uint8Array },
    onSent?: () => void,
  ): void {
    this.#respond(sqe, name, result, true, onSent);
  }

  #respond(
    sqe: Pick<Sqe, 'opc' | 'nsid' | 'cid'>,
    name: DcSimCommandName,
    result: { status?: number; dw0?: number; dw1?: number; data?: Uint8Array },
    tracked: boolean,
    onSent?: () => void,
  ): void {
    const status = result.status ?? 0;
    const faults = this.#host.faults;
    const cmd = commandRef(sqe, name);
    let data = status === 0 ? (result.data ?? new Uint8Array(0)) : new Uint8Array(0);
    if (data.length > 0 && faults.hits('dataLength', cmd)) {
      const resized = new Uint8Array(Math.max(0, data.length + faults.dataLengthDelta));
      resized.set(data.subarray(0, Math.min(data.length, resized.length)));
      data = resized;
    }
    const kind = faults.malformedKind;
    const corrupt =
      kind !== undefined && (kind !== 'bad-ddgst' || data.length > 0) && faults.hits('malformed', cmd);
    const cut = tracked ? this.#cuts.get(sqe.cid) : undefined;
    const pdus: Uint8Array[] = [];
    const max = this.#host.options.maxC2HDataBytes > 0 ? this.#host.options.maxC2HDataBytes : data.length;
    const limit = cut === undefined ? data.length : Math.min(cut, data.length);
    const successFlag = this.#sqFlowDisabled && status === 0 && data.length > 0 && cut === undefined;
    for (let off = 0; off < limit; off += max) {
      const chunk = data.subarray(off, Math.min(limit, off + max));
      const last = cut === undefined && off + chunk.length === data.length;
      pdus.push(
        encodePdu(
          {
            type: PduType.C2HData,
            cccid: sqe.cid,
            datao: off,
            last,
            success: last && successFlag,
            data: chunk,
          },
          this.#digests,
          this.#hpda,
        ),
      );
    }
    if (cut === undefined && !successFlag) {
      const cqe = makeCqe({
        cid: sqe.cid,
        dw0: (result.dw0 ?? 0) >>> 0,
        dw1: (result.dw1 ?? 0) >>> 0,
        sqhd: this.#sqFlowDisabled ? 0xffff : this.#sqhd,
        status: statusFromValue(status),
      });
      pdus.push(encodePdu(capsuleResp(cqe), this.#digests));
    }
    // The first PDU of the answer is broken: a C2HData when there is data (bad-ddgst needs one).
    const first = pdus[0];
    if (corrupt && first !== undefined) pdus[0] = this.#corrupt(first, kind);
    const items: OutItem[] = pdus.map((bytes) => ({ bytes }));
    if (cut !== undefined) {
      this.#cuts.delete(sqe.cid);
      items.push({ close: 'fault-disconnect' });
    } else {
      items.push({
        sent: () => {
          if (tracked) this.#outstanding.delete(sqe.cid);
          this.#host.emit('response', {
            connectionId: this.id,
            name,
            cid: sqe.cid,
            status,
            dw0: (result.dw0 ?? 0) >>> 0,
            dataBytes: data.length,
          });
          onSent?.();
        },
      });
    }
    this.#send(items);
  }

  /** Break one encoded PDU as the malformed fault asks. */
  #corrupt(pdu: Uint8Array, kind: MalformedKind): Uint8Array {
    const out = pdu.slice();
    const view = new DataView(out.buffer);
    const hlen = out[2] ?? 0;
    switch (kind) {
      case 'plen-below-hlen':
        view.setUint32(4, hlen - 1, true);
        return out;
      case 'plen-huge':
        view.setUint32(4, 0x8000_0000, true);
        return out;
      case 'bad-type':
        out[0] = 0x08;
        return out;
      case 'bad-hlen':
        out[2] = hlen + 4;
        return out;
      case 'bad-hdgst':
        if (this.#digests.hdgst) {
          out[hlen] = (out[hlen] ?? 0) ^ 0xff;
          return out;
        }
        return withExtraDigest(out, PduFlag.HDGSTF, hlen);
      case 'bad-ddgst':
        if (this.#digests.ddgst) {
          out[out.length - 1] = (out[out.length - 1] ?? 0) ^ 0xff;
          return out;
        }
        return withExtraDigest(out, PduFlag.DDGSTF, out.length);
    }
  }

  #send(items: OutItem[]): void {
    const delay = this.#host.faults.responseDelayMs;
    if (delay <= 0) {
      this.#write(items);
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#write(items);
      this.#host.changed();
    }, delay);
    this.#timers.add(timer);
  }

  #write(items: readonly OutItem[]): void {
    for (const item of items) {
      if (this.#state === 'closing' || this.#state === 'closed') return;
      if ('bytes' in item) this.#socket.write(item.bytes);
      else if ('close' in item) this.#teardown(item.close, 'end');
      else item.sent();
    }
  }

  /** A bad PDU from the host: C2HTermReq (after anything already queued), then close. */
  #fatal(fes: number, fei: number, header: Uint8Array): void {
    if (this.#inputClosed) return;
    this.#inputClosed = true;
    const term = encodePdu({
      type: PduType.C2HTermReq,
      fes,
      fei,
      offendingHeader: header.slice(0, TERM_REQ_MAX_COPY),
    });
    this.#send([{ bytes: term }, { close: 'protocol-error' }]);
  }

  // -------------------------------------------------------------------------------------------------
  // KATO and teardown

  #roundKato(ms: number): number {
    return this.#host.options.kato.roundUpToSeconds ? Math.ceil(ms / 1000) * 1000 : ms;
  }

  #restartKato(): void {
    this.#stopKato();
    if (this.#state !== 'connected' || this.#katoTimeoutMs <= 0 || this.#isStalled) return;
    this.#katoTimer = setTimeout(() => {
      this.#katoTimer = undefined;
      this.#csts |= CSTS_CFS;
      this.#inputClosed = true;
      this.#teardown('kato-expired', 'end');
      this.#host.changed();
    }, this.#katoTimeoutMs);
  }

  #stopKato(): void {
    if (this.#katoTimer !== undefined) clearTimeout(this.#katoTimer);
    this.#katoTimer = undefined;
  }

  #teardown(reason: DcSimCloseReason, how: 'end' | 'destroy'): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'closing') {
      if (how === 'destroy') this.#socket.destroy();
      return;
    }
    this.#state = 'closing';
    this.#closeReason = reason;
    this.#inputClosed = true;
    this.#release();
    if (how === 'destroy') {
      this.#socket.destroy();
    } else {
      this.#socket.end(() => {
        this.#socket.destroy();
      });
    }
  }

  #release(): void {
    this.#stopKato();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#aers.length = 0;
    this.#events.length = 0;
    this.#queue.length = 0;
    this.#transfers.clear();
    this.#cuts.clear();
  }

  #onClose(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#closeReason ??= 'host-closed';
    this.#inputClosed = true;
    this.#release();
    this.#host.released(this);
    this.#host.emit('closed', { info: this.info(), reason: this.#closeReason });
    this.#resolveClosed();
    this.#host.changed();
  }
}

/** nvmet's Connect checks, in its order: the error completion, or undefined to accept. */
function connectError(
  c: ConnectCommand,
  d: ConnectData,
  o: ResolvedDcSimOptions,
): { status: number; dw0?: number } | undefined {
  const invalid = (ipo: number, inData: boolean, status: number = ST.ConnectInvalidParameters) => ({
    status: status | DNR,
    dw0: connectInvalidParameterDw0({ ipo, inData }),
  });
  if (c.recfmt !== 0) return { status: ST.ConnectIncompatibleFormat | DNR };
  if (c.qid !== 0) return invalid(IPO_QID, false);
  if (d.cntlid !== CNTLID_DYNAMIC) return invalid(IPO_DATA_CNTLID, true);
  const nqnOk = d.subnqn === o.subnqn || (o.acceptWellKnownNqn && d.subnqn === DISCOVERY_NQN);
  if (!nqnOk) return invalid(IPO_DATA_SUBNQN, true);
  if (o.allowedHosts !== undefined && !o.allowedHosts.includes(d.hostnqn)) {
    return invalid(IPO_DATA_HOSTNQN, true, ST.ConnectInvalidHost);
  }
  if (c.sqsize === 0 || c.sqsize > o.mqes) return invalid(IPO_SQSIZE, false);
  return undefined;
}

/** Marker for a command whose in-capsule data failed its digest. */
const DDGST_FAILED = new Uint8Array(0);

function commandRef(sqe: Pick<Sqe, 'cdw10'> | Pick<Sqe, 'opc'>, name: DcSimCommandName): CommandRef {
  if (name === 'get-log-page' && 'cdw10' in sqe) return { name, lid: sqe.cdw10 & 0xff };
  return { name };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Set a digest flag and insert 4 bogus bytes at `at`, fixing PLEN (and PDO when data follows). */
function withExtraDigest(pdu: Uint8Array, flag: number, at: number): Uint8Array {
  const out = new Uint8Array(pdu.length + 4);
  out.set(pdu.subarray(0, at));
  out.set([0xde, 0xad, 0xbe, 0xef], at);
  out.set(pdu.subarray(at), at + 4);
  out[1] = (out[1] ?? 0) | flag;
  const view = new DataView(out.buffer);
  view.setUint32(4, out.length, true);
  const pdo = out[3] ?? 0;
  if (pdo !== 0 && at <= pdo) out[3] = pdo + 4;
  return out;
}
