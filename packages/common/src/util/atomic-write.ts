/**
 * Replace a file atomically: readers see either the old or the new content,
 * never a mix, and a crash leaves no half-written target.
 *
 * Touches only the target's directory: creates missing parents (0755), writes
 * `.<name>.<pid>.<random>.tmp` beside the target (O_EXCL), fsyncs it, gives it
 * the mode (and, when running as root, the owner) of the file it replaces, or
 * `opts.mode`, or 0644 for a new file, renames it over the target and fsyncs
 * the directory. If the target is a symlink, the file it points to is replaced
 * and the link is kept. On any failure the temp file is removed and the original
 * Node.js error is rethrown (the target is then unchanged).
 * Tests: atomic-write.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, realpath, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isErrnoException } from '../errors.js';

export interface WriteFileAtomicOptions {
  /** Permission bits of the written file; default: the replaced file's, or 0o644 for a new file. */
  readonly mode?: number;
}

const DEFAULT_FILE_MODE = 0o644;
const DEFAULT_DIR_MODE = 0o755;

async function resolveTarget(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (err) {
    if (isErrnoException(err) && err.code === 'ENOENT') return path;
    throw err;
  }
}

async function existingOwnerAndMode(
  path: string,
): Promise<{ mode: number; uid: number; gid: number } | undefined> {
  try {
    const st = await stat(path);
    return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch (err) {
    if (isErrnoException(err) && err.code === 'ENOENT') return undefined;
    throw err;
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some filesystems cannot fsync a directory; the rename itself has happened.
    if (!(isErrnoException(err) && (err.code === 'EINVAL' || err.code === 'ENOTSUP'))) throw err;
  } finally {
    await handle.close();
  }
}

export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts?: WriteFileAtomicOptions,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: DEFAULT_DIR_MODE });
  const target = await resolveTarget(path);
  const dir = dirname(target);
  const existing = await existingOwnerAndMode(target);
  const mode = opts?.mode ?? existing?.mode ?? DEFAULT_FILE_MODE;
  const temp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);

  let handle: FileHandle | undefined;
  let created = false;
  try {
    handle = await open(temp, 'wx', 0o600);
    created = true;
    await handle.writeFile(data);
    await handle.sync();
    if (existing !== undefined && process.getuid?.() === 0) {
      await handle.chown(existing.uid, existing.gid);
    }
    await handle.chmod(mode);
    await handle.close();
    handle = undefined;
    await rename(temp, target);
    created = false;
  } catch (err) {
    await handle?.close().catch(() => undefined);
    if (created) await unlink(temp).catch(() => undefined);
    throw err;
  }
  await fsyncDirectory(dir);
}
