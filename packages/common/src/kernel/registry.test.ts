import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFakeController, writeFakeSeqnum } from '../testing/sysfs-tree.js';
import type { RegistryLocations } from './registry.js';
import { claimController, listRegistry, readOwner, registryDir, releaseController } from './registry.js';

let root: string;
let loc: RegistryLocations;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'stas-registry-'));
  loc = { run: join(root, 'run'), sys: join(root, 'sys') };
  await writeFakeSeqnum(loc.sys, 4711);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const entry = (device: string, attr: string) => join(registryDir(loc), device, attr);

/** An entry as another orchestrator (libnvme) would have left it. */
async function foreign(
  device: string,
  owner: string | null,
  extra: Record<string, string> = {},
): Promise<void> {
  await mkdir(join(registryDir(loc), device), { recursive: true });
  if (owner !== null) await writeFile(entry(device, 'owner'), `${owner}\n`);
  for (const [k, v] of Object.entries(extra)) await writeFile(entry(device, k), `${v}\n`);
}

describe('claimController', { timeout: 20_000 }, () => {
  it('creates owner and seqnum in the libnvme format (newline, 0644 files, 0755 dirs)', async () => {
    await expect(claimController(loc, 'nvme3')).resolves.toEqual({ ok: true, kind: 'claimed' });
    expect(await readFile(entry('nvme3', 'owner'), 'utf8')).toBe('stas\n');
    expect(await readFile(entry('nvme3', 'seqnum'), 'utf8')).toBe('4711\n');
    expect((await stat(entry('nvme3', 'owner'))).mode & 0o777).toBe(0o644);
    expect((await stat(join(registryDir(loc), 'nvme3'))).mode & 0o777).toBe(0o755);
    expect((await readdir(registryDir(loc))).sort()).toEqual(['nvme3']); // no temp leftovers
    expect(await readdir(join(registryDir(loc), 'nvme3'))).toEqual(
      expect.arrayContaining(['owner', 'seqnum']),
    );
  });

  it('writes no seqnum when the kernel counter cannot be read (best effort)', async () => {
    await rm(join(loc.sys, 'kernel'), { recursive: true });
    await claimController(loc, 'nvme0');
    expect((await readdir(join(registryDir(loc), 'nvme0'))).sort()).toEqual(['owner']);
  });

  it('is idempotent for our own entry', async () => {
    await claimController(loc, 'nvme1');
    await expect(claimController(loc, 'nvme1')).resolves.toEqual({ ok: true, kind: 'already-ours' });
  });

  it('leaves a controller owned by another orchestrator alone unless told to steal it', async () => {
    await foreign('nvme2', 'nbft', { seqnum: '12' });
    await expect(claimController(loc, 'nvme2')).resolves.toEqual({
      ok: false,
      kind: 'owned-by-other',
      owner: 'nbft',
    });
    expect(await readOwner(loc, 'nvme2')).toBe('nbft');
    await expect(claimController(loc, 'nvme2', 'stas', { steal: true })).resolves.toEqual({
      ok: true,
      kind: 'stolen',
      previousOwner: 'nbft',
    });
    expect(await readFile(entry('nvme2', 'owner'), 'utf8')).toBe('stas\n');
    expect(await readFile(entry('nvme2', 'seqnum'), 'utf8')).toBe('12\n'); // the connect-time stamp stays
  });

  it('adopts an entry that has private attributes but no owner, keeping them', async () => {
    await foreign('nvme4', null, { note: 'boot path' });
    await expect(claimController(loc, 'nvme4')).resolves.toEqual({ ok: true, kind: 'claimed' });
    expect(await readFile(entry('nvme4', 'note'), 'utf8')).toBe('boot path\n');
  });

  it('refuses device names that could escape the registry, and bad owner names', async () => {
    await expect(claimController(loc, '../etc')).rejects.toMatchObject({ code: 'KERNEL_BAD_DEVICE_NAME' });
    await expect(claimController(loc, 'nvme0n1')).rejects.toMatchObject({ code: 'KERNEL_BAD_DEVICE_NAME' });
    await expect(claimController(loc, 'nvme0', 'st\nas')).rejects.toMatchObject({ code: 'KERNEL_BAD_OWNER' });
    await expect(claimController(loc, 'nvme0', '')).rejects.toMatchObject({ code: 'KERNEL_BAD_OWNER' });
  });

  it('survives many concurrent claims of different controllers', async () => {
    const devices = Array.from({ length: 20 }, (_, i) => `nvme${i}`);
    const results = await Promise.all(devices.map((d) => claimController(loc, d)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect((await readdir(registryDir(loc))).sort()).toEqual([...devices].sort());
  });

  it('gives one winner when two claims race on one controller', async () => {
    const [a, b] = await Promise.all([
      claimController(loc, 'nvme7', 'stas'),
      claimController(loc, 'nvme7', 'discoverd'),
    ]);
    const owner = await readOwner(loc, 'nvme7');
    expect([a.ok, b.ok].filter(Boolean)).toHaveLength(1);
    expect(['stas', 'discoverd']).toContain(owner);
  });
});

describe('readOwner', () => {
  it('is undefined for an unregistered controller, an empty owner file, or no owner file', async () => {
    expect(await readOwner(loc, 'nvme9')).toBeUndefined();
    await foreign('nvme8', '');
    expect(await readOwner(loc, 'nvme8')).toBeUndefined();
    await foreign('nvme5', null);
    expect(await readOwner(loc, 'nvme5')).toBeUndefined();
  });

  it('strips the trailing newline', async () => {
    await foreign('nvme6', 'discoverd');
    expect(await readOwner(loc, 'nvme6')).toBe('discoverd');
  });
});

describe('releaseController', () => {
  it('removes our entry atomically (no trash left behind)', async () => {
    await claimController(loc, 'nvme1');
    await expect(releaseController(loc, 'nvme1')).resolves.toEqual({ ok: true, kind: 'released' });
    expect(await readdir(registryDir(loc))).toEqual([]);
  });

  it('says not-registered for a controller without an entry', async () => {
    await expect(releaseController(loc, 'nvme1')).resolves.toEqual({ ok: true, kind: 'not-registered' });
  });

  it("never removes another orchestrator's entry", async () => {
    await foreign('nvme2', 'nbft');
    await expect(releaseController(loc, 'nvme2')).resolves.toEqual({
      ok: false,
      kind: 'owned-by-other',
      owner: 'nbft',
    });
    expect(await readOwner(loc, 'nvme2')).toBe('nbft');
  });
});

describe('listRegistry', { timeout: 20_000 }, () => {
  it('is empty without a registry', async () => {
    await expect(listRegistry(loc)).resolves.toEqual([]);
  });

  it('lists entries of live controllers only, sorted, skipping stale and hidden ones', async () => {
    await writeFakeController(loc.sys, { instance: 0, subsysnqn: 'nqn.2024-01.x:a' });
    await writeFakeController(loc.sys, { instance: 10, subsysnqn: 'nqn.2024-01.x:b' });
    await writeFakeController(loc.sys, { instance: 2, subsysnqn: 'nqn.2024-01.x:c' });
    await claimController(loc, 'nvme10');
    await foreign('nvme0', 'nbft', { seqnum: '3' });
    await foreign('nvme2', null);
    await foreign('nvme3', 'stas'); // stale: no such controller
    await mkdir(join(registryDir(loc), '.nvme4.tmp.abc'), { recursive: true });
    await writeFile(join(registryDir(loc), 'nvme5'), 'not a directory');
    await expect(listRegistry(loc)).resolves.toEqual([
      { device: 'nvme0', owner: 'nbft', seqnum: 3 },
      { device: 'nvme2', owner: undefined, seqnum: undefined },
      { device: 'nvme10', owner: 'stas', seqnum: 4711 },
    ]);
    expect(await readdir(registryDir(loc))).toContain('nvme3'); // stale entries are udev's to remove
  });
});
