import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTid } from '@stas/common/nvme/tid';
import type { DiscoveryLogEntry } from '@stas/common/nvme/wire/discovery-log';
import fc from 'fast-check';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { CachedDc } from './dlp-cache-file.js';
import { decodeCache, encodeCache, loadCache, saveCache } from './dlp-cache-file.js';

const ENTRY: DiscoveryLogEntry = {
  trtype: 3,
  adrfam: 1,
  subtype: 2,
  treq: 0,
  portid: 2,
  cntlid: 0xffff,
  asqsz: 32,
  eflags: 0,
  trsvcid: '4420',
  subnqn: 'nqn.2014-08.org.example:subsys1',
  traddr: '10.0.0.1',
  tsas: { kind: 'tcp', sectype: 0 },
};

const RECORD: CachedDc = {
  tid: createTid(
    { transport: 'tcp', traddr: '10.0.0.1', hostIface: 'eth0', hostNqn: 'nqn.2014-08.org.x:h' },
    { role: 'discovery' },
  ),
  origin: 'discovered',
  entries: [ENTRY, { ...ENTRY, subtype: 1, trsvcid: '8009', tsas: { kind: 'none' } }],
  genctr: '18446744073709551615',
  fetchedAt: 1_763_700_000_000,
};

describe('encodeCache / decodeCache', () => {
  it('round-trips records, TIDs included', () => {
    const decoded = decodeCache(encodeCache([RECORD]));
    expect(decoded).toEqual({ ok: true, records: [RECORD] });
  });

  it('writes plain, versioned JSON', () => {
    const json = JSON.parse(encodeCache([])) as unknown;
    expect(json).toEqual({ format: 'stas-dlp-cache', version: 1, dcs: [] });
  });

  it.each([
    ['', 'not JSON'],
    ['[]', 'expected an object'],
    ['{"format":"x","version":1,"dcs":[]}', 'not a stas log page cache'],
    ['{"format":"stas-dlp-cache","version":99,"dcs":[]}', 'unsupported cache version 99'],
    ['{"format":"stas-dlp-cache","version":1,"dcs":{}}', 'dcs: expected a list'],
  ])('reports %j as corrupt (%s)', (text, why) => {
    const result = decodeCache(text);
    expect(result).toMatchObject({ ok: false, reason: 'corrupt' });
    expect(result.ok ? '' : result.detail).toContain(why);
  });

  it('names the bad field of a record', () => {
    const json = JSON.parse(encodeCache([RECORD])) as { dcs: { entries: { portid: unknown }[] }[] };
    const entry = json.dcs[0]?.entries[1];
    if (entry) entry.portid = -1;
    const result = decodeCache(JSON.stringify(json));
    expect(result.ok ? '' : result.detail).toBe('dcs[0].entries[1].portid: expected an integer 0..65535');
  });

  it('never throws on mutated cache files', () => {
    const good = encodeCache([RECORD, { ...RECORD, origin: 'configured' }]);
    let corrupt = 0;
    fc.assert(
      fc.property(
        fc.nat({ max: good.length - 1 }),
        fc.string({ maxLength: 3 }),
        fc.nat({ max: 5 }),
        (at, insert, cut) => {
          const text = good.slice(0, at) + insert + good.slice(at + cut);
          const result = decodeCache(text);
          if (!result.ok) corrupt += 1;
          expect(typeof result.ok).toBe('boolean');
        },
      ),
      { seed: 7, numRuns: 3000 },
    );
    expect(corrupt).toBeGreaterThan(0);
  });
});

describe('saveCache / loadCache', () => {
  it('saves atomically with mode 0600 and loads it back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stafd-cache-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'stafd', 'log-pages.json');
    await saveCache(path, [RECORD]);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await loadCache(path)).toEqual({ ok: true, records: [RECORD] });
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ version: 1 });
  });

  it('reports a missing, unreadable or corrupt file without throwing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stafd-cache-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    expect(await loadCache(join(dir, 'none.json'))).toMatchObject({ ok: false, reason: 'absent' });
    expect(await loadCache(dir)).toMatchObject({ ok: false, reason: 'unreadable' });
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"format":"stas-dlp-cache","version":1,"dcs":[{"tid":1}]}');
    const result = await loadCache(bad);
    expect(result).toMatchObject({ ok: false, reason: 'corrupt' });
    expect(result.ok ? '' : result.detail).toContain(bad);
  });

  it('refuses a file above the size limit without reading it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stafd-cache-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'dlp-cache.json');
    await saveCache(path, [RECORD]);
    const size = (await stat(path)).size;
    expect(await loadCache(path, size)).toEqual({ ok: true, records: [RECORD] });
    const refused = await loadCache(path, size - 1);
    expect(refused).toMatchObject({ ok: false, reason: 'corrupt' });
    expect(refused.ok ? '' : refused.detail).toContain(`too large (${size} bytes, the limit is ${size - 1})`);
  });
});
