/**
 * The simulator's fault plan at run time: which fault fires on which command. Deterministic by
 * construction: every trigger counts matching commands across the whole simulator in arrival order
 * (skip the first `skip`, fire on the next `times`), and the one-shot faults (genctr race, AEN flood,
 * refused Connect) are plain countdowns. No randomness, no clocks.
 *
 * Pure state machine: no sockets, timers or logging; never throws (the plan was checked by
 * checkFaults() when it was set).
 *
 * Used by: dc-simulator.ts (owns one), dc-sim-connection.ts (asks it)
 * Tests:   dc-sim-fault-plan.test.ts
 */
import { LogPageId } from '../../nvme/wire/admin-cmd.js';
import type {
  DcSimCommandMatch,
  DcSimCommandName,
  DcSimFaultTrigger,
  DcSimFaults,
  MalformedKind,
} from './dc-sim-options.js';

/** Faults aimed at commands by a trigger. */
export type TriggeredFault = 'disconnect' | 'stall' | 'malformed' | 'dataLength' | 'failCommand';

/** The command a trigger is tested against. */
export interface CommandRef {
  readonly name: DcSimCommandName;
  /** LID of a Get Log Page. */
  readonly lid?: number;
}

const DISCOVERY_LOG_READ: DcSimCommandMatch = { command: 'get-log-page', lid: LogPageId.Discovery };

const DEFAULT_MATCH: Readonly<Record<TriggeredFault, DcSimCommandMatch>> = {
  disconnect: DISCOVERY_LOG_READ,
  stall: {},
  malformed: {},
  dataLength: DISCOVERY_LOG_READ,
  failCommand: {},
};

function matches(match: DcSimCommandMatch, cmd: CommandRef): boolean {
  if (match.command !== undefined && match.command !== cmd.name) return false;
  if (match.lid !== undefined && match.lid !== cmd.lid) return false;
  return true;
}

export class FaultPlan {
  readonly faults: DcSimFaults;
  readonly #seen = new Map<TriggeredFault, number>();
  readonly #fired = new Map<TriggeredFault, number>();
  #genctrRaces: number;
  #aenFloods: number;
  #refusals: number;

  constructor(faults: DcSimFaults) {
    this.faults = faults;
    this.#genctrRaces = faults.genctrRace?.times ?? 0;
    this.#aenFloods = faults.aenFlood?.count ?? 0;
    this.#refusals = faults.refuseConnect === undefined ? 0 : (faults.refuseConnect.times ?? Infinity);
  }

  /**
   * Count `cmd` against the trigger of `fault` and say whether the fault fires on it. A fault that is
   * not configured never fires and counts nothing.
   */
  hits(fault: TriggeredFault, cmd: CommandRef): boolean {
    const trigger: DcSimFaultTrigger | undefined = this.faults[fault];
    if (trigger === undefined) return false;
    if (!matches(trigger.on ?? DEFAULT_MATCH[fault], cmd)) return false;
    const seen = (this.#seen.get(fault) ?? 0) + 1;
    this.#seen.set(fault, seen);
    if (seen <= (trigger.skip ?? 0)) return false;
    const fired = this.#fired.get(fault) ?? 0;
    if (fired >= (trigger.times ?? 1)) return false;
    this.#fired.set(fault, fired + 1);
    return true;
  }

  /** How many times a triggered fault has fired so far. */
  fired(fault: TriggeredFault): number {
    return this.#fired.get(fault) ?? 0;
  }

  get malformedKind(): MalformedKind | undefined {
    return this.faults.malformed?.kind;
  }

  get disconnectAfterBytes(): number {
    return this.faults.disconnect?.afterBytes ?? 0;
  }

  get dataLengthDelta(): number {
    return this.faults.dataLength?.delta ?? 0;
  }

  get failStatus(): number {
    return this.faults.failCommand?.status ?? 0;
  }

  get responseDelayMs(): number {
    return this.faults.responseDelayMs ?? 0;
  }

  get icrespDigests(): { readonly hdgst: boolean; readonly ddgst: boolean } | undefined {
    return this.faults.icrespDigests;
  }

  /** Use up one GENCTR race bump; false when none is left. */
  takeGenctrRace(): boolean {
    if (this.#genctrRaces <= 0) return false;
    this.#genctrRaces--;
    return true;
  }

  /** Use up one flooded AEN; false when none is left. */
  takeAenFlood(): boolean {
    if (this.#aenFloods <= 0) return false;
    this.#aenFloods--;
    return true;
  }

  /** Add `count` AENs to the flood (DcSimulator.floodAens). */
  addAenFlood(count: number): void {
    this.#aenFloods += count;
  }

  /** The status to refuse this Connect with, or undefined to let it through. */
  takeRefusal(): { readonly status: number; readonly dw0: number } | undefined {
    const refuse = this.faults.refuseConnect;
    if (refuse === undefined || this.#refusals <= 0) return undefined;
    this.#refusals--;
    return { status: refuse.status, dw0: refuse.dw0 ?? 0 };
  }
}
