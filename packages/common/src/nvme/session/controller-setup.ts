/**
 * The admin-queue steps that bring a discovery controller up and down: Fabrics Connect, enable
 * (CAP → CC.EN → CSTS.RDY), Identify Controller, and shutdown (CC.SHN → CSTS.SHST).
 *
 * No I/O of its own: every command goes through the AdminQueue; the only waits are CSTS polls on the
 * injected clock, cancelled by the signal. Each step is one async function that resolves with what it
 * learned or rejects with: NvmeStatusError (the controller refused; Connect statuses are named),
 * TimeoutError (phase 'connect', 'enable', 'shutdown', or 'admin' from the queue), StasError
 * NVME_AUTH_REQUIRED (Connect asked for in-band authentication, which stas's discovery host does not
 * do), NVME_CONTROLLER_FATAL (CSTS.CFS or an all-ones CSTS), NVME_UNSUPPORTED (CAP.MPSMIN above
 * 4 KiB pages), NVME_PROTOCOL_ERROR (Identify CNTLID ≠ the Connect CNTLID, which Linux refuses too),
 * NVME_NOT_DISCOVERY (Identify CNTRLTYPE says I/O or administrative controller).
 *
 * Round trips (pipelining where order does not matter for correctness): Connect 1; enable 1 when the
 * controller is ready at once (CC.EN=1 and a CSTS read are sent together; CC does not depend on CAP
 * for a discovery controller, CSS 000b/MPS 0 is what nvmet and SPDK take, and a CSTS read that
 * overtakes the CC write only costs one more poll; CAP is read only when the controller is not ready
 * at once); Identify 1; shutdown 1 (CC.SHN and a CSTS read together).
 *
 * Used by: discovery-session.ts
 * Tests:   discovery-session.test.ts, discovery-session.faults.test.ts, discover.test.ts (simulator)
 */
import { StasError, TimeoutError } from '../../errors.js';
import { IDENTIFY_DATA_SIZE, identifyCommand } from '../wire/admin-cmd.js';
import {
  CC_DEFAULT,
  CNTLID_DYNAMIC,
  Property,
  connectCommand,
  decodeCap,
  decodeConnectResult,
  decodeCsts,
  encodeCc,
  encodeConnectData,
  propertyGetCommand,
  propertySetCommand,
  type CapRegister,
  type CcRegister,
  type CstsRegister,
} from '../wire/fabrics-cmd.js';
import { ControllerType, decodeIdentifyController, type IdentifyController } from '../wire/identify-ctrl.js';
import type { AdminQueue } from './admin-queue.js';
import { delay, type Clock } from './clock.js';

/** Admin SQ size, 0's based: 32 entries, as Linux (NVME_AQ_DEPTH). */
export const ADMIN_SQSIZE = 31;
/** Interval between CSTS polls (Linux sleeps 1-2 ms). */
export const CSTS_POLL_MS = 2;

export interface SetupContext {
  readonly queue: AdminQueue;
  readonly peer: string;
  readonly clock: Clock;
  readonly signal: AbortSignal;
}

export interface ConnectParams {
  readonly hostnqn: string;
  /** 16 bytes. */
  readonly hostid: Uint8Array;
  readonly subsysnqn: string;
  readonly katoMs: number;
  readonly timeoutMs: number;
}

/** Fabrics Connect on the admin queue; resolves with the CNTLID. */
export async function connectAdminQueue(ctx: SetupContext, p: ConnectParams): Promise<number> {
  const data = encodeConnectData({
    hostid: p.hostid,
    cntlid: CNTLID_DYNAMIC,
    subnqn: p.subsysnqn,
    hostnqn: p.hostnqn,
  });
  const r = await ctx.queue.submit({
    name: 'Connect',
    build: (cid) => connectCommand({ cid, sqsize: ADMIN_SQSIZE, katoMs: p.katoMs }),
    hostData: data,
    timeoutMs: p.timeoutMs,
    phase: 'connect',
    signal: ctx.signal,
  });
  const result = decodeConnectResult(r.cqe);
  if (result.atr || result.ascr) {
    throw new StasError(
      'NVME_AUTH_REQUIRED',
      `${ctx.peer}: the controller requires ${result.atr ? 'in-band authentication' : 'secure channel concatenation'}, which this discovery host does not support`,
    );
  }
  return result.cntlid;
}

function getProperty(ctx: SetupContext, prop: { offset: number; size: 4 | 8 }, name: string) {
  return ctx.queue.submit({
    name: `Property Get ${name}`,
    build: (cid) => propertyGetCommand({ cid, offset: prop.offset, size: prop.size }),
    signal: ctx.signal,
  });
}

function setCc(ctx: SetupContext, cc: CcRegister) {
  return ctx.queue.submit({
    name: 'Property Set CC',
    build: (cid) => propertySetCommand({ cid, offset: Property.CC.offset, size: 4, value: encodeCc(cc) }),
    signal: ctx.signal,
  });
}

function checkCsts(ctx: SetupContext, raw: number): CstsRegister {
  const csts = decodeCsts(raw);
  if (raw === 0xffffffff || csts.cfs) {
    throw new StasError(
      'NVME_CONTROLLER_FATAL',
      `${ctx.peer}: controller fatal status (CSTS 0x${raw.toString(16)})`,
    );
  }
  return csts;
}

/** Poll CSTS until `done` or the deadline; returns the last CSTS. */
async function pollCsts(
  ctx: SetupContext,
  first: CstsRegister,
  done: (c: CstsRegister) => boolean,
  timeoutMs: number,
  timeout: () => TimeoutError,
  fatalIsError = true,
): Promise<CstsRegister> {
  let csts = first;
  const deadline = ctx.clock.now() + timeoutMs;
  while (!done(csts)) {
    if (ctx.clock.now() >= deadline) throw timeout();
    await delay(ctx.clock, CSTS_POLL_MS, ctx.signal);
    const raw = (await getProperty(ctx, Property.CSTS, 'CSTS')).cqe.dw0;
    csts = fatalIsError ? checkCsts(ctx, raw) : decodeCsts(raw);
  }
  return csts;
}

export interface EnableResult {
  /** The CC value the controller runs with (shutdown keeps its CSS). */
  readonly cc: CcRegister;
  /** CAP, when it had to be read (the controller was not ready at once); undefined otherwise. */
  readonly cap: CapRegister | undefined;
}

/**
 * CC.EN=1 and CSTS together; when the controller is ready at once (nvmet, SPDK: RDY follows the CC
 * write synchronously), that is all. Otherwise CAP is read, to explain a refusal (MPSMIN above 4 KiB,
 * a controller that only takes CSS 110b, which is then re-enabled with it as Linux does) or to bound
 * the CSTS.RDY polling by CAP.TO.
 */
export async function enableController(ctx: SetupContext): Promise<EnableResult> {
  let cc: CcRegister = { ...CC_DEFAULT, en: true };
  const [, cstsR] = await Promise.all([setCc(ctx, cc), getProperty(ctx, Property.CSTS, 'CSTS')]);
  const raw = cstsR.cqe.dw0;
  const first = decodeCsts(raw);
  if (raw !== 0xffffffff && first.rdy && !first.cfs) return { cc, cap: undefined };

  const capR = await getProperty(ctx, Property.CAP, 'CAP');
  const cap = decodeCap(capR.cqe.dw0, capR.cqe.dw1);
  if (cap.mpsmin > 0) {
    throw new StasError(
      'NVME_UNSUPPORTED',
      `${ctx.peer}: CAP.MPSMIN ${cap.mpsmin}: pages above 4 KiB are not supported`,
    );
  }
  const timeoutMs = (cap.to + 1) * 500;
  const timeout = (): TimeoutError =>
    new TimeoutError('enable', ctx.peer, `${ctx.peer}: controller not ready within CAP.TO (${timeoutMs} ms)`);
  let csts: CstsRegister;
  if ((cap.css & 0x01) === 0 && (cap.css & 0x40) !== 0) {
    // Only the I/O command set selector is supported, so CSS 000b was wrong: disable, then enable
    // with CSS 110b.
    await setCc(ctx, CC_DEFAULT);
    const off = decodeCsts((await getProperty(ctx, Property.CSTS, 'CSTS')).cqe.dw0);
    await pollCsts(ctx, off, (c) => !c.rdy, timeoutMs, timeout, false);
    cc = { ...cc, css: 6 };
    await setCc(ctx, cc);
    csts = checkCsts(ctx, (await getProperty(ctx, Property.CSTS, 'CSTS')).cqe.dw0);
  } else {
    csts = checkCsts(ctx, raw);
  }
  await pollCsts(ctx, csts, (c) => c.rdy, timeoutMs, timeout);
  return { cc, cap };
}

/** Identify Controller, checked against the Connect CNTLID. */
export async function identifyController(ctx: SetupContext, cntlid: number): Promise<IdentifyController> {
  const r = await ctx.queue.submit({
    name: 'Identify Controller',
    build: (cid) => identifyCommand({ cid }),
    dataLength: IDENTIFY_DATA_SIZE,
    signal: ctx.signal,
  });
  const id = decodeIdentifyController(r.data);
  if (id.cntlid !== cntlid) {
    throw new StasError(
      'NVME_PROTOCOL_ERROR',
      `${ctx.peer}: Identify reports CNTLID ${id.cntlid} but Connect assigned ${cntlid}`,
    );
  }
  if (id.cntrltype === ControllerType.Io || id.cntrltype === ControllerType.Administrative) {
    throw new StasError(
      'NVME_NOT_DISCOVERY',
      `${ctx.peer}: not a discovery controller (CNTRLTYPE ${id.cntrltype === ControllerType.Io ? 'I/O' : 'administrative'})`,
    );
  }
  return id;
}

/** CC.SHN = normal (EN and CSS kept) with a CSTS read, then CSTS polls until SHST = complete. */
export async function shutdownController(
  ctx: SetupContext,
  cc: CcRegister,
  timeoutMs: number,
): Promise<void> {
  const [, cstsR] = await Promise.all([
    setCc(ctx, { ...cc, shn: 1 }),
    getProperty(ctx, Property.CSTS, 'CSTS'),
  ]);
  await pollCsts(
    ctx,
    checkCsts(ctx, cstsR.cqe.dw0),
    (c) => c.shst === 2,
    timeoutMs,
    () => new TimeoutError('shutdown', ctx.peer, `${ctx.peer}: shutdown not complete within ${timeoutMs} ms`),
  );
}
