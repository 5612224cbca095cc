/**
 * One-shot discovery: open a session with a discovery controller, read its log, close. What
 * `stafctl discover` (and a polling stafd) uses for a DC it does not keep a connection to.
 *
 * I/O through discovery-session.ts only. Defaults differ from a persistent session: KATO 0 (no
 * Keep Alive for a read that takes milliseconds; nvme-cli's non-persistent discover does the same) and
 * no AEN setup (nobody would listen). The session is always closed (orderly; destroyed at once when the
 * signal aborted), and closed before the promise settles.
 *
 * Failure: the errors of openDiscoverySession() and readDiscoveryLog() (ConnectError, TimeoutError,
 * NvmeStatusError, ClosedError, StasError NVME_*), or the signal's reason.
 *
 * Used by: stafd/src/cli/discover-command.ts
 * Tests:   discover.test.ts (simulator)
 */
import { StasError } from '../../errors.js';
import type { DiscoveryLogEntry } from '../wire/discovery-log.js';
import { openDiscoverySession, type DiscoverySessionOptions } from './discovery-session.js';

export interface DiscoverOptions extends DiscoverySessionOptions {
  /** Ask for port-local entries only (when the DC supports PLEO). */
  readonly pleo?: boolean;
}

/** The Identify Controller fields a discovery caller shows or decides on. */
export interface DiscoveryControllerInfo {
  readonly cntlid: number;
  /** 0 not reported, 2 discovery. */
  readonly cntrltype: number;
  /** 0 none, 1 DDC, 2 CDC. */
  readonly dctype: number;
  /** The DC's NQN (a unique discovery NQN, or the well-known one). */
  readonly subnqn: string;
  readonly mn: string;
  readonly sn: string;
  readonly fr: string;
  readonly ver: number;
  readonly mdts: number;
  readonly oaes: number;
  readonly lpa: number;
  readonly kas: number;
  readonly maxcmd: number;
}

export interface DiscoverResult {
  /** "192.0.2.1:8009". */
  readonly peer: string;
  readonly identify: DiscoveryControllerInfo;
  readonly genctr: bigint;
  readonly entries: readonly DiscoveryLogEntry[];
  /** Round trips of the whole exchange: ICReq/ICResp through shutdown. */
  readonly roundTrips: number;
  /** Round trips of the log read alone. */
  readonly logRoundTrips: number;
}

export async function discover(
  opts: DiscoverOptions,
  options: { signal?: AbortSignal } = {},
): Promise<DiscoverResult> {
  const signal = options.signal;
  const session = await openDiscoverySession(
    { katoMs: 0, aen: false, ...opts },
    signal === undefined ? {} : { signal },
  );
  try {
    const log = await session.readDiscoveryLog({
      ...(signal === undefined ? {} : { signal }),
      ...(opts.pleo === true ? { pleo: true } : {}),
    });
    const id = session.identify;
    await session.close();
    return {
      peer: session.peer,
      identify: {
        cntlid: id.cntlid,
        cntrltype: id.cntrltype,
        dctype: id.dctype,
        subnqn: id.subnqn,
        mn: id.mn,
        sn: id.sn,
        fr: id.fr,
        ver: id.ver,
        mdts: id.mdts,
        oaes: id.oaes,
        lpa: id.lpa,
        kas: id.kas,
        maxcmd: id.maxcmd,
      },
      genctr: log.genctr,
      entries: log.entries,
      roundTrips: session.stats.roundTrips,
      logRoundTrips: log.roundTrips,
    };
  } finally {
    if (signal?.aborted === true)
      session.destroy(signal.reason instanceof StasError ? signal.reason : undefined);
    await session.close();
  }
}
