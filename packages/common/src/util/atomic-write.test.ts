import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic-write.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stas-atomic-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The error a promise rejects with (fails the test when it resolves). */
async function failure(promise: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  try {
    await promise;
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error('expected a rejection');
}

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o7777;
}

describe('writeFileAtomic', () => {
  it('creates a new file with mode 0644 and leaves no temp file', async () => {
    const target = join(dir, 'sys.conf');
    await writeFileAtomic(target, '[Host]\nnqn = a\n');
    expect(await readFile(target, 'utf8')).toBe('[Host]\nnqn = a\n');
    expect(await modeOf(target)).toBe(0o644);
    expect(await readdir(dir)).toEqual(['sys.conf']);
  });

  it('replaces an existing file and keeps its mode', async () => {
    const target = join(dir, 'sys.conf');
    await writeFile(target, 'old');
    await chmod(target, 0o600);
    await writeFileAtomic(target, 'new');
    expect(await readFile(target, 'utf8')).toBe('new');
    expect(await modeOf(target)).toBe(0o600);
  });

  it('uses opts.mode over the existing mode', async () => {
    const target = join(dir, 'hostkey');
    await writeFile(target, 'old');
    await chmod(target, 0o644);
    await writeFileAtomic(target, 'secret', { mode: 0o600 });
    expect(await modeOf(target)).toBe(0o600);
  });

  it('writes bytes as given', async () => {
    const target = join(dir, 'bin');
    await writeFileAtomic(target, new Uint8Array([0, 1, 2, 255]));
    expect([...(await readFile(target))]).toEqual([0, 1, 2, 255]);
  });

  it('creates missing parent directories with mode 0755', async () => {
    const target = join(dir, 'etc', 'stas', 'sys.conf');
    await writeFileAtomic(target, 'x');
    expect(await readFile(target, 'utf8')).toBe('x');
    const parentMode = await modeOf(join(dir, 'etc', 'stas'));
    expect(parentMode & ~0o755).toBe(0); // 0755, less whatever the umask takes away
    expect(parentMode & 0o700).toBe(0o700);
  });

  it('replaces the file a symlink points to and keeps the link', async () => {
    const real = join(dir, 'real.conf');
    const link = join(dir, 'link.conf');
    await writeFile(real, 'old');
    await symlink('real.conf', link);
    await writeFileAtomic(link, 'new');
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe('real.conf');
    expect(await readFile(real, 'utf8')).toBe('new');
  });

  it('rethrows and leaves no temp file when the target is a directory', async () => {
    const target = join(dir, 'sys.conf');
    await mkdir(target);
    expect((await failure(writeFileAtomic(target, 'x'))).code).toBe('EISDIR');
    expect(await readdir(dir)).toEqual(['sys.conf']);
    expect((await stat(target)).isDirectory()).toBe(true);
  });

  it('rethrows when the parent cannot be created', async () => {
    const blocker = join(dir, 'file');
    await writeFile(blocker, '');
    expect((await failure(writeFileAtomic(join(blocker, 'sub', 'x.conf'), 'x'))).code).toMatch(
      /^(ENOTDIR|EEXIST)$/,
    );
    expect(await readdir(dir)).toEqual(['file']);
  });
});
