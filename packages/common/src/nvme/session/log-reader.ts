/**
 * The consistent Discovery Log Page read (LID 0x70) with the fewest round trips.
 *
 * No I/O of its own: it drives an injected `fetch(offset, length, rae)` (one Get Log Page each, with the
 * caller's LSP applied by the fetcher to every read, §10/F28) and counts round trips. Reads that are
 * started together travel pipelined on the admin queue.
 *
 * Algorithm (wire doc §5.4, reduced):
 * 1. Header: 20 bytes at offset 0 (RAE 0). NUMREC 0 → done in one round trip.
 * 2. If the whole log (1024 + NUMREC·1024 bytes) fits one transfer (MDTS, or the host cap when MDTS is
 *    0), ONE Get Log Page from offset 0. One command returns one image, so the header it carries is the
 *    GENCTR re-check: if that header's NUMREC entries are all in the image it is consistent (even when
 *    GENCTR moved since step 1), otherwise the log grew and step 2 repeats with the new size. Two round
 *    trips, and the offsets extension (LPA b2) is not needed.
 * 3. Otherwise (and only with LPA b2) the entries are read from offset 1024 in chunks of at most one
 *    transfer, all started at once (the queue's window bounds what is on the wire; RAE 1 on every chunk
 *    but the last), then the 20-byte header again. Same GENCTR → done (different NUMREC with the same
 *    GENCTR → NVME_DLP_INCONSISTENT, libnvme's EBADSLT); different GENCTR → back to 2/3 with the new
 *    header. Round trips: 1 + ⌈chunks/window⌉ + 1 per pass.
 * A read never asks for bytes past 1024 + NUMREC·1024 of the header it just saw: unpatched nvmet
 * copies from beyond its buffer for such reads and nofuse truncates them.
 *
 * Failure: StasError NVME_DLP_UNSTABLE (GENCTR/NUMREC still moving after `maxAttempts` passes; EAGAIN in
 * libnvme), NVME_DLP_INCONSISTENT, NVME_DLP_TOO_LARGE (NUMREC above `maxEntries`, named with the
 * setting that chose it when `maxEntriesSetting` is given, before any entry is read; or a log larger than
 * one transfer from a controller without LPA b2), NVME_DLP_SHORT_TRANSFER (the controller sent fewer
 * bytes than the entries need), WireError from decoding, or whatever `fetch` rejects with.
 *
 * Used by: discovery-session.ts
 * Tests:   log-reader.test.ts (fake fetch: changes between reads, chunking, round-trip counts)
 */
import { StasError } from '../../errors.js';
import {
  DLP_ENTRY_SIZE,
  DLP_HEADER_READ_LENGTH,
  DLP_HEADER_SIZE,
  decodeDiscoveryLogEntries,
  decodeDiscoveryLogHeader,
  type DiscoveryLogEntry,
  type DiscoveryLogHeader,
} from '../wire/discovery-log.js';

export interface FetchedLog {
  /** Exactly `length` bytes (zero-filled past what arrived). */
  readonly data: Uint8Array;
  /** Bytes the controller sent. */
  readonly received: number;
}

/** One Get Log Page LID 0x70 at `offset` for `length` bytes. */
export type LogFetch = (offset: number, length: number, rae: boolean) => Promise<FetchedLog>;

export interface LogReadOptions {
  /** Largest single transfer, bytes (from MDTS; the host cap when MDTS is 0). At least 4096. */
  readonly maxTransfer: number;
  /** LPA b2: Get Log Page offsets are honoured. */
  readonly offsets: boolean;
  /** Read passes before giving up on a moving GENCTR; default 6 (libnvme's default for nvme-stas). */
  readonly maxAttempts?: number;
  /** Commands the admin queue keeps on the wire; default 30. */
  readonly window?: number;
  /** Largest NUMREC accepted; default DEFAULT_MAX_LOG_ENTRIES. */
  readonly maxEntries?: number;
  /** Where `maxEntries` was set (e.g. `[Limits] max-log-page-entries`), named when a log exceeds it. */
  readonly maxEntriesSetting?: string;
  /** Who we read from, for messages. */
  readonly peer: string;
}

export interface LogReadResult {
  readonly header: DiscoveryLogHeader;
  readonly genctr: bigint;
  readonly entries: readonly DiscoveryLogEntry[];
  /** Round trips this read took (pipelined reads count once per window). */
  readonly roundTrips: number;
  /** Get Log Page commands issued. */
  readonly commands: number;
  /** Passes (1 unless the log changed during the read). */
  readonly attempts: number;
}

function dlpError(code: string, peer: string, message: string): StasError {
  return new StasError(code, `${peer}: discovery log: ${message}`);
}

/** Default of LogReadOptions.maxEntries: 65,536 entries (64 MiB of log page). */
export const DEFAULT_MAX_LOG_ENTRIES = 65_536;

export async function readDiscoveryLogPages(fetch: LogFetch, opts: LogReadOptions): Promise<LogReadResult> {
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 6);
  const window = Math.max(1, opts.window ?? 30);
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_LOG_ENTRIES;
  const setBy = opts.maxEntriesSetting === undefined ? '' : ` (set by ${opts.maxEntriesSetting})`;
  const maxTransfer = Math.max(4096, Math.floor(opts.maxTransfer / 4) * 4);
  const peer = opts.peer;
  let roundTrips = 0;
  let commands = 0;

  const headerRead = async (): Promise<DiscoveryLogHeader> => {
    const r = await fetch(0, DLP_HEADER_READ_LENGTH, false);
    roundTrips++;
    commands++;
    if (r.received < 18)
      throw dlpError('NVME_DLP_SHORT_TRANSFER', peer, `header read returned ${r.received} bytes`);
    return decodeDiscoveryLogHeader(r.data);
  };
  const count = (header: DiscoveryLogHeader): number => {
    if (header.numrec > BigInt(maxEntries)) {
      throw dlpError(
        'NVME_DLP_TOO_LARGE',
        peer,
        `NUMREC ${header.numrec} exceeds the limit of ${maxEntries} entries${setBy}`,
      );
    }
    return Number(header.numrec);
  };
  const done = (
    header: DiscoveryLogHeader,
    entries: DiscoveryLogEntry[],
    attempts: number,
  ): LogReadResult => ({
    header,
    genctr: header.genctr,
    entries,
    roundTrips,
    commands,
    attempts,
  });

  let header = await headerRead();
  for (let attempt = 1; ; attempt++) {
    const n = count(header);
    if (n === 0) return done(header, [], attempt);
    const total = DLP_HEADER_SIZE + n * DLP_ENTRY_SIZE;

    if (total <= maxTransfer) {
      const r = await fetch(0, total, false);
      roundTrips++;
      commands++;
      if (r.received < 18)
        throw dlpError('NVME_DLP_SHORT_TRANSFER', peer, `read of ${total} bytes returned ${r.received}`);
      const image = decodeDiscoveryLogHeader(r.data);
      const m = count(image);
      if (m <= n) {
        const need = m === 0 ? 0 : DLP_HEADER_SIZE + m * DLP_ENTRY_SIZE;
        if (r.received < need) {
          throw dlpError(
            'NVME_DLP_SHORT_TRANSFER',
            peer,
            `${m} entries need ${need} bytes, the controller sent ${r.received}`,
          );
        }
        return done(
          image,
          decodeDiscoveryLogEntries(
            r.data.subarray(DLP_HEADER_SIZE, DLP_HEADER_SIZE + m * DLP_ENTRY_SIZE),
            m,
          ),
          attempt,
        );
      }
      header = image;
    } else {
      if (!opts.offsets) {
        throw dlpError(
          'NVME_DLP_TOO_LARGE',
          peer,
          `${n} entries (${total} bytes) exceed one transfer (${maxTransfer} bytes) and the controller does not support log page offsets (LPA b2)`,
        );
      }
      const chunk = Math.max(DLP_ENTRY_SIZE, Math.floor(maxTransfer / DLP_ENTRY_SIZE) * DLP_ENTRY_SIZE);
      const reads: Promise<FetchedLog>[] = [];
      const lengths: number[] = [];
      for (let off = DLP_HEADER_SIZE; off < total; off += chunk) {
        const len = Math.min(chunk, total - off);
        lengths.push(len);
        reads.push(fetch(off, len, off + len < total));
      }
      commands += reads.length;
      const parts = await Promise.all(reads);
      roundTrips += Math.ceil(reads.length / window);
      const entries = new Uint8Array(n * DLP_ENTRY_SIZE);
      parts.forEach((p, i) => {
        const len = lengths[i] as number;
        if (p.received < len) {
          throw dlpError(
            'NVME_DLP_SHORT_TRANSFER',
            peer,
            `entry chunk ${i} returned ${p.received} of ${len} bytes`,
          );
        }
        entries.set(p.data.subarray(0, len), i * chunk);
      });
      const again = await headerRead();
      if (again.genctr === header.genctr) {
        if (again.numrec !== header.numrec) {
          throw dlpError(
            'NVME_DLP_INCONSISTENT',
            peer,
            `NUMREC changed from ${header.numrec} to ${again.numrec} while GENCTR stayed ${header.genctr}`,
          );
        }
        return done(header, decodeDiscoveryLogEntries(entries, n), attempt);
      }
      header = again;
    }
    if (attempt >= maxAttempts) {
      throw dlpError(
        'NVME_DLP_UNSTABLE',
        peer,
        `the log kept changing (GENCTR now ${header.genctr}) over ${attempt} read passes`,
      );
    }
  }
}
