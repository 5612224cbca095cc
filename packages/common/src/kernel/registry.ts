/**
 * The libnvme controller ownership registry, `<run>/nvme/registry/<nvmeX>/`
 * with one file per attribute: `owner` (e.g. `stas`, `nbft`, `discoverd`) and
 * `seqnum` (/sys/kernel/uevent_seqnum when the entry was made). Absence of the
 * directory or of `owner` means unowned. (libnvme design REGISTRY.md;
 * landscape §0, §1.A.)
 *
 * Format and atomicity, as libnvme does it: directories 0755, files 0644 with
 * the value and a newline; an attribute is replaced by writing a temp file in
 * the entry directory and renaming it over the attribute; a NEW entry is built
 * complete in a hidden temp directory (`.nvmeX.tmp.<random>`) and renamed into
 * place, so the udev remove rule never sees an entry without its seqnum; an
 * entry is removed by renaming it to a hidden `.trash.<random>` sibling first.
 *
 * Operations (device names must be `nvme<N>`; others are refused with
 * StasError KERNEL_BAD_DEVICE_NAME, so no path can escape the registry):
 * - readOwner: the owner or undefined (unowned; unreadable counts as unowned).
 * - claimController: make `owner` the owner of a controller we created or
 *   adopt. Unowned or ours → claimed. Owned by another → not changed unless
 *   `steal` (returns who owns it). A new entry gets a fresh seqnum stamp.
 * - releaseController: remove the entry if it is ours (on our disconnect).
 * - listRegistry: entries whose controller exists in sysfs
 *   (`<sys>/class/nvme/<dev>`; libnvme checks /dev/<dev>, which appears and
 *   disappears with it); stale ones are skipped, never deleted (udev's job).
 *
 * Claims and releases are not locked against a concurrent writer; the last
 * rename wins, as in libnvme: the registry is cooperative.
 *
 * Tests: registry.test.ts
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StasError, isErrnoException } from '../errors.js';
import { isDeviceName } from './fabrics-outcome.js';

export const STAS_OWNER = 'stas';

export interface RegistryLocations {
  /** StasPaths.run (`/run`). */
  readonly run: string;
  /** StasPaths.sys (`/sys`): uevent_seqnum and controller liveness. */
  readonly sys: string;
}

export interface RegistryEntry {
  readonly device: string;
  /** undefined: the directory exists but has no owner (an orchestrator's private attributes only). */
  readonly owner: string | undefined;
  readonly seqnum: number | undefined;
}

export type ClaimResult =
  | {
      readonly ok: true;
      readonly kind: 'claimed' | 'already-ours' | 'stolen';
      readonly previousOwner?: string;
    }
  | { readonly ok: false; readonly kind: 'owned-by-other'; readonly owner: string };

export type ReleaseResult =
  | { readonly ok: true; readonly kind: 'released' | 'not-registered' }
  | { readonly ok: false; readonly kind: 'owned-by-other'; readonly owner: string };

const OWNER_TEXT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function registryDir(loc: RegistryLocations): string {
  return join(loc.run, 'nvme', 'registry');
}

function entryDir(loc: RegistryLocations, device: string): string {
  if (!isDeviceName(device))
    throw new StasError('KERNEL_BAD_DEVICE_NAME', `not a controller name: ${JSON.stringify(device)}`);
  return join(registryDir(loc), device);
}

function checkOwner(owner: string): void {
  if (!OWNER_TEXT.test(owner))
    throw new StasError('KERNEL_BAD_OWNER', `not a usable owner name: ${JSON.stringify(owner)}`);
}

function code(err: unknown): string | undefined {
  return isErrnoException(err) ? err.code : undefined;
}

async function readAttr(path: string): Promise<string | undefined> {
  try {
    const value = (await readFile(path, 'utf8')).replace(/[\r\n]+$/, '');
    return value === '' ? undefined : value;
  } catch (err) {
    if (code(err) === 'ENOENT' || code(err) === 'ENOTDIR' || code(err) === 'EISDIR') return undefined;
    throw err;
  }
}

/** Write `<dir>/<name>` atomically (temp file + rename), mode 0644, value + newline. */
async function writeAttr(dir: string, name: string, value: string): Promise<void> {
  const temp = join(dir, `${name}.tmp.${randomBytes(6).toString('hex')}`);
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(`${value}\n`);
    await handle.chmod(0o644);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, join(dir, name));
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

async function currentSeqnum(loc: RegistryLocations): Promise<string | undefined> {
  const text = await readAttr(join(loc.sys, 'kernel', 'uevent_seqnum')).catch(() => undefined);
  return text !== undefined && /^\d+$/.test(text.trim()) ? text.trim() : undefined;
}

/** Move a directory out of sight, then delete it. False when it did not exist. */
async function removeEntryDir(loc: RegistryLocations, dir: string): Promise<boolean> {
  const trash = await mkdtemp(join(registryDir(loc), '.trash.'));
  try {
    await rename(dir, join(trash, 'entry'));
  } catch (err) {
    await rm(trash, { recursive: true, force: true });
    if (code(err) === 'ENOENT') return false;
    throw err;
  }
  await rm(trash, { recursive: true, force: true });
  return true;
}

/** The owner of a controller, or undefined when unowned. */
export async function readOwner(loc: RegistryLocations, device: string): Promise<string | undefined> {
  return readAttr(join(entryDir(loc, device), 'owner'));
}

async function createEntry(loc: RegistryLocations, device: string, owner: string): Promise<boolean> {
  const root = registryDir(loc);
  await mkdir(root, { recursive: true, mode: 0o755 });
  const temp = await mkdtemp(join(root, `.${device}.tmp.`));
  try {
    await chmod(temp, 0o755);
    const seqnum = await currentSeqnum(loc);
    if (seqnum !== undefined) await writeAttr(temp, 'seqnum', seqnum);
    await writeAttr(temp, 'owner', owner);
    await rename(temp, entryDir(loc, device));
    return true;
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    // Someone created the entry meanwhile (rename onto a non-empty directory).
    if (code(err) === 'ENOTEMPTY' || code(err) === 'EEXIST') return false;
    throw err;
  }
}

export interface ClaimOptions {
  /** Take the controller even if another orchestrator owns it. */
  readonly steal?: boolean;
}

/** Record `owner` (default `stas`) as the owner of `device` (see the module header). */
export async function claimController(
  loc: RegistryLocations,
  device: string,
  owner: string = STAS_OWNER,
  opts: ClaimOptions = {},
): Promise<ClaimResult> {
  checkOwner(owner);
  const dir = entryDir(loc, device);
  for (let attempt = 0; attempt < 3; attempt++) {
    const exists = await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!exists) {
      if (await createEntry(loc, device, owner)) return { ok: true, kind: 'claimed' };
      continue; // raced with another creator: look again
    }
    const current = await readAttr(join(dir, 'owner'));
    if (current === owner) return { ok: true, kind: 'already-ours' };
    if (current !== undefined && opts.steal !== true)
      return { ok: false, kind: 'owned-by-other', owner: current };
    try {
      await writeAttr(dir, 'owner', owner);
    } catch (err) {
      if (code(err) === 'ENOENT') continue; // removed meanwhile
      throw err;
    }
    return current === undefined
      ? { ok: true, kind: 'claimed' }
      : { ok: true, kind: 'stolen', previousOwner: current };
  }
  throw new StasError(
    'KERNEL_REGISTRY_RACE',
    `${device}: the registry entry kept changing while claiming it`,
  );
}

/** Remove `device`'s entry if `owner` (default `stas`) owns it or nobody does. */
export async function releaseController(
  loc: RegistryLocations,
  device: string,
  owner: string = STAS_OWNER,
): Promise<ReleaseResult> {
  checkOwner(owner);
  const dir = entryDir(loc, device);
  const current = await readAttr(join(dir, 'owner'));
  if (current !== undefined && current !== owner)
    return { ok: false, kind: 'owned-by-other', owner: current };
  const exists = await stat(dir).then(
    () => true,
    () => false,
  );
  if (!exists) return { ok: true, kind: 'not-registered' };
  return (await removeEntryDir(loc, dir))
    ? { ok: true, kind: 'released' }
    : { ok: true, kind: 'not-registered' };
}

/** Entries of live controllers, sorted by instance. */
export async function listRegistry(loc: RegistryLocations): Promise<RegistryEntry[]> {
  let names: string[];
  try {
    names = await readdir(registryDir(loc));
  } catch (err) {
    if (code(err) === 'ENOENT') return [];
    throw err;
  }
  const entries = await Promise.all(
    names.filter(isDeviceName).map(async (device): Promise<RegistryEntry | undefined> => {
      const dir = join(registryDir(loc), device);
      const [isDir, live] = await Promise.all([
        stat(dir).then(
          (s) => s.isDirectory(),
          () => false,
        ),
        stat(join(loc.sys, 'class', 'nvme', device)).then(
          () => true,
          () => false,
        ),
      ]);
      if (!isDir || !live) return undefined;
      const [owner, seqText] = await Promise.all([
        readAttr(join(dir, 'owner')),
        readAttr(join(dir, 'seqnum')),
      ]);
      const seqnum =
        seqText !== undefined && /^\d+$/.test(seqText.trim()) ? Number(seqText.trim()) : undefined;
      return { device, owner, seqnum };
    }),
  );
  return entries
    .filter((e): e is RegistryEntry => e !== undefined)
    .sort((a, b) => Number(a.device.slice(4)) - Number(b.device.slice(4)));
}
