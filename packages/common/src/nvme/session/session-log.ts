/**
 * The discovery log read of a session, on its admin queue: the PLEO capability probe (Supported Log
 * Pages, LID 0x00) and the Get Log Page LID 0x70 fetches that log-reader.ts drives.
 *
 * No I/O of its own: commands go through the AdminQueue. probePleo() resolves false when the DC
 * refuses LID 0x00 with an NVMe status (nvmet does: that counts as "no options", as in nvme-stas) and
 * rejects only for transport-level failures. readSessionLog() rejects with the errors of
 * log-reader.ts and of the queue.
 *
 * Used by: discovery-session.ts
 * Tests:   discovery-session.test.ts (PLEO, chunking, LPA), log-reader.test.ts
 */
import { StasError } from '../../errors.js';
import {
  DiscoveryLspSupport,
  LogPageId,
  SUPPORTED_LOG_PAGES_SIZE,
  decodeSupportedLogPages,
  getLogPageCommand,
} from '../wire/admin-cmd.js';
import type { DiscoveryLogEntry, DiscoveryLogHeader } from '../wire/discovery-log.js';
import type { AdminQueue } from './admin-queue.js';
import { readDiscoveryLogPages } from './log-reader.js';

export interface DiscoveryLogRead {
  readonly genctr: bigint;
  readonly header: DiscoveryLogHeader;
  readonly entries: readonly DiscoveryLogEntry[];
  /** Round trips of this read. */
  readonly roundTrips: number;
  /** LSP used for every Get Log Page of this read. */
  readonly lsp: number;
}

/** Read LID 0x00 once: does LID 0x70 take PLEO (PLEOS)? */
export async function probePleo(queue: AdminQueue, signal: AbortSignal): Promise<boolean> {
  try {
    const r = await queue.submit({
      name: 'Get Log Page 0x00',
      build: (cid) =>
        getLogPageCommand({
          cid,
          lid: LogPageId.SupportedLogPages,
          rae: true,
          length: SUPPORTED_LOG_PAGES_SIZE,
        }),
      dataLength: SUPPORTED_LOG_PAGES_SIZE,
      signal,
    });
    const page = decodeSupportedLogPages(r.data).find((p) => p.lid === LogPageId.Discovery);
    return page !== undefined && (page.lidsp & DiscoveryLspSupport.PLEOS) !== 0;
  } catch (err) {
    if (err instanceof StasError && err.code === 'NVME_STATUS') return false;
    throw err;
  }
}

export interface SessionLogParams {
  readonly lsp: number;
  /** Largest single transfer (MDTS or the host cap). */
  readonly maxTransfer: number;
  /** Identify LPA b2. */
  readonly offsets: boolean;
  readonly peer: string;
  readonly maxAttempts?: number;
  /** Largest NUMREC accepted, and where it was set (log-reader.ts). */
  readonly maxEntries?: number;
  readonly maxEntriesSetting?: string;
  readonly signal: AbortSignal;
}

export async function readSessionLog(queue: AdminQueue, p: SessionLogParams): Promise<DiscoveryLogRead> {
  const result = await readDiscoveryLogPages(
    async (offset, length, rae) => {
      const r = await queue.submit({
        name: 'Get Log Page 0x70',
        build: (cid) => getLogPageCommand({ cid, lid: LogPageId.Discovery, lsp: p.lsp, rae, offset, length }),
        dataLength: length,
        signal: p.signal,
      });
      return { data: r.data, received: r.received };
    },
    {
      maxTransfer: p.maxTransfer,
      offsets: p.offsets,
      window: queue.maxOutstanding,
      peer: p.peer,
      ...(p.maxAttempts !== undefined ? { maxAttempts: p.maxAttempts } : {}),
      ...(p.maxEntries !== undefined ? { maxEntries: p.maxEntries } : {}),
      ...(p.maxEntriesSetting !== undefined ? { maxEntriesSetting: p.maxEntriesSetting } : {}),
    },
  );
  return {
    genctr: result.genctr,
    header: result.header,
    entries: result.entries,
    roundTrips: result.roundTrips,
    lsp: p.lsp,
  };
}
