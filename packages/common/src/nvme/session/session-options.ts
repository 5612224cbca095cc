/**
 * Options of a discovery session, their defaults, and the checks run before any connection is made.
 *
 * Pure. checkSessionOptions() throws StasError NVME_BAD_OPTION with a sentence naming the bad value
 * (host NQN, host ID, subsystem NQN length, KATO); the address, port and interface are checked by
 * endpoint.ts.
 *
 * Decisions: KATO is 0 (none) or at least 1000 ms, because stas takes it in whole seconds (like the
 * kernel's keep_alive_tmo) and keep-alive.ts then never ticks faster than 500 ms; default 30 s, what
 * nvme-cli and nvme-stas use for persistent discovery connections. Admin commands get 30 s (Linux
 * uses 60 s; a DC answers in milliseconds, and KATO catches a dead association first anyway).
 *
 * Used by: discovery-session.ts, discover.ts
 * Tests:   discovery-session.test.ts ("refuses bad options before connecting")
 */
import { StasError } from '../../errors.js';
import { hostIdProblem, nqnProblem } from '../host-ids.js';
import type { Clock } from './clock.js';
import type { EndpointInput, InterfaceTable } from './endpoint.js';

export interface DiscoverySessionOptions extends EndpointInput {
  readonly hostnqn: string;
  /** Host ID, UUID text. */
  readonly hostid: string;
  /** Default: the well-known discovery NQN. */
  readonly subsysnqn?: string;
  /** Keep Alive Timeout sent in Connect, ms: 0 (none) or ≥ 1000. Default 30000. */
  readonly katoMs?: number;
  readonly hdgst?: boolean;
  readonly ddgst?: boolean;
  /** Enable discovery log change AENs (Set Features 0x0B + AER). Default true. */
  readonly aen?: boolean;
  /** TCP handshake deadline; default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** ICResp deadline; default 10000 ms. */
  readonly icrespTimeoutMs?: number;
  /** Deadline of each admin command (Connect included); default 30000 ms. */
  readonly adminTimeoutMs?: number;
  /** Budget of the orderly shutdown in close(); default 2000 ms. */
  readonly shutdownTimeoutMs?: number;
  /** Largest single transfer this host asks for when MDTS sets no limit; default 1 MiB. */
  readonly maxTransferBytes?: number;
  /** Log read passes before giving up on a changing log; default 6. */
  readonly maxAttempts?: number;
  readonly clock?: Clock;
  /** Interface table for host-iface; default os.networkInterfaces(). */
  readonly interfaces?: InterfaceTable;
}

export const SESSION_DEFAULTS = {
  katoMs: 30_000,
  adminTimeoutMs: 30_000,
  shutdownTimeoutMs: 2000,
  maxTransferBytes: 1024 * 1024,
} as const;

function bad(message: string): never {
  throw new StasError('NVME_BAD_OPTION', message);
}

export function checkSessionOptions(opts: DiscoverySessionOptions): void {
  const nqn = nqnProblem(opts.hostnqn);
  if (nqn !== null) bad(`host NQN: ${nqn}`);
  const id = hostIdProblem(opts.hostid);
  if (id !== null) bad(`host ID: ${id}`);
  if (opts.subsysnqn !== undefined && Buffer.byteLength(opts.subsysnqn) > 223) {
    bad('subsystem NQN: longer than 223 bytes');
  }
  const kato = opts.katoMs ?? SESSION_DEFAULTS.katoMs;
  if (!Number.isInteger(kato) || kato < 0 || kato > 0xffff_ffff || (kato > 0 && kato < 1000)) {
    bad(`KATO ${kato} ms: must be 0 or at least 1000 ms`);
  }
}

/** The 16 bytes of a host ID in UUID text form (printed byte order). */
export function hostIdBytes(hostid: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hostid.replaceAll('-', ''), 'hex'));
}
