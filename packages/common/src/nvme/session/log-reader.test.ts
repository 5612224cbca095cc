import { describe, expect, it } from 'vitest';
import { StasError } from '../../errors.js';
import { encodeDiscoveryLog, type DiscoveryLogEntry } from '../wire/discovery-log.js';
import { readDiscoveryLogPages, type FetchedLog } from './log-reader.js';

function entry(i: number): DiscoveryLogEntry {
  return {
    trtype: 3,
    adrfam: 1,
    subtype: 2,
    treq: 0,
    portid: 1,
    cntlid: 0xffff,
    asqsz: 32,
    eflags: 0,
    trsvcid: '4420',
    subnqn: `nqn.2014-08.org.example:sub${i}`,
    traddr: `192.0.2.${i % 250}`,
    tsas: { kind: 'tcp', sectype: 0 },
  };
}

interface Call {
  offset: number;
  length: number;
  rae: boolean;
}

/** A log the test can change between reads (hook runs before each read is served). */
class FakeLog {
  genctr = 1n;
  entries: DiscoveryLogEntry[] = [];
  calls: Call[] = [];
  beforeRead: ((call: Call, index: number) => void) | undefined;
  /** Bytes to cut from every answer (a short transfer). */
  short = 0;
  /** Reads that asked for bytes past the end of the log (zero-filled here). */
  overreads = 0;

  constructor(n: number) {
    this.entries = Array.from({ length: n }, (_, i) => entry(i));
  }

  fetch = (offset: number, length: number, rae: boolean): Promise<FetchedLog> => {
    const call = { offset, length, rae };
    this.beforeRead?.(call, this.calls.length);
    this.calls.push(call);
    const image = encodeDiscoveryLog({ genctr: this.genctr, entries: this.entries });
    if (offset + length > image.length) this.overreads++;
    const data = new Uint8Array(length);
    const received = Math.max(0, length - this.short);
    data.set(image.subarray(offset, Math.min(image.length, offset + received)));
    return Promise.resolve({ data, received });
  };
}

const OPTS = { maxTransfer: 1024 * 1024, offsets: true, peer: '192.0.2.1:8009' };

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StasError) return err.code;
    throw err;
  }
  return 'resolved';
}

describe('readDiscoveryLogPages', () => {
  it('reads an empty log with one header read', async () => {
    const log = new FakeLog(0);
    const r = await readDiscoveryLogPages(log.fetch, OPTS);
    expect(r).toMatchObject({ genctr: 1n, entries: [], roundTrips: 1, commands: 1, attempts: 1 });
    expect(log.calls).toEqual([{ offset: 0, length: 20, rae: false }]);
  });

  it.each([1, 10, 100, 1000])('reads %i entries in two round trips when they fit one transfer', async (n) => {
    const log = new FakeLog(n);
    const r = await readDiscoveryLogPages(log.fetch, OPTS);
    expect(r.entries).toHaveLength(n);
    expect(r.entries[n - 1]).toEqual(entry(n - 1));
    expect(r.roundTrips).toBe(2);
    expect(log.overreads).toBe(0);
    expect(log.calls).toEqual([
      { offset: 0, length: 20, rae: false },
      { offset: 0, length: 1024 + n * 1024, rae: false },
    ]);
  });

  it('accepts a single-command image whose GENCTR moved but whose entries are complete (log shrank)', async () => {
    const log = new FakeLog(3);
    log.beforeRead = (_call, i) => {
      if (i === 1) {
        log.genctr = 2n;
        log.entries = log.entries.slice(0, 2);
      }
    };
    const r = await readDiscoveryLogPages(log.fetch, OPTS);
    expect(r.genctr).toBe(2n);
    expect(r.entries).toHaveLength(2);
    expect(r.attempts).toBe(1);
  });

  it('re-reads with the new size when the log grew between the header and the image', async () => {
    const log = new FakeLog(2);
    log.beforeRead = (_call, i) => {
      if (i === 1) {
        log.genctr = 2n;
        log.entries.push(entry(2), entry(3));
      }
    };
    const r = await readDiscoveryLogPages(log.fetch, OPTS);
    expect(r.entries).toHaveLength(4);
    expect(r.attempts).toBe(2);
    expect(r.roundTrips).toBe(3);
    expect(log.calls.map((c) => c.length)).toEqual([20, 1024 + 2048, 1024 + 4096]);
  });

  it('chunks the entries when the log exceeds one transfer, RAE 1 on all but the last chunk, then re-checks GENCTR', async () => {
    const log = new FakeLog(10);
    const r = await readDiscoveryLogPages(log.fetch, { ...OPTS, maxTransfer: 4096 });
    expect(r.entries.map((e) => e.subnqn)).toEqual(log.entries.map((e) => e.subnqn));
    expect(log.overreads).toBe(0);
    expect(log.calls).toEqual([
      { offset: 0, length: 20, rae: false },
      { offset: 1024, length: 4096, rae: true },
      { offset: 5120, length: 4096, rae: true },
      { offset: 9216, length: 2048, rae: false },
      { offset: 0, length: 20, rae: false },
    ]);
    expect(r.roundTrips).toBe(3);
  });

  it('counts one round trip per window of pipelined chunks', async () => {
    const log = new FakeLog(100);
    const r = await readDiscoveryLogPages(log.fetch, { ...OPTS, maxTransfer: 4096, window: 10 });
    expect(r.commands).toBe(2 + 25);
    expect(r.roundTrips).toBe(1 + 3 + 1);
  });

  it('retries a chunked read when GENCTR changed, and gives up after maxAttempts', async () => {
    const log = new FakeLog(10);
    log.beforeRead = (call) => {
      if (call.offset === 0 && call.length === 20) log.genctr++;
    };
    expect(await code(readDiscoveryLogPages(log.fetch, { ...OPTS, maxTransfer: 4096, maxAttempts: 3 }))).toBe(
      'NVME_DLP_UNSTABLE',
    );
    expect(log.calls.filter((c) => c.length === 20)).toHaveLength(4);
  });

  it('succeeds on the second pass after one GENCTR change during a chunked read', async () => {
    const log = new FakeLog(10);
    log.beforeRead = (_call, i) => {
      if (i === 2) log.genctr = 7n;
    };
    const r = await readDiscoveryLogPages(log.fetch, { ...OPTS, maxTransfer: 4096 });
    expect(r).toMatchObject({ genctr: 7n, attempts: 2 });
    expect(r.entries).toHaveLength(10);
  });

  it('refuses a NUMREC change under an unchanged GENCTR', async () => {
    const log = new FakeLog(10);
    log.beforeRead = (_call, i) => {
      if (i === 4) log.entries.push(entry(10));
    };
    expect(await code(readDiscoveryLogPages(log.fetch, { ...OPTS, maxTransfer: 4096 }))).toBe(
      'NVME_DLP_INCONSISTENT',
    );
  });

  it('refuses a log larger than one transfer when the controller has no offsets (LPA b2)', async () => {
    const log = new FakeLog(10);
    expect(await code(readDiscoveryLogPages(log.fetch, { ...OPTS, maxTransfer: 4096, offsets: false }))).toBe(
      'NVME_DLP_TOO_LARGE',
    );
    expect(log.calls).toHaveLength(1);
  });

  it('refuses a NUMREC above maxEntries without reading the entries', async () => {
    const log = new FakeLog(5);
    expect(await code(readDiscoveryLogPages(log.fetch, { ...OPTS, maxEntries: 4 }))).toBe(
      'NVME_DLP_TOO_LARGE',
    );
    expect(log.calls).toHaveLength(1);
  });

  it('names the setting that chose maxEntries when a log exceeds it', async () => {
    const log = new FakeLog(5);
    const read = readDiscoveryLogPages(log.fetch, {
      ...OPTS,
      maxEntries: 4,
      maxEntriesSetting: '[Limits] max-log-page-entries',
    });
    await expect(read).rejects.toThrow(
      'NUMREC 5 exceeds the limit of 4 entries (set by [Limits] max-log-page-entries)',
    );
  });

  it('accepts a log of exactly maxEntries entries', async () => {
    const log = new FakeLog(4);
    const r = await readDiscoveryLogPages(log.fetch, { ...OPTS, maxEntries: 4 });
    expect(r.entries).toHaveLength(4);
  });

  it('refuses a transfer too short for the entries it announces', async () => {
    const log = new FakeLog(2);
    log.beforeRead = (_call, i) => {
      if (i === 1) log.short = 512;
    };
    expect(await code(readDiscoveryLogPages(log.fetch, OPTS))).toBe('NVME_DLP_SHORT_TRANSFER');
  });
});
