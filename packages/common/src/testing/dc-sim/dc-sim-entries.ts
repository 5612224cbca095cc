/**
 * Builders for the discovery log entries a test puts in a simulator: NVM subsystems (SUBTYPE 2),
 * referrals to another discovery controller (SUBTYPE 1, e.g. a second simulator) and the DC's own
 * current-discovery-subsystem entry (SUBTYPE 3). Unset fields get the values nvmet reports (TCP,
 * CNTLID 0xFFFF, ASQSZ 32, PORTID 1, TREQ 0, EFLAGS 0, SECTYPE none); ADRFAM follows the address.
 *
 * Pure; throws nothing (the wire encoder checks ranges when the entry is served).
 *
 * Used by: dc-simulator.ts, dc-sim-main.ts, tests that build logs
 * Tests:   dc-sim-entries.test.ts
 */
import { Adrfam, Subtype, Trtype, type DiscoveryLogEntry } from '../../nvme/wire/discovery-log.js';
import { DISCOVERY_NQN } from '../../nvme/wire/fabrics-cmd.js';

/** ADRFAM for an address: IPv6 when it contains ':', else IPv4. */
export function adrfamOf(traddr: string): number {
  return traddr.includes(':') ? Adrfam.Ipv6 : Adrfam.Ipv4;
}

/** Where a discovery controller listens. DcSimulator satisfies it. */
export interface DcAddress {
  readonly host: string;
  readonly port: number;
  /** The DC's NQN; default the well-known discovery NQN. */
  readonly subnqn?: string;
}

type EntryFields = Partial<DiscoveryLogEntry> & Pick<DiscoveryLogEntry, 'traddr'>;

function entry(
  fields: EntryFields & Pick<DiscoveryLogEntry, 'subtype' | 'subnqn' | 'trsvcid'>,
): DiscoveryLogEntry {
  return {
    trtype: Trtype.Tcp,
    adrfam: adrfamOf(fields.traddr),
    treq: 0,
    portid: 1,
    cntlid: 0xffff,
    asqsz: 32,
    eflags: 0,
    tsas: { kind: 'tcp', sectype: 0 },
    ...fields,
  };
}

/** An NVM subsystem entry (SUBTYPE 2); TRSVCID defaults to 4420. */
export function nvmeEntry(fields: EntryFields & Pick<DiscoveryLogEntry, 'subnqn'>): DiscoveryLogEntry {
  return entry({ trsvcid: '4420', ...fields, subtype: Subtype.Nvme });
}

/** A referral (SUBTYPE 1) to the discovery controller at `target` (another simulator, say). */
export function referralEntry(target: DcAddress, fields: Partial<DiscoveryLogEntry> = {}): DiscoveryLogEntry {
  return entry({
    traddr: target.host,
    trsvcid: String(target.port),
    subnqn: target.subnqn ?? DISCOVERY_NQN,
    ...fields,
    subtype: Subtype.Referral,
  });
}

/** The current discovery subsystem entry (SUBTYPE 3) describing the DC at `dc` itself. */
export function currentDiscoveryEntry(
  dc: DcAddress,
  fields: Partial<DiscoveryLogEntry> = {},
): DiscoveryLogEntry {
  return entry({
    traddr: dc.host,
    trsvcid: String(dc.port),
    subnqn: dc.subnqn ?? DISCOVERY_NQN,
    ...fields,
    subtype: Subtype.CurrentDiscovery,
  });
}

/** Same transport address and NQN (what removeEntry() matches on). */
export function sameEntry(a: DiscoveryLogEntry, b: DiscoveryLogEntry): boolean {
  return (
    a.subtype === b.subtype &&
    a.trtype === b.trtype &&
    a.traddr === b.traddr &&
    a.trsvcid === b.trsvcid &&
    a.subnqn === b.subnqn &&
    a.portid === b.portid
  );
}
