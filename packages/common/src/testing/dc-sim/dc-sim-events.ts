/**
 * What the simulator tells tests: its typed events (DcSimEvents, for `sim.on()` and `sim.waitFor()`),
 * the per-connection snapshot (DcSimConnectionInfo), host registrations made with DIM, and round-trip
 * counts.
 *
 * Types only, plus one pure formatter; no I/O.
 *
 * Used by: dc-simulator.ts, dc-sim-connection.ts, tests
 * Tests:   through dc-simulator.test.ts
 */
import type { PduDigests } from '../../nvme/wire/pdu.js';
import type { Sqe } from '../../nvme/wire/sqe.js';
import type { DcSimCommandName } from './dc-sim-options.js';

/** Why a connection closed. */
export type DcSimCloseReason =
  /** The host closed or reset the TCP connection. */
  | 'host-closed'
  /** The host sent an H2CTermReq. */
  | 'host-term-req'
  /** The simulator sent a C2HTermReq for a bad PDU, then closed. */
  | 'protocol-error'
  /** No command (or Keep Alive) within KATO: the target tore the association down. */
  | 'kato-expired'
  /** The `disconnect` fault fired. */
  | 'fault-disconnect'
  /** DcSimulator.dropConnections() or close(). */
  | 'simulator-closed';

/** Round trips: one per command capsule received. */
export interface DcSimRoundTrips {
  readonly total: number;
  /** Per command name ('connect', 'get-log-page', 'keep-alive', …). */
  readonly byCommand: Readonly<Partial<Record<DcSimCommandName, number>>>;
}

/** A live (or just closed) connection as tests see it. Snapshot: later changes are not reflected. */
export interface DcSimConnectionInfo {
  /** 1, 2, … in accept order, unique per simulator. */
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly state: 'await-icreq' | 'await-connect' | 'connected' | 'closing' | 'closed';
  /** Digests enabled by the ICResp (none before). */
  readonly digests: PduDigests;
  /** Fabrics Connect values; undefined before a successful Connect. */
  readonly hostnqn: string | undefined;
  /** Connect HOSTID as UUID text. */
  readonly hostid: string | undefined;
  /** The NQN the host connected to. */
  readonly subnqn: string | undefined;
  readonly cntlid: number | undefined;
  /** KATO from Connect (or Set Features), in ms as the host sent it. */
  readonly katoMs: number | undefined;
  /** CSTS.RDY. */
  readonly ready: boolean;
  /** Set Features 0x0B mask (0x80000000 = discovery log change notices enabled). */
  readonly aenEnabled: number;
  /** AERs held by the simulator. */
  readonly aerOutstanding: number;
  /** A discovery AEN is pending or was sent and the log was not read with RAE=0 since (nvmet masking). */
  readonly aenMasked: boolean;
  /** This connection registered with DIM (and did not deregister). */
  readonly registered: boolean;
  readonly stalled: boolean;
  readonly roundTrips: DcSimRoundTrips;
}

/** A host registration recorded from a DIM command (TAS register or update). */
export interface DcSimRegistration {
  /** NQN of the Discovery Information Entry (the host NQN). */
  readonly hostnqn: string;
  /** HOSTID attribute as UUID text, if the entry had one. */
  readonly hostid: string | undefined;
  /** SYMNAME attribute, if any. */
  readonly symname: string | undefined;
  /** TRADDR of the entry, or the connection's source address when the entry left it empty. */
  readonly traddr: string;
  readonly trsvcid: string;
  readonly adrfam: number;
  readonly trtype: number;
  /** DIM header: ETYPE, ENAME (host name), EVER (OS version). */
  readonly etype: number;
  readonly entityName: string;
  readonly entityVersion: string;
  readonly connectionId: number;
}

export interface DcSimCommandEvent {
  readonly connectionId: number;
  readonly name: DcSimCommandName;
  readonly cid: number;
  readonly sqe: Sqe;
}

export interface DcSimResponseEvent {
  readonly connectionId: number;
  readonly name: DcSimCommandName;
  readonly cid: number;
  /** 16-bit status value, `(DNR<<14)|(M<<13)|(CRD<<11)|(SCT<<8)|SC`. */
  readonly status: number;
  readonly dw0: number;
  /** Bytes of C2HData sent for the command. */
  readonly dataBytes: number;
}

/** Event name → listener arguments. */
export interface DcSimEvents {
  /** TCP connection accepted. */
  connection: [info: DcSimConnectionInfo];
  /** Fabrics Connect succeeded. */
  connected: [info: DcSimConnectionInfo];
  /** A command capsule arrived (before it is executed; also while stalled). */
  command: [event: DcSimCommandEvent];
  /** A completion was written to the socket (after any response delay). */
  response: [event: DcSimResponseEvent];
  /** An AER was completed with an event. */
  aen: [event: { readonly connectionId: number; readonly cid: number; readonly dw0: number }];
  registered: [registration: DcSimRegistration];
  deregistered: [
    event: { readonly connectionId: number; readonly hostnqn: string; readonly hostid: string | undefined },
  ];
  /** GENCTR changed (setEntries/addEntry/removeEntry/bumpGenctr or the genctr-race fault). */
  'log-changed': [event: { readonly genctr: bigint; readonly notify: boolean }];
  /** A connection closed; `info.state` is 'closed'. */
  closed: [event: { readonly info: DcSimConnectionInfo; readonly reason: DcSimCloseReason }];
}

/** 16 bytes as UUID text (8-4-4-4-12 lower-case hex). */
export function uuidText(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
