/**
 * A snapshot of the kernel's NVMe controllers and subsystems, read from
 * `<sys>/class/nvme/nvme*` and `<sys>/class/nvme-subsystem/nvme-subsys*`
 * (one pass for all controllers: fixes behaviour spec §9 F18).
 *
 * I/O edge: reads only those directories (async fs, at most `concurrency`
 * reads pending, default 16). Never throws for a controller: a controller that
 * vanishes while being read is left out; an attribute that is missing is
 * `undefined` (older kernels); any other read error (EIO, EACCES…) leaves the
 * attribute `undefined` and is listed in `errors`. Only a failure to list
 * `<sys>/class/nvme` itself (other than ENOENT: no controller yet, module not
 * loaded) rejects, with StasError KERNEL_SYSFS_UNREADABLE.
 *
 * The snapshot is not atomic (sysfs cannot be): read it after subscribing to
 * uevents, and re-read on every change.
 *
 * Tests: sysfs.test.ts (fixture trees modelled on kernel 6.1);
 * test/e2e/kernel-interface.e2e.test.ts (real controllers vs `nvme list-subsys`).
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StasError, describeError, isErrnoException } from '../errors.js';
import type {
  ControllerAttribute,
  NvmeController,
  NvmeSubsystem,
  RawDirectory,
  SubsystemAttribute,
} from './sysfs-parse.js';
import {
  CONTROLLER_ATTRIBUTES,
  SUBSYSTEM_ATTRIBUTES,
  parseController,
  parseSubsystem,
} from './sysfs-parse.js';

export interface SysfsReadError {
  /** `nvme<N>` or `nvme-subsys<K>`. */
  readonly name: string;
  /** The attribute, or '' for the directory itself. */
  readonly attribute: string;
  readonly code: string;
  readonly message: string;
}

export interface SysfsSnapshot {
  /** Controllers sorted by instance. */
  readonly controllers: readonly NvmeController[];
  readonly subsystems: readonly NvmeSubsystem[];
  readonly errors: readonly SysfsReadError[];
}

export interface SysfsReadOptions {
  readonly concurrency?: number;
}

export const DEFAULT_SYSFS_CONCURRENCY = 16;

function codeOf(err: unknown): string {
  return isErrnoException(err) ? (err.code ?? '') : '';
}

/** Entry names of a directory; [] when it does not exist. */
async function listDir(path: string): Promise<string[] | undefined> {
  try {
    return await readdir(path);
  } catch (err) {
    if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}

interface Reader {
  readonly limit: <T>(fn: () => Promise<T>) => Promise<T>;
  readonly errors: SysfsReadError[];
}

/** A tiny semaphore shared by all reads of one snapshot. */
function limiter(concurrency: number): Reader['limit'] {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

async function readDirectory<A extends string>(
  reader: Reader,
  dir: string,
  name: string,
  attributes: readonly A[],
): Promise<RawDirectory<A> | undefined> {
  let entries: string[] | undefined;
  try {
    entries = await reader.limit(() => listDir(dir));
  } catch (err) {
    reader.errors.push({ name, attribute: '', code: codeOf(err), message: describeError(err) });
    return undefined;
  }
  if (entries === undefined) return undefined; // vanished
  const present = new Set(entries);
  const attrs: Partial<Record<A, string>> = {};
  const results = await Promise.all(
    attributes
      .filter((a) => present.has(a))
      .map((attribute) =>
        reader.limit(async (): Promise<'read' | 'gone' | 'failed'> => {
          try {
            attrs[attribute] = await readFile(join(dir, attribute), 'utf8');
            return 'read';
          } catch (err) {
            const code = codeOf(err);
            if (code === 'ENOENT') return 'gone';
            reader.errors.push({ name, attribute, code, message: describeError(err) });
            return 'failed';
          }
        }),
      ),
  );
  // An attribute listed a moment ago is gone: the controller itself may have been removed.
  if (results.includes('gone') && (await listDir(dir).catch(() => undefined)) === undefined) return undefined;
  return { name, attrs, entries };
}

/** Read all NVMe controllers and subsystems under `sys` (the sysfs mount). */
export async function readSysfsSnapshot(sys: string, opts: SysfsReadOptions = {}): Promise<SysfsSnapshot> {
  const reader: Reader = { limit: limiter(opts.concurrency ?? DEFAULT_SYSFS_CONCURRENCY), errors: [] };
  const classDir = join(sys, 'class', 'nvme');
  const subsysDir = join(sys, 'class', 'nvme-subsystem');
  let controllerNames: string[];
  let subsystemNames: string[];
  try {
    controllerNames = ((await listDir(classDir)) ?? []).filter((n) => /^nvme\d+$/.test(n));
    subsystemNames = ((await listDir(subsysDir)) ?? []).filter((n) => /^nvme-subsys\d+$/.test(n));
  } catch (err) {
    throw new StasError('KERNEL_SYSFS_UNREADABLE', `cannot list ${classDir}: ${describeError(err)}`, {
      cause: err,
    });
  }
  const rawSubsystems = await Promise.all(
    subsystemNames.map((name) => readDirectory(reader, join(subsysDir, name), name, SUBSYSTEM_ATTRIBUTES)),
  );
  const subsystems = rawSubsystems
    .filter((r): r is RawDirectory<SubsystemAttribute> => r !== undefined)
    .map(parseSubsystem)
    .sort((a, b) => Number(a.name.slice(11)) - Number(b.name.slice(11)));
  const rawControllers = await Promise.all(
    controllerNames.map((name) =>
      readDirectory<ControllerAttribute>(reader, join(classDir, name), name, CONTROLLER_ATTRIBUTES),
    ),
  );
  const controllers = rawControllers
    .map((raw) => (raw === undefined ? undefined : parseController(raw, subsystems)))
    .filter((c): c is NvmeController => c !== undefined)
    .sort((a, b) => a.instance - b.instance);
  return { controllers, subsystems, errors: reader.errors };
}
