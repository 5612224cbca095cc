/**
 * stasadm check: validate configuration files before `systemctl reload`, like
 * `sshd -t` or `nginx -t`.
 *
 * Each file is parsed with the same code the daemons use; every diagnostic is
 * printed as file:line. With --json the effective configuration is printed
 * (defaults applied, controller=/exclude= lines as parsed transport IDs,
 * durations in seconds, secrets redacted). Exit 0 when no file has an error.
 * Without FILE arguments, sys.conf, stafd.conf and stacd.conf in /etc/stas are
 * checked; a default file that does not exist is fine (defaults apply), a
 * named file that does not exist is an error.
 *
 * Tests: ../cli.test.ts
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ConfiguredController, Exclusion } from '@stas/common/config/controllers-section';
import type { Diagnostic } from '@stas/common/config/diagnostic';
import { formatDiagnostic, hasErrors } from '@stas/common/config/diagnostic';
import { parseStacdConf } from '@stas/common/config/stacd-conf';
import { parseStafdConf } from '@stas/common/config/stafd-conf';
import { parseSysConf } from '@stas/common/config/sys-conf';
import { describeError, isErrnoException } from '@stas/common/errors';
import { tidToDict } from '@stas/common/nvme/tid';
import type { CommandContext } from '../cli.js';

export const CONF_KINDS = ['sys', 'stafd', 'stacd'] as const;
export type ConfKind = (typeof CONF_KINDS)[number];

interface FileReport {
  readonly file: string;
  readonly kind: ConfKind;
  readonly exists: boolean;
  readonly diagnostics: readonly Diagnostic[];
  readonly config: unknown;
}

export function kindFromName(path: string): ConfKind | null {
  const name = basename(path);
  return CONF_KINDS.find((k) => name.startsWith(`${k}.`) || name.startsWith(`${k}-`) || name === k) ?? null;
}

export async function runCheck(
  ctx: CommandContext,
  files: readonly string[],
  kindOption: string | null,
  json: boolean,
): Promise<number> {
  let forcedKind: ConfKind | null = null;
  if (kindOption !== null) {
    forcedKind = CONF_KINDS.find((k) => k === kindOption) ?? null;
    if (forcedKind === null) {
      ctx.err(`stasadm: --kind must be one of ${CONF_KINDS.join(', ')}\n`);
      return 2;
    }
  }
  const explicit = files.length > 0;
  const targets = explicit ? files : CONF_KINDS.map((k) => join(ctx.paths.etcStas, `${k}.conf`));

  const reports: FileReport[] = [];
  for (const file of targets) {
    const kind = forcedKind ?? kindFromName(file);
    if (kind === null) {
      ctx.err(`stasadm: cannot tell what kind of file ${file} is; use --kind sys|stafd|stacd\n`);
      return 2;
    }
    reports.push(await checkFile(file, kind, explicit));
  }

  if (json) {
    ctx.out(JSON.stringify(reports, null, 2) + '\n');
  } else {
    for (const report of reports) {
      for (const d of report.diagnostics) ctx.out(formatDiagnostic(d) + '\n');
      const errors = report.diagnostics.filter((d) => d.severity === 'error').length;
      const warnings = report.diagnostics.length - errors;
      const state =
        !report.exists && errors === 0 ? 'not present, defaults apply' : errors > 0 ? 'FAILED' : 'OK';
      ctx.out(`${report.file}: ${state} (${errors} error(s), ${warnings} warning(s))\n`);
    }
  }
  return reports.some((r) => hasErrors(r.diagnostics)) ? 1 : 0;
}

async function checkFile(file: string, kind: ConfKind, mustExist: boolean): Promise<FileReport> {
  let text = '';
  let exists = true;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    exists = false;
    const absent = isErrnoException(err) && err.code === 'ENOENT';
    if (!absent || mustExist) {
      const diagnostic: Diagnostic = {
        severity: 'error',
        file,
        line: 0,
        message: `cannot read: ${describeError(err)}`,
      };
      return { file, kind, exists, diagnostics: [diagnostic], config: null };
    }
  }
  switch (kind) {
    case 'sys': {
      const { config, diagnostics } = parseSysConf(text, file);
      return { file, kind, exists, diagnostics, config: { Host: config.Host } };
    }
    case 'stafd':
      return daemonReport(file, kind, exists, parseStafdConf(text, file));
    case 'stacd':
      return daemonReport(file, kind, exists, parseStacdConf(text, file));
  }
}

/** A daemon file's report: its sections as parsed, with the controller lists in JSON form. */
function daemonReport(
  file: string,
  kind: ConfKind,
  exists: boolean,
  parsed: {
    config: { controllers: readonly ConfiguredController[]; exclusions: readonly Exclusion[] };
    diagnostics: readonly Diagnostic[];
  },
): FileReport {
  const { controllers, exclusions, ...sections } = parsed.config;
  return {
    file,
    kind,
    exists,
    diagnostics: parsed.diagnostics,
    config: { ...sections, Controllers: listsJson(controllers, exclusions) },
  };
}

function listsJson(controllers: readonly ConfiguredController[], exclusions: readonly Exclusion[]): unknown {
  return {
    controller: controllers.map((c) => ({
      ...tidToDict(c.tid),
      ...c.options,
      ...(c.dhchapSecret === null ? {} : { 'dhchap-secret': c.dhchapSecret }),
      ...(c.dhchapCtrlSecret === null ? {} : { 'dhchap-ctrl-secret': c.dhchapCtrlSecret }),
      line: c.line,
    })),
    exclude: exclusions.map((e) => ({ ...Object.fromEntries(e.filter), line: e.line })),
  };
}
