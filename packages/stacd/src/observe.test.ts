import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConfiguredController } from '@stas/common/config/controllers-section';
import { claimController } from '@stas/common/kernel/registry';
import { createTid } from '@stas/common/nvme/tid';
import { writeFakeController } from '@stas/common/testing/sysfs-tree';
import { observed, unknown } from '@stas/common/util/observation';
import { IFACES } from './plan-test-support.js';
import type { NameResolver } from './observe.js';
import { observe, resolveConfigured } from './observe.js';

function controller(traddr: string, line = 1, transport: 'tcp' | 'fc' = 'tcp'): ConfiguredController {
  return {
    tid: createTid({ transport, traddr, subsysnqn: 'nqn.x:1' }, { role: 'io' }),
    options: {},
    dhchapSecret: null,
    dhchapCtrlSecret: null,
    line,
  };
}

const table: Record<string, { address: string; family: number }[]> = {
  'dual.example': [
    { address: 'fd00::5', family: 6 },
    { address: '10.0.0.5', family: 4 },
  ],
  'v6.example': [{ address: 'fd00::6', family: 6 }],
  'empty.example': [],
};
const resolver: NameResolver = (host) => {
  if (host === 'slow.example') return new Promise(() => undefined);
  const found = table[host];
  return found === undefined ? Promise.reject(new Error(`ENOTFOUND ${host}`)) : Promise.resolve(found);
};

describe('resolveConfigured', () => {
  it('keeps IP literals and fc addresses as they are', async () => {
    const r = await resolveConfigured(
      [controller('10.0.0.1'), controller('nn-0x1:pn-0x2', 2, 'fc')],
      [4, 6],
      resolver,
      50,
    );
    expect(r.configured.map((c) => c.resolved?.traddr)).toEqual(['10.0.0.1', 'nn-0x1:pn-0x2']);
    expect(r.unresolved).toEqual([]);
  });

  it('picks the most preferred enabled family, else the first address', async () => {
    const v4first = await resolveConfigured(
      [controller('dual.example'), controller('v6.example')],
      [4, 6],
      resolver,
      50,
    );
    expect(v4first.configured.map((c) => c.resolved?.traddr)).toEqual(['10.0.0.5', 'fd00::6']);
    const v6first = await resolveConfigured([controller('dual.example')], [6, 4], resolver, 50);
    expect(v6first.configured[0]?.resolved?.traddr).toBe('fd00::5');
    const v4only = await resolveConfigured([controller('v6.example')], [4], resolver, 50);
    expect(v4only.configured[0]?.resolved?.traddr).toBe('fd00::6');
  });

  it('gives null (unknown) for a name that fails, has no address or takes too long', async () => {
    const r = await resolveConfigured(
      [controller('nowhere.example', 3), controller('empty.example', 4), controller('slow.example', 5)],
      [4, 6],
      resolver,
      20,
    );
    expect(r.configured.map((c) => c.resolved)).toEqual([null, null, null]);
    expect(r.unresolved).toHaveLength(3);
    expect(r.unresolved[2]).toMatch(/slow\.example \(line 5\): .*20 ms/);
  });
});

describe('observe', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'stacd-observe-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('joins sysfs controllers with registry owners, and passes stafd and exclusions through', async () => {
    const sys = join(root, 'sys');
    const run = join(root, 'run');
    const etcNvme = join(root, 'etc');
    await mkdir(etcNvme, { recursive: true });
    await writeFakeController(sys, { instance: 0, subsysnqn: 'nqn.x:1', traddr: '10.0.0.1' });
    await writeFakeController(sys, { instance: 1, subsysnqn: 'nqn.x:2', traddr: '10.0.0.2' });
    await claimController({ run, sys }, 'nvme1', 'autoconnect');
    await writeFile(join(etcNvme, 'exclusions.conf'), '[exclusions]\nexclusion = traddr=10.0.0.9\n');
    const o = await observe(
      { controllers: [controller('dual.example')], ipFamily: [4, 6] },
      {
        registry: { run, sys },
        etcNvme,
        stafd: () => Promise.resolve({ discovered: unknown('not-running'), problems: [] }),
        resolve: resolver,
        interfaces: () => IFACES,
        bootDevices: () => Promise.resolve(new Set(['nvme0'])),
      },
    );
    expect(o.kernel.map((k) => [k.controller.device, k.owner, k.boot])).toEqual([
      ['nvme0', undefined, true],
      ['nvme1', 'autoconnect', false],
    ]);
    expect(o.discovered).toEqual({ ok: false, reason: 'not-running' });
    expect(o.exclusions.entries).toHaveLength(1);
    expect(o.configured[0]?.resolved?.traddr).toBe('10.0.0.5');
    expect(o.ifaces).toBe(IFACES);
  });

  it('rejects when the registry cannot be read (no safe decision without owners)', async () => {
    const sys = join(root, 'sys');
    await writeFakeController(sys, { instance: 0, subsysnqn: 'nqn.x:1' });
    const run = join(root, 'run');
    await mkdir(join(run, 'nvme'), { recursive: true });
    await writeFile(join(run, 'nvme', 'registry'), 'not a directory');
    await expect(
      observe(
        { controllers: [], ipFamily: [4, 6] },
        {
          registry: { run, sys },
          etcNvme: join(root, 'etc'),
          stafd: () => Promise.resolve({ discovered: observed([]), problems: [] }),
          interfaces: () => IFACES,
        },
      ),
    ).rejects.toMatchObject({ code: 'STACD_REGISTRY_UNREADABLE' });
  });
});
