/**
 * stacd.conf for the daemon: read the file, parse it (config/stacd-conf.ts),
 * and derive the planner's policy from it.
 *
 * I/O: `loadStacdConf` reads one file and never throws. A missing file is
 * `missing: true` with the built-in defaults (no controllers); an unreadable
 * one is an error diagnostic and `config: null` (the caller keeps the last
 * good configuration). Invalid lines are diagnostics naming file:line; the
 * valid parts of the file still apply (stacd-conf.ts).
 * `policyOf` is pure.
 *
 * Tests: stacd-config.test.ts
 */
import { readFile } from 'node:fs/promises';
import { IO_CONNECT_OPTIONS } from '@stas/common/config/connect-options';
import type { ConnectOptions } from '@stas/common/config/connect-options';
import type { Diagnostic } from '@stas/common/config/diagnostic';
import type { StacdConfig } from '@stas/common/config/stacd-conf';
import { parseStacdConf } from '@stas/common/config/stacd-conf';
import { describeError, isErrnoException } from '@stas/common/errors';
import type { IocPolicy } from './plan.js';

export interface LoadedConf {
  /** null: the file could not be read (keep the previous configuration). */
  readonly config: StacdConfig | null;
  readonly diagnostics: readonly Diagnostic[];
  /** The file does not exist: `config` holds the defaults. */
  readonly missing: boolean;
}

export async function loadStacdConf(file: string): Promise<LoadedConf> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (isErrnoException(err) && err.code === 'ENOENT') {
      return { config: parseStacdConf('', file).config, diagnostics: [], missing: true };
    }
    return {
      config: null,
      diagnostics: [{ severity: 'error', file, line: 0, message: `cannot read: ${describeError(err)}` }],
      missing: false,
    };
  }
  const parsed = parseStacdConf(text, file);
  return { config: parsed.config, diagnostics: parsed.diagnostics, missing: false };
}

/** The planner's policy from a parsed stacd.conf. */
export function policyOf(config: StacdConfig): IocPolicy {
  const management = config['I/O controller connection management'];
  const options: Partial<Record<keyof ConnectOptions, unknown>> = {};
  for (const key of IO_CONNECT_OPTIONS) options[key] = config.Global[key];
  return {
    disconnectScope: management['disconnect-scope'],
    disconnectTrtypes: management['disconnect-trtypes'],
    ipFamily: config.Global['ip-family'],
    ignoreIface: config.Global['ignore-iface'],
    connectAttemptsOnNcc: management['connect-attempts-on-ncc'],
    options: options as Partial<ConnectOptions>,
  };
}
