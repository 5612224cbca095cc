/**
 * Reading stafd's two configuration files from disk: stafd.conf (typed by
 * @stas/common/config/stafd-conf) and sys.conf with the host identity it
 * points to (@stas/common/config/host-identity).
 *
 * I/O: reads the files only. Never throws: a missing stafd.conf means "all
 * defaults" (as nvme-stas), an unreadable one is an error diagnostic plus the
 * defaults, and every problem inside a file is a diagnostic naming file:line
 * (the parsers fall back per key, so the valid parts always apply).
 *
 * Used by: daemon.ts
 * Tests:   daemon.test.ts, test/integration/stafd-daemon.test.ts
 */
import { readFile } from 'node:fs/promises';
import { resolveHostIdentity, type ResolvedIdentity } from '@stas/common/config/host-identity';
import type { Diagnostic } from '@stas/common/config/diagnostic';
import { parseStafdConf, type StafdConfig } from '@stas/common/config/stafd-conf';
import { describeError, isErrnoException } from '@stas/common/errors';

export interface StafdConfRead {
  readonly config: StafdConfig;
  readonly diagnostics: readonly Diagnostic[];
  /** False when the file does not exist (defaults apply). */
  readonly exists: boolean;
}

export async function readStafdConf(file: string): Promise<StafdConfRead> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const defaults = parseStafdConf('', file).config;
    if (isErrnoException(err) && err.code === 'ENOENT') {
      return { config: defaults, diagnostics: [], exists: false };
    }
    return {
      config: defaults,
      diagnostics: [
        { severity: 'error', file, line: 0, message: `cannot read: ${describeError(err)}; defaults apply` },
      ],
      exists: false,
    };
  }
  const parsed = parseStafdConf(text, file);
  return { config: parsed.config, diagnostics: parsed.diagnostics, exists: true };
}

export function readIdentity(sysConfFile: string, etcNvme: string): Promise<ResolvedIdentity> {
  return resolveHostIdentity({ sysConf: sysConfFile, etcNvme });
}
