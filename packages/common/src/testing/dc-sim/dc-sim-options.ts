/**
 * Options of the discovery-controller simulator: what the simulated DC advertises and how it behaves
 * (DcSimOptions), the deterministic fault plan (DcSimFaults), command names used for counting and for
 * aiming faults, and the resolution of options into fully-defaulted settings.
 *
 * Pure: plain data and total functions; no sockets, timers or logging. resolveOptions() throws
 * StasError DCSIM_BAD_OPTION for values the simulator cannot honour (a test bug, reported at start()).
 * Defaults follow the Linux target's discovery controller (nvmet) wherever a host could tell.
 *
 * Used by: dc-simulator.ts, dc-sim-connection.ts, dc-sim-main.ts
 * Tests:   dc-sim-options.test.ts
 */
import { StasError } from '../../errors.js';
import type { IdentifyController } from '../../nvme/wire/identify-ctrl.js';
import type { DiscoveryLogEntry } from '../../nvme/wire/discovery-log.js';
import { DISCOVERY_NQN } from '../../nvme/wire/fabrics-cmd.js';
import type { Sqe } from '../../nvme/wire/sqe.js';

/** DCTYPE the simulator reports (Identify byte 1806): no DIM support unless 'ddc' or 'cdc'. */
export type DcType = 'none' | 'ddc' | 'cdc';

export const DCTYPE_VALUE: Readonly<Record<DcType, number>> = { none: 0, ddc: 1, cdc: 2 };

/** Command names used in round-trip counts and fault matching. */
export type DcSimCommandName =
  | 'connect'
  | 'property-get'
  | 'property-set'
  | 'auth-send'
  | 'auth-receive'
  | 'disconnect'
  | 'get-log-page'
  | 'identify'
  | 'set-features'
  | 'get-features'
  | 'aer'
  | 'keep-alive'
  | 'dim'
  | `fabrics-0x${string}`
  | `opcode-0x${string}`;

const FABRICS_NAMES: Readonly<Record<number, DcSimCommandName>> = {
  0x00: 'property-set',
  0x01: 'connect',
  0x04: 'property-get',
  0x05: 'auth-send',
  0x06: 'auth-receive',
  0x08: 'disconnect',
};

const ADMIN_NAMES: Readonly<Record<number, DcSimCommandName>> = {
  0x02: 'get-log-page',
  0x06: 'identify',
  0x09: 'set-features',
  0x0a: 'get-features',
  0x0c: 'aer',
  0x18: 'keep-alive',
  0x21: 'dim',
};

function hex2(v: number): string {
  return v.toString(16).padStart(2, '0');
}

/** The name of the command an SQE carries ('connect', 'get-log-page', 'opcode-0x80', …). */
export function commandName(sqe: Pick<Sqe, 'opc' | 'nsid'>): DcSimCommandName {
  if (sqe.opc === 0x7f) {
    const fctype = sqe.nsid & 0xff;
    return FABRICS_NAMES[fctype] ?? `fabrics-0x${hex2(fctype)}`;
  }
  return ADMIN_NAMES[sqe.opc] ?? `opcode-0x${hex2(sqe.opc)}`;
}

/** Which commands a fault applies to. Every field given must match; an empty match is any command. */
export interface DcSimCommandMatch {
  readonly command?: DcSimCommandName;
  /** Get Log Page only: the log page identifier. */
  readonly lid?: number;
}

/**
 * When a fault fires: it counts the commands that match `on` across the whole simulator (all
 * connections, in arrival order), lets the first `skip` through and fires on the next `times` ones.
 */
export interface DcSimFaultTrigger {
  readonly on?: DcSimCommandMatch;
  /** Matching commands to let through first; default 0. */
  readonly skip?: number;
  /** How many matching commands the fault hits; default 1 (Infinity for every one). */
  readonly times?: number;
}

/** How a malformed PDU is broken. */
export type MalformedKind =
  /** PLEN below the header length (a host framer must reject it at once). */
  | 'plen-below-hlen'
  /** PLEN of 2 GiB: a host without a PLEN cap would wait for it forever. */
  | 'plen-huge'
  /** Reserved PDU type 0x08. */
  | 'bad-type'
  /** HLEN that does not match the PDU type. */
  | 'bad-hlen'
  /** Wrong header digest (or HDGSTF set with a bogus digest when header digest was not negotiated). */
  | 'bad-hdgst'
  /** Wrong data digest on the first C2HData (or DDGSTF set when data digest was not negotiated). Only
   * commands that return data count as matches. */
  | 'bad-ddgst';

export interface DcSimFaults {
  /**
   * Close the connection (FIN after flushing) part-way through the answer to the matching command: after
   * `afterBytes` bytes of its C2HData (default 0: as soon as the command arrives), with no CapsuleResp.
   * Default match: Get Log Page LID 0x70.
   */
  readonly disconnect?: DcSimFaultTrigger & { readonly afterBytes?: number };
  /**
   * From the matching command on, the connection answers nothing (keep-alive included) and its KATO timer
   * is frozen, like a hung target. DcSimulator.resume() answers what was queued. Default match: any.
   */
  readonly stall?: DcSimFaultTrigger;
  /** Answer the matching command with a malformed PDU (the first PDU of the answer). Default match: any. */
  readonly malformed?: DcSimFaultTrigger & { readonly kind: MalformedKind };
  /**
   * C2HData with `delta` bytes more (beyond the command's length) or fewer (a short transfer, as nofuse
   * does past the end of the log) than the command asked for; LAST_PDU on the final PDU as usual.
   * Default match: Get Log Page LID 0x70.
   */
  readonly dataLength?: DcSimFaultTrigger & { readonly delta: number };
  /**
   * GENCTR is bumped (content unchanged, no AEN) just before serving the first entry-carrying read of
   * LID 0x70 that follows a header-only read on the same connection, `times` times in all: each bump
   * makes one pass of the consistent-read algorithm see a changed GENCTR and retry.
   */
  readonly genctrRace?: { readonly times: number };
  /**
   * The next `count` AERs submitted on connections that enabled discovery-log-change notices are
   * completed at once with the discovery AEN (0x0070F002), ignoring nvmet's masking. GENCTR is unchanged.
   */
  readonly aenFlood?: { readonly count: number };
  /** Refuse Fabrics Connect with this 16-bit status, e.g. 0x4184 (Connect Invalid Host + DNR). */
  readonly refuseConnect?: { readonly status: number; readonly dw0?: number; readonly times?: number };
  /** Fail the matching command with this 16-bit status instead of executing it. `on` is required. */
  readonly failCommand?: DcSimFaultTrigger & { readonly on: DcSimCommandMatch; readonly status: number };
  /** Answer ICReq with these DGST bits regardless of what the host asked (and use them afterwards). */
  readonly icrespDigests?: { readonly hdgst: boolean; readonly ddgst: boolean };
  /** Delay every PDU the simulator sends by this many milliseconds (order is kept). */
  readonly responseDelayMs?: number;
}

export interface DcSimKatoOptions {
  /** Timeout used when the host connects with KATO 0 (nvmet: 120000 for discovery); 0 = none. */
  readonly zeroKatoMs?: number;
  /** Any command resets the timer, as nvmet does (default true); false: only Keep Alive does. */
  readonly trafficBased?: boolean;
  /** Round KATO up to whole seconds as nvmet does; default false so tests can use short KATOs. */
  readonly roundUpToSeconds?: boolean;
}

/** What the simulator advertises in the Supported Log Pages log (LID 0x00) for LID 0x70. */
export interface DcSimLogPageSupport {
  /** Answer LID 0x00 at all (nvmet does not: Invalid Field). Default: true if any LSP is supported. */
  readonly supportedLogPages?: boolean;
  /** PLEOS: honour LSP PLEO (port-local entries only). */
  readonly pleo?: boolean;
  /** EXTDLPES: honour LSP EXTDLPE (extended entries with TEL/NUMEXAT, no attributes). */
  readonly extdlpe?: boolean;
  /** ALLSUBES: advertised only; LSP ALLSUBE changes nothing. */
  readonly allsube?: boolean;
}

export interface DcSimOptions {
  /** Listen address; default 127.0.0.1 (use '::1' for IPv6). */
  readonly host?: string;
  /** Listen port; default 0 (an ephemeral port, see DcSimulator.port). */
  readonly port?: number;
  /** The DC's subsystem NQN (Identify SUBNQN); default the well-known discovery NQN. */
  readonly subnqn?: string;
  /** Also accept Connect to the well-known NQN when `subnqn` is a unique one (nvmet does); default true. */
  readonly acceptWellKnownNqn?: boolean;
  /** Host NQNs allowed to connect; default any (others get Connect Invalid Host). */
  readonly allowedHosts?: readonly string[];
  /** Identify DCTYPE; default 'none' (nvmet), which makes DIM an Invalid Opcode. */
  readonly dctype?: DcType;
  /** Identify CNTRLTYPE; default 2 (discovery). 0 imitates old targets. */
  readonly cntrltype?: number;
  /** Identify MDTS (2^MDTS × 4 KiB per command); default 0 = no limit. */
  readonly mdts?: number;
  /** Largest DATAL per C2HData PDU; default 0 = the whole transfer in one PDU (nvmet). */
  readonly maxC2HDataBytes?: number;
  /** Digests the simulator supports; the ICResp enables those the host asked for. Default both. */
  readonly digests?: { readonly hdgst?: boolean; readonly ddgst?: boolean };
  /** Accept ICReq HPDA ≠ 0 and pad C2HData to it (SPDK); default false: TermReq (nvmet refuses). */
  readonly acceptHpda?: boolean;
  /** ICResp CPDA; default 0. */
  readonly cpda?: number;
  /** ICResp MAXH2CDATA; default 0x400000 (nvmet). */
  readonly maxH2CData?: number;
  /** In-capsule data accepted on the admin queue; default 8192. Larger host data needs R2T. */
  readonly inCapsuleDataSize?: number;
  readonly kato?: DcSimKatoOptions;
  /** OAES b31: discovery log change notices; default true. */
  readonly aen?: boolean;
  /** Identify AERL (0's based); default 3 (4 AERs may be outstanding). */
  readonly aerl?: number;
  /** Identify LPA b2 (Get Log Page offsets). Default true; false imitates nvmet ≤ 4.20: LPO ignored. */
  readonly lpaExtendedData?: boolean;
  readonly logPages?: DcSimLogPageSupport;
  /** The DC's port ID; default 1. Entries with this PORTID are the port-local ones (PLEO). */
  readonly portid?: number;
  /** Overrides the port-local test used for PLEO. */
  readonly isPortLocal?: (entry: DiscoveryLogEntry) => boolean;
  /** Initial log entries; default none. */
  readonly entries?: readonly DiscoveryLogEntry[];
  /** Initial GENCTR; default 1. */
  readonly genctr?: bigint | number;
  /** CNTLID given to the first Connect; default 1 (then 2, 3, …). */
  readonly firstCntlid?: number;
  /** CAP.MQES (0's based); default 127. Connect SQSIZE above it is refused. */
  readonly mqes?: number;
  /** VS register and Identify VER; default 0x00010300 (1.3). */
  readonly version?: number;
  /** Answer a CID already outstanding (e.g. the AER's) with Command ID Conflict; default true. */
  readonly checkCidConflict?: boolean;
  /** Field overrides applied last to the Identify Controller data (e.g. { kas: 10, ctratt: 0x40 }). */
  readonly identify?: Partial<IdentifyController>;
  readonly faults?: DcSimFaults;
}

/** Options with every default applied. */
export interface ResolvedDcSimOptions {
  readonly host: string;
  readonly port: number;
  readonly subnqn: string;
  readonly acceptWellKnownNqn: boolean;
  readonly allowedHosts: readonly string[] | undefined;
  readonly dctype: DcType;
  readonly cntrltype: number;
  readonly mdts: number;
  readonly maxC2HDataBytes: number;
  readonly digests: { readonly hdgst: boolean; readonly ddgst: boolean };
  readonly acceptHpda: boolean;
  readonly cpda: number;
  readonly maxH2CData: number;
  readonly inCapsuleDataSize: number;
  readonly kato: Required<DcSimKatoOptions>;
  readonly aen: boolean;
  readonly aerl: number;
  readonly lpaExtendedData: boolean;
  readonly logPages: Required<DcSimLogPageSupport>;
  readonly portid: number;
  readonly isPortLocal: (entry: DiscoveryLogEntry) => boolean;
  readonly entries: readonly DiscoveryLogEntry[];
  readonly genctr: bigint;
  readonly firstCntlid: number;
  readonly mqes: number;
  readonly version: number;
  readonly checkCidConflict: boolean;
  readonly identify: Partial<IdentifyController>;
  readonly faults: DcSimFaults;
}

function bad(message: string): never {
  throw new StasError('DCSIM_BAD_OPTION', `DC simulator: ${message}`);
}

function intIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max)
    bad(`${name} ${value} is not an integer in ${min}..${max}`);
  return value;
}

function checkTrigger(name: string, t: DcSimFaultTrigger | undefined): void {
  if (t === undefined) return;
  if (t.skip !== undefined) intIn(`faults.${name}.skip`, t.skip, 0, Number.MAX_SAFE_INTEGER);
  if (t.times !== undefined && t.times !== Infinity)
    intIn(`faults.${name}.times`, t.times, 0, Number.MAX_SAFE_INTEGER);
}

/** Check a fault plan (also used by DcSimulator.setFaults). */
export function checkFaults(faults: DcSimFaults): DcSimFaults {
  checkTrigger('disconnect', faults.disconnect);
  checkTrigger('stall', faults.stall);
  checkTrigger('malformed', faults.malformed);
  checkTrigger('dataLength', faults.dataLength);
  checkTrigger('failCommand', faults.failCommand);
  if (faults.disconnect?.afterBytes !== undefined) {
    intIn('faults.disconnect.afterBytes', faults.disconnect.afterBytes, 0, 0xffffffff);
  }
  if (faults.dataLength !== undefined)
    intIn('faults.dataLength.delta', faults.dataLength.delta, -0xffffff, 0xffffff);
  if (faults.genctrRace !== undefined)
    intIn('faults.genctrRace.times', faults.genctrRace.times, 0, 1_000_000);
  if (faults.aenFlood !== undefined) intIn('faults.aenFlood.count', faults.aenFlood.count, 0, 1_000_000);
  if (faults.refuseConnect !== undefined) {
    intIn('faults.refuseConnect.status', faults.refuseConnect.status, 1, 0x7fff);
    if (faults.refuseConnect.times !== undefined && faults.refuseConnect.times !== Infinity) {
      intIn('faults.refuseConnect.times', faults.refuseConnect.times, 0, Number.MAX_SAFE_INTEGER);
    }
  }
  if (faults.failCommand !== undefined)
    intIn('faults.failCommand.status', faults.failCommand.status, 1, 0x7fff);
  if (faults.responseDelayMs !== undefined)
    intIn('faults.responseDelayMs', faults.responseDelayMs, 0, 600_000);
  return faults;
}

/** Apply defaults and check ranges; throws StasError DCSIM_BAD_OPTION. */
export function resolveOptions(options: DcSimOptions = {}): ResolvedDcSimOptions {
  const portid = intIn('portid', options.portid ?? 1, 0, 0xffff);
  const pleo = options.logPages?.pleo ?? false;
  const extdlpe = options.logPages?.extdlpe ?? false;
  const allsube = options.logPages?.allsube ?? false;
  const genctr = BigInt(options.genctr ?? 1n);
  if (genctr < 0n || genctr > 0xffff_ffff_ffff_ffffn) bad(`genctr ${genctr} does not fit 64 bits`);
  const subnqn = options.subnqn ?? DISCOVERY_NQN;
  if (subnqn === '' || Buffer.byteLength(subnqn) > 223)
    bad(`subnqn "${subnqn}" is empty or longer than 223 bytes`);
  return {
    host: options.host ?? '127.0.0.1',
    port: intIn('port', options.port ?? 0, 0, 65535),
    subnqn,
    acceptWellKnownNqn: options.acceptWellKnownNqn ?? true,
    allowedHosts: options.allowedHosts,
    dctype: options.dctype ?? 'none',
    cntrltype: intIn('cntrltype', options.cntrltype ?? 2, 0, 255),
    mdts: intIn('mdts', options.mdts ?? 0, 0, 20),
    maxC2HDataBytes: intIn('maxC2HDataBytes', options.maxC2HDataBytes ?? 0, 0, 0xffffffff),
    digests: { hdgst: options.digests?.hdgst ?? true, ddgst: options.digests?.ddgst ?? true },
    acceptHpda: options.acceptHpda ?? false,
    cpda: intIn('cpda', options.cpda ?? 0, 0, 31),
    maxH2CData: intIn('maxH2CData', options.maxH2CData ?? 0x400000, 4, 0x1000000),
    inCapsuleDataSize: intIn('inCapsuleDataSize', options.inCapsuleDataSize ?? 8192, 0, 0x100000),
    kato: {
      zeroKatoMs: intIn('kato.zeroKatoMs', options.kato?.zeroKatoMs ?? 120_000, 0, 0xffffffff),
      trafficBased: options.kato?.trafficBased ?? true,
      roundUpToSeconds: options.kato?.roundUpToSeconds ?? false,
    },
    aen: options.aen ?? true,
    aerl: intIn('aerl', options.aerl ?? 3, 0, 255),
    lpaExtendedData: options.lpaExtendedData ?? true,
    logPages: {
      supportedLogPages: options.logPages?.supportedLogPages ?? (pleo || extdlpe || allsube),
      pleo,
      extdlpe,
      allsube,
    },
    portid,
    isPortLocal: options.isPortLocal ?? ((entry) => entry.portid === portid),
    entries: [...(options.entries ?? [])],
    genctr,
    firstCntlid: intIn('firstCntlid', options.firstCntlid ?? 1, 1, 0xffef),
    mqes: intIn('mqes', options.mqes ?? 127, 1, 0xffff),
    version: intIn('version', options.version ?? 0x00010300, 0, 0xffffffff),
    checkCidConflict: options.checkCidConflict ?? true,
    identify: options.identify ?? {},
    faults: checkFaults(options.faults ?? {}),
  };
}
