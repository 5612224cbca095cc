import { describe, expect, it } from 'vitest';
import { FakeClock, settle } from '@stas/common/nvme/session/fake-clock';
import type { CachedDc } from './dlp-cache-file.js';
import { CacheWriter } from './cache-writer.js';

function setup(save?: (path: string, records: readonly CachedDc[]) => Promise<void>) {
  const clock = new FakeClock();
  const writes: number[] = [];
  const errors: unknown[] = [];
  let records = 0;
  const writer = new CacheWriter({
    path: '/run/stafd/dlp-cache.json',
    records: () => Array.from<CachedDc>({ length: records }),
    save:
      save ??
      ((_path, r) => {
        writes.push(r.length);
        return Promise.resolve();
      }),
    clock,
    delayMs: 100,
    onError: (err) => errors.push(err),
  });
  return { clock, writer, writes, errors, setRecords: (n: number) => (records = n) };
}

describe('CacheWriter', () => {
  it('writes a burst of changes once, after the delay, with the records of that moment', async () => {
    const { clock, writer, writes, setRecords } = setup();
    writer.schedule();
    setRecords(1);
    writer.schedule();
    setRecords(2);
    await clock.advance(99);
    expect(writes).toEqual([]);
    await clock.advance(1);
    await settle();
    expect(writes).toEqual([2]);
    expect(writer.writes).toBe(1);
  });

  it('flushes a pending write at once and leaves no timer', async () => {
    const { clock, writer, writes } = setup();
    writer.schedule();
    await writer.flush();
    expect(writes).toEqual([0]);
    expect(clock.pending).toBe(0);
    await writer.flush();
    expect(writes).toEqual([0]);
  });

  it('reports a failed write and writes again at the next change', async () => {
    let fail = true;
    const { writer, errors } = setup(() => (fail ? Promise.reject(new Error('ENOSPC')) : Promise.resolve()));
    writer.schedule();
    await writer.flush();
    expect(errors).toHaveLength(1);
    fail = false;
    writer.schedule();
    await writer.flush();
    expect(writer.writes).toBe(1);
  });

  it('drops a pending write on cancel', async () => {
    const { clock, writer, writes } = setup();
    writer.schedule();
    writer.cancel();
    await clock.advance(200);
    await writer.flush();
    expect(writes).toEqual([]);
  });
});
