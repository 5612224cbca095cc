/**
 * sys.conf, typed: the `[Host]` section naming the host's identity.
 *
 * Pure. Values are kept as written: either a literal or `file://PATH`, which
 * host-identity.ts resolves (and validates) when it reads the files. A key
 * that is absent means "use the default file" (/etc/nvme/hostnqn, hostid,
 * hostkey); symname has no default.
 *
 * Tests: sys-conf.test.ts
 */
import type { SectionValues } from './conf-reader.js';
import { checkUnknown, readSection } from './conf-reader.js';
import type { Diagnostic } from './diagnostic.js';
import { lastEntry, parseIni } from './ini.js';
import { textOption } from './option-types.js';
import type { ParsedConf } from './stafd-conf.js';
import { sortByLine } from './stafd-conf.js';

export const SYS_SCHEMA = {
  sections: {
    Host: {
      nqn: textOption(),
      id: textOption(),
      key: textOption(),
      symname: textOption(),
    },
  },
  listKeys: {},
  retired: {},
} as const;

export type HostKey = keyof typeof SYS_SCHEMA.sections.Host;

export interface SysConfig {
  readonly Host: SectionValues<typeof SYS_SCHEMA.sections.Host>;
  /** Line of each key that is set, so later validation can name file:line. */
  readonly lines: Readonly<Partial<Record<HostKey, number>>>;
}

export function parseSysConf(text: string, file: string): ParsedConf<SysConfig> {
  const { doc, diagnostics: iniDiagnostics } = parseIni(text, file);
  const diagnostics: Diagnostic[] = [...iniDiagnostics];
  checkUnknown(doc, SYS_SCHEMA, diagnostics);
  const lines: Partial<Record<HostKey, number>> = {};
  for (const key of Object.keys(SYS_SCHEMA.sections.Host) as HostKey[]) {
    const entry = lastEntry(doc, 'Host', key);
    if (entry !== undefined) lines[key] = entry.line;
  }
  const config: SysConfig = { Host: readSection(doc, 'Host', SYS_SCHEMA.sections.Host, diagnostics), lines };
  return { config, diagnostics: sortByLine(diagnostics) };
}
