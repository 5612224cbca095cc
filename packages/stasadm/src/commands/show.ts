/**
 * stasadm show: the host identity stas will use, and where each value comes
 * from. Exit 1 (with the reasons on stderr) when the host NQN or host ID is
 * missing or invalid, so it doubles as a pre-flight check.
 *
 * Tests: ../cli.test.ts
 */
import { resolveHostIdentity } from '@stas/common/config/host-identity';
import type { ValueSource } from '@stas/common/config/host-identity';
import { formatDiagnostic } from '@stas/common/config/diagnostic';
import { REDACTED } from '@stas/common/util/secret';
import type { CommandContext } from '../cli.js';
import { sysConfForReading } from './identity.js';

export async function runShow(ctx: CommandContext, json: boolean): Promise<number> {
  const sysConf = sysConfForReading(ctx);
  const resolved = await resolveHostIdentity({ sysConf, etcNvme: ctx.paths.etcNvme });
  const id = resolved.identity;
  const values = {
    hostnqn: id?.hostnqn ?? resolved.found.hostnqn,
    hostid: id?.hostid ?? resolved.found.hostid,
    hostkey: id?.hostkey != null ? REDACTED : null,
    symname: id?.symname ?? null,
  };
  if (json) {
    const output = {
      ...values,
      valid: id !== null,
      sysConf,
      sources: {
        hostnqn: resolved.sources.nqn,
        hostid: resolved.sources.id,
        hostkey: resolved.sources.key,
        symname: resolved.sources.symname,
      },
      diagnostics: resolved.diagnostics,
    };
    ctx.out(JSON.stringify(output, null, 2) + '\n');
  } else {
    const from = (s: ValueSource): string => (s.origin === 'none' ? '' : `  (${s.path})`);
    const rows: [string, string | null, ValueSource][] = [
      ['hostnqn', values.hostnqn, resolved.sources.nqn],
      ['hostid', values.hostid, resolved.sources.id],
      ['hostkey', values.hostkey, resolved.sources.key],
      ['symname', values.symname, resolved.sources.symname],
    ];
    for (const [name, value, source] of rows) {
      ctx.out(`${name.padEnd(8)} ${value ?? '(not set)'}${value === null ? '' : from(source)}\n`);
    }
  }
  for (const d of resolved.diagnostics) ctx.err(formatDiagnostic(d) + '\n');
  return id === null ? 1 : 0;
}
