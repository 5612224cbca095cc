import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TidInput } from '../nvme/tid.js';
import { createTid } from '../nvme/tid.js';
import { findExclusion, parseExclusionEntry, parseExclusionsFile, readExclusionLists } from './exclusions.js';

const tid = (fields: Partial<TidInput> = {}) =>
  createTid(
    {
      transport: 'tcp',
      traddr: '192.0.2.10',
      trsvcid: '4420',
      subsysnqn: 'nqn.2024-01.com.example:vol1',
      hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:ab493302-0738-4961-9973-2c6bc2c93697',
      hostId: '99b2aca3-bd1c-49ac-9884-a8c3eaccc265',
      ...fields,
    },
    { role: 'io' },
  );

// The design document's example file.
const EXAMPLE = `# NVMe-oF exclusion list

[exclusions]
exclusion = transport=tcp;traddr=192.0.2.10;trsvcid=4420;nqn=nqn.2024-01.com.example:vol1
exclusion = nqn=nqn.2024-01.com.example:retired

# Exclude the eth3 interface (TCP-only)
exclusion = host-iface=eth3
`;

describe('parseExclusionEntry', () => {
  it('maps the nvme connect spellings onto TID filter keys', () => {
    expect(
      parseExclusionEntry(
        'transport=tcp; traddr=192.0.2.10 ;trsvcid=4420;nqn=n;host-traddr=10.0.0.1;host-iface=eth0;hostnqn=h;hostid=i;',
      ),
    ).toEqual({
      filter: new Map([
        ['transport', 'tcp'],
        ['traddr', '192.0.2.10'],
        ['trsvcid', '4420'],
        ['nqn', 'n'],
        ['host-traddr', '10.0.0.1'],
        ['host-iface', 'eth0'],
        ['host-nqn', 'h'],
        ['host-id', 'i'],
      ]),
    });
  });

  it.each([
    ['subsysnqn=x', /unknown key "subsysnqn"/],
    ['host_iface=eth0', /unknown key/],
    ['traddr', /not key=value/],
    ['traddr=', /no value/],
    ['traddr=1.2.3.4;traddr=1.2.3.5', /twice/],
    ['', /no field/],
    [' ; ; ', /no field/],
  ])('calls %j invalid', (text, problem) => {
    const r = parseExclusionEntry(text);
    expect('problem' in r && r.problem).toMatch(problem);
  });
});

describe('parseExclusionsFile and findExclusion', () => {
  const { entries, diagnostics } = parseExclusionsFile(EXAMPLE, '/etc/nvme/exclusions.conf', 'exclusions');

  it('reads the design document example', () => {
    expect(diagnostics).toEqual([]);
    expect(entries.map((e) => [e.line, e.filter?.size])).toEqual([
      [4, 4],
      [5, 1],
      [8, 1],
    ]);
  });

  it('excludes the exact path, with address spellings compared canonically', () => {
    expect(findExclusion(tid(), entries)?.line).toBe(4);
    expect(findExclusion(tid({ traddr: '::ffff:192.0.2.10' }), entries)?.line).toBe(4);
    expect(findExclusion(tid({ trsvcid: '4421' }), entries)).toBeUndefined();
  });

  it('excludes a retired subsystem on every path and an interface', () => {
    expect(
      findExclusion(tid({ subsysnqn: 'nqn.2024-01.com.example:retired', traddr: '10.1.1.1' }), entries)?.line,
    ).toBe(5);
    expect(findExclusion(tid({ subsysnqn: 'nqn.2024-01.x:y', hostIface: 'eth3' }), entries)?.line).toBe(8);
  });

  it('does not match when the connection has no value for a field the entry names', () => {
    expect(findExclusion(tid({ subsysnqn: 'nqn.2024-01.x:y', hostIface: '' }), entries)).toBeUndefined();
  });

  it('keeps invalid entries (matching nothing) and says why; ignores other sections', () => {
    const parsed = parseExclusionsFile(
      '[exclusions]\nexclusion = subsysnqn=nqn.2024-01.com.example:vol1\nexclusion =\nother = 1\n[future]\nexclusion = nqn=nqn.2024-01.com.example:vol1\n',
      'f.conf',
      'f',
    );
    expect(parsed.entries.map((e) => e.filter)).toEqual([null, null]);
    expect(findExclusion(tid(), parsed.entries)).toBeUndefined();
    expect(parsed.diagnostics.map((d) => [d.line, d.severity])).toEqual([
      [2, 'warning'],
      [3, 'warning'],
      [4, 'warning'],
    ]);
  });

  it('turns INI problems into warnings (a stray line is skipped, nothing is fatal)', () => {
    const parsed = parseExclusionsFile('exclusion = nqn=a\n[exclusions\n', 'g.conf', 'g');
    expect(parsed.entries).toEqual([]);
    expect(parsed.diagnostics.length).toBeGreaterThan(0);
    expect(parsed.diagnostics.every((d) => d.severity === 'warning')).toBe(true);
  });
});

describe('readExclusionLists', () => {
  let etc: string;
  beforeEach(async () => {
    etc = await mkdtemp(join(tmpdir(), 'stas-excl-'));
  });
  afterEach(async () => {
    await rm(etc, { recursive: true, force: true });
  });

  it('is empty and silent when nothing exists', async () => {
    await expect(readExclusionLists(etc)).resolves.toEqual({ entries: [], diagnostics: [] });
  });

  it('reads the default list and the .conf drop-ins in name order, skipping other files', async () => {
    await writeFile(join(etc, 'exclusions.conf'), EXAMPLE);
    await mkdir(join(etc, 'exclusions.conf.d'));
    await writeFile(
      join(etc, 'exclusions.conf.d', 'zz-lab.conf'),
      '[exclusions]\nexclusion = traddr=10.9.9.9\n',
    );
    await writeFile(
      join(etc, 'exclusions.conf.d', 'maintenance.conf'),
      '[exclusions]\nexclusion = trsvcid=4430\n',
    );
    await writeFile(join(etc, 'exclusions.conf.d', 'notes.txt'), '[exclusions]\nexclusion = transport=tcp\n');
    await writeFile(
      join(etc, 'exclusions.conf.d', '.hidden.conf'),
      '[exclusions]\nexclusion = transport=tcp\n',
    );
    const lists = await readExclusionLists(etc);
    expect(lists.diagnostics).toEqual([]);
    expect(lists.entries.map((e) => e.list)).toEqual([
      'exclusions',
      'exclusions',
      'exclusions',
      'maintenance',
      'zz-lab',
    ]);
    expect(
      findExclusion(tid({ traddr: '10.9.9.9', subsysnqn: 'nqn.2024-01.x:z' }), lists.entries)?.list,
    ).toBe('zz-lab');
  });

  it('fails open on an unreadable list, with a warning', async () => {
    await mkdir(join(etc, 'exclusions.conf')); // a directory: reading it fails with EISDIR
    await writeFile(join(etc, 'exclusions.conf.d'), 'not a directory');
    const lists = await readExclusionLists(etc);
    expect(lists.entries).toEqual([]);
    expect(lists.diagnostics).toEqual([
      expect.objectContaining({ severity: 'warning', file: join(etc, 'exclusions.conf'), line: 0 }),
    ]);
  });

  it('fails open when the drop-in directory cannot be listed', async () => {
    await mkdir(join(etc, 'exclusions.conf.d'));
    await chmod(join(etc, 'exclusions.conf.d'), 0);
    const lists = await readExclusionLists(etc);
    await chmod(join(etc, 'exclusions.conf.d'), 0o755);
    // root reads through mode 0; anyone else gets EACCES and a warning: either way nothing is excluded
    expect(lists.entries).toEqual([]);
    expect(lists.diagnostics.length).toBe(process.getuid?.() === 0 ? 0 : 1);
  });
});
