import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadStacdConf, policyOf } from './stacd-config.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stacd-conf-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadStacdConf', () => {
  it('gives the defaults for a missing file', async () => {
    const loaded = await loadStacdConf(join(dir, 'stacd.conf'));
    expect(loaded.missing).toBe(true);
    expect(loaded.config?.controllers).toEqual([]);
    expect(loaded.diagnostics).toEqual([]);
  });

  it('reports an unreadable file and gives no configuration', async () => {
    const path = join(dir, 'adir');
    await mkdir(path);
    const loaded = await loadStacdConf(path);
    expect(loaded.config).toBeNull();
    expect(loaded.diagnostics[0]).toMatchObject({ severity: 'error', file: path, line: 0 });
  });

  it('applies the valid lines and reports the invalid ones with file:line', async () => {
    const path = join(dir, 'stacd.conf');
    await writeFile(
      path,
      [
        '[Global]',
        'kato = 17',
        'ip-family = ipv5',
        '[I/O controller connection management]',
        'disconnect-scope = no-disconnect',
        '[Controllers]',
        'controller = transport=tcp;traddr=10.0.0.1;nqn=nqn.x:1',
        'controller = transport=bogus;traddr=10.0.0.2;nqn=nqn.x:2',
        'exclude = traddr=10.0.0.9',
        '',
      ].join('\n'),
    );
    const loaded = await loadStacdConf(path);
    expect(loaded.config?.controllers.map((c) => c.tid.traddr)).toEqual(['10.0.0.1']);
    expect(loaded.diagnostics.map((d) => [d.severity, d.line])).toEqual([
      ['error', 3],
      ['error', 8],
    ]);
    const policy = policyOf(loaded.config!);
    expect(policy).toMatchObject({
      disconnectScope: 'no-disconnect',
      ipFamily: [4, 6],
      options: { kato: 17 },
    });
  });
});
