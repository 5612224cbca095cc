/**
 * The host's identity (host NQN, host ID, DH-HMAC-CHAP host key, symbolic
 * name), resolved from sys.conf and the files it points to.
 *
 * I/O edge: reads sys.conf and the `file://` targets / default files under
 * /etc/nvme (both locations are parameters). Never throws and never exits:
 * every problem is a diagnostic naming the file and line, and a missing or
 * invalid host NQN or host ID leaves `identity` null so that the caller (only a
 * `main`) decides what to do.
 *
 * Differences from nvme-stas, on purpose: a `file://` target contributes its
 * first non-blank, non-comment line in full (a symbolic name keeps its spaces,
 * an NQN on line 2 is found); relative `file://` paths are relative to
 * sys.conf's directory, not the working directory; the host ID is validated.
 *
 * Tests: host-identity.test.ts
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { describeError, isErrnoException } from '../errors.js';
import { hostIdProblem, nqnProblem } from '../nvme/host-ids.js';
import { Secret } from '../util/secret.js';
import type { Diagnostic } from './diagnostic.js';
import type { HostKey, SysConfig } from './sys-conf.js';
import { parseSysConf } from './sys-conf.js';

export interface HostIdentity {
  readonly hostnqn: string;
  readonly hostid: string;
  readonly hostkey: Secret | null;
  readonly symname: string | null;
}

/** Where one identity value came from, for `stasadm show` and process_info. */
export interface ValueSource {
  readonly origin: 'sys.conf' | 'file' | 'none';
  /** The file that held the value (sys.conf itself for a literal). */
  readonly path: string;
}

export interface ResolvedIdentity {
  /** The validated identity; null when the host NQN or host ID is missing or invalid. */
  readonly identity: HostIdentity | null;
  /** The host NQN and host ID as found, valid or not (for tools that repair them). */
  readonly found: { readonly hostnqn: string | null; readonly hostid: string | null };
  readonly sources: Readonly<Record<HostKey, ValueSource>>;
  readonly diagnostics: readonly Diagnostic[];
}

export interface IdentityLocations {
  /** sys.conf path; a missing file means "all defaults". */
  readonly sysConf: string;
  /** Directory of the default hostnqn, hostid and hostkey files (/etc/nvme). */
  readonly etcNvme: string;
}

const DEFAULT_FILES: Readonly<Record<HostKey, string | null>> = {
  nqn: 'hostnqn',
  id: 'hostid',
  key: 'hostkey',
  symname: null,
};

export const FILE_SCHEME = 'file://';

/** The first non-blank line not starting with `#`, trimmed; null for an empty file. */
export function firstValueLine(text: string): string | null {
  for (const line of text.split(/\r?\n/)) {
    const value = line.trim();
    if (value !== '' && !value.startsWith('#')) return value;
  }
  return null;
}

export async function readSysConf(
  path: string,
): Promise<{ config: SysConfig; diagnostics: Diagnostic[]; exists: boolean }> {
  try {
    const text = await readFile(path, 'utf8');
    const parsed = parseSysConf(text, path);
    return { config: parsed.config, diagnostics: [...parsed.diagnostics], exists: true };
  } catch (err) {
    const empty = parseSysConf('', path);
    if (isErrnoException(err) && err.code === 'ENOENT') {
      return { config: empty.config, diagnostics: [], exists: false };
    }
    return {
      config: empty.config,
      diagnostics: [
        { severity: 'error', file: path, line: 0, message: `cannot read: ${describeError(err)}` },
      ],
      exists: false,
    };
  }
}

export async function resolveHostIdentity(where: IdentityLocations): Promise<ResolvedIdentity> {
  const { config, diagnostics } = await readSysConf(where.sysConf);
  const sources = {} as Record<HostKey, ValueSource>;
  const values = {} as Record<HostKey, { value: string; file: string; line: number } | null>;

  for (const key of ['nqn', 'id', 'key', 'symname'] as const) {
    const written = config.Host[key];
    const line = config.lines[key] ?? 0;
    let path: string | null;
    if (written === null) {
      const name = DEFAULT_FILES[key];
      path = name === null ? null : join(where.etcNvme, name);
    } else if (written.startsWith(FILE_SCHEME)) {
      const target = written.slice(FILE_SCHEME.length);
      path = isAbsolute(target) ? target : resolve(dirname(where.sysConf), target);
    } else {
      sources[key] = { origin: 'sys.conf', path: where.sysConf };
      values[key] = { value: written, file: where.sysConf, line };
      continue;
    }
    if (path === null) {
      sources[key] = { origin: 'none', path: '' };
      values[key] = null;
      continue;
    }
    sources[key] = { origin: 'file', path };
    values[key] = await readValueFile(
      path,
      key,
      written === null ? null : { file: where.sysConf, line },
      diagnostics,
    );
  }

  const nqn = values.nqn;
  const id = values.id;
  let valid = true;
  if (nqn === null) {
    valid = false;
    diagnostics.push(missing('host NQN', sources.nqn, where.sysConf, 'stasadm hostnqn -f /etc/nvme/hostnqn'));
  } else {
    const problem = nqnProblem(nqn.value);
    if (problem !== null) {
      valid = false;
      diagnostics.push({
        severity: 'error',
        file: nqn.file,
        line: nqn.line,
        message: `invalid host NQN: ${problem}`,
      });
    }
  }
  if (id === null) {
    valid = false;
    diagnostics.push(missing('host ID', sources.id, where.sysConf, 'stasadm hostid -f /etc/nvme/hostid'));
  } else {
    const problem = hostIdProblem(id.value);
    if (problem !== null) {
      valid = false;
      diagnostics.push({
        severity: 'error',
        file: id.file,
        line: id.line,
        message: `invalid host ID: ${problem}`,
      });
    }
  }

  const identity =
    valid && nqn !== null && id !== null
      ? {
          hostnqn: nqn.value,
          hostid: id.value.toLowerCase(),
          hostkey: values.key === null ? null : new Secret(values.key.value),
          symname: values.symname?.value ?? null,
        }
      : null;
  return {
    identity,
    found: { hostnqn: nqn?.value ?? null, hostid: id?.value ?? null },
    sources,
    diagnostics,
  };
}

async function readValueFile(
  path: string,
  key: HostKey,
  referencedFrom: { file: string; line: number } | null,
  diagnostics: Diagnostic[],
): Promise<{ value: string; file: string; line: number } | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const notFound = isErrnoException(err) && err.code === 'ENOENT';
    // A missing default file is reported by the caller for nqn/id, and is normal for key.
    if (notFound && referencedFrom === null) return null;
    const place = referencedFrom ?? { file: path, line: 0 };
    diagnostics.push({
      severity: key === 'nqn' || key === 'id' ? 'error' : 'warning',
      file: place.file,
      line: place.line,
      message: `cannot read ${path} for "${key}": ${describeError(err)}`,
    });
    return null;
  }
  const value = firstValueLine(text);
  if (value === null) {
    if (key === 'nqn' || key === 'id' || referencedFrom !== null) {
      diagnostics.push({
        severity: 'warning',
        file: path,
        line: 0,
        message: `file is empty; no "${key}" value in it`,
      });
    }
    return null;
  }
  const lineNo = text.split(/\r?\n/).findIndex((l) => l.trim() === value) + 1;
  return { value, file: path, line: lineNo };
}

function missing(what: string, source: ValueSource, sysConf: string, fix: string): Diagnostic {
  const where = source.origin === 'file' ? source.path : sysConf;
  return {
    severity: 'error',
    file: where,
    line: 0,
    message: `no ${what} configured (create it with: ${fix})`,
  };
}
