/**
 * stasadm hostnqn / hostid / set-symname / clear-symname: write one identity
 * value, to a file of its own (`-f FILE`, sys.conf then points to it with
 * `file://FILE`) or into sys.conf's `[Host]` section.
 *
 * sys.conf is edited in place: every comment, blank line and key the command
 * does not change stays byte for byte (ini-edit.ts), and both files are
 * written atomically. A value that would not validate is refused (exit 1)
 * before anything is written.
 *
 * Tests: ../cli.test.ts
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FILE_SCHEME, resolveHostIdentity } from '@stas/common/config/host-identity';
import { removeIniKey, setIniValue } from '@stas/common/config/ini-edit';
import { describeError, isErrnoException } from '@stas/common/errors';
import { hostIdProblem, hostNqnForUuid, nqnProblem, uuidOfHostNqn } from '@stas/common/nvme/host-ids';
import { writeFileAtomic } from '@stas/common/util/atomic-write';
import type { CommandContext } from '../cli.js';
import { findHostUuid } from '../host-uuid.js';

type HostKey = 'nqn' | 'id' | 'symname';

const SYMNAME_MAX_BYTES = 256;

export async function runHostnqn(
  ctx: CommandContext,
  explicit: string | null,
  file: string | null,
): Promise<number> {
  const value = explicit ?? hostNqnForUuid((await findHostUuid(ctx.paths)).uuid);
  const problem = nqnProblem(value);
  if (problem !== null) return refuse(ctx, `refusing to write host NQN: ${problem}`);
  return save(ctx, 'nqn', value, file);
}

export async function runHostid(
  ctx: CommandContext,
  explicit: string | null,
  file: string | null,
): Promise<number> {
  let value = explicit;
  if (value === null) {
    // Keep the host ID equal to the host NQN's UUID when it has one (the libnvme convention).
    const current = await resolveHostIdentity({
      sysConf: sysConfForReading(ctx),
      etcNvme: ctx.paths.etcNvme,
    });
    const fromNqn = current.found.hostnqn === null ? null : uuidOfHostNqn(current.found.hostnqn);
    value = fromNqn ?? (await findHostUuid(ctx.paths)).uuid.toLowerCase();
  }
  const problem = hostIdProblem(value);
  if (problem !== null) return refuse(ctx, `refusing to write host ID: ${problem}`);
  return save(ctx, 'id', value.toLowerCase(), file);
}

export async function runSetSymname(ctx: CommandContext, name: string, file: string | null): Promise<number> {
  const value = name.trim();
  if (value === '') return refuse(ctx, 'refusing to write an empty symbolic name (use clear-symname)');
  if (/\p{Cc}/u.test(value)) return refuse(ctx, 'refusing to write a symbolic name with control characters');
  if (Buffer.byteLength(value) > SYMNAME_MAX_BYTES) {
    return refuse(ctx, `refusing to write a symbolic name longer than ${SYMNAME_MAX_BYTES} bytes`);
  }
  return save(ctx, 'symname', value, file);
}

export async function runClearSymname(ctx: CommandContext): Promise<number> {
  if (ctx.sysConf === null) return refuse(ctx, "clear-symname needs sys.conf (it cannot be -c '')");
  const text = await readText(ctx.sysConf);
  if (text instanceof Error) return refuse(ctx, text.message);
  if (text === null) return 0;
  const updated = removeIniKey(text, 'Host', 'symname');
  if (updated === text) return 0;
  return write(ctx, ctx.sysConf, updated);
}

async function save(ctx: CommandContext, key: HostKey, value: string, file: string | null): Promise<number> {
  if (file === null && ctx.sysConf === null) {
    return refuse(ctx, "nothing to write: -c '' leaves sys.conf alone and no -f FILE was given");
  }
  if (file !== null) {
    const status = await write(ctx, file, value + '\n');
    if (status !== 0) return status;
  }
  if (ctx.sysConf !== null) {
    const text = await readText(ctx.sysConf);
    if (text instanceof Error) return refuse(ctx, text.message);
    const written = file === null ? value : FILE_SCHEME + resolve(file);
    let updated: string;
    try {
      updated = setIniValue(text ?? '', 'Host', key, written);
    } catch (err) {
      return refuse(ctx, describeError(err));
    }
    if (updated !== text) {
      const status = await write(ctx, ctx.sysConf, updated);
      if (status !== 0) return status;
    }
  }
  ctx.out(value + '\n');
  return 0;
}

/** The file's text, null when it does not exist, or an Error to report. */
async function readText(path: string): Promise<string | null | Error> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isErrnoException(err) && err.code === 'ENOENT') return null;
    return new Error(`cannot read ${path}: ${describeError(err)}`);
  }
}

async function write(ctx: CommandContext, path: string, text: string): Promise<number> {
  try {
    await writeFileAtomic(path, text);
    return 0;
  } catch (err) {
    return refuse(ctx, `cannot write ${path}: ${describeError(err)}`);
  }
}

function refuse(ctx: CommandContext, message: string): number {
  ctx.err(`stasadm: ${message}\n`);
  return 1;
}

export function sysConfForReading(ctx: CommandContext): string {
  return ctx.sysConf ?? `${ctx.paths.etcStas}/sys.conf`;
}
