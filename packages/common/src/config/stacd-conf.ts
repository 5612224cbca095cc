/**
 * stacd.conf, typed: every key, its type, range and default, read from text.
 *
 * Pure, like stafd-conf.ts. stacd differs from stafd in its defaults (kato is
 * left to the kernel), in the I/O queue options and in the disconnect policy
 * of `[I/O controller connection management]`.
 *
 * Tests: stacd-conf.test.ts
 */
import type { SectionValues } from './conf-reader.js';
import { checkUnknown, readSection, warn } from './conf-reader.js';
import { connectOptionSpecs, IO_CONNECT_OPTIONS, pickSpecs } from './connect-options.js';
import type { ConfiguredController, Exclusion } from './controllers-section.js';
import { readControllers, readExclusions } from './controllers-section.js';
import type { Diagnostic } from './diagnostic.js';
import { lastEntry, parseIni } from './ini.js';
import { boolOption, intOption, ipFamilyOption, oneOfOption, transportSetOption } from './option-types.js';
import { RETIRED_KEYS } from './retired-keys.js';
import type { ParsedConf } from './stafd-conf.js';
import { sortByLine } from './stafd-conf.js';

const IOC_MANAGEMENT = 'I/O controller connection management';

export const DISCONNECT_SCOPES = [
  'only-stas-connections',
  'all-connections-matching-disconnect-trtypes',
  'no-disconnect',
] as const;
export type DisconnectScope = (typeof DISCONNECT_SCOPES)[number];

export const STACD_SCHEMA = {
  sections: {
    Global: {
      tron: boolOption(false),
      ...pickSpecs(connectOptionSpecs(null), IO_CONNECT_OPTIONS),
      'ignore-iface': boolOption(false),
      'ip-family': ipFamilyOption([4, 6]),
    },
    [IOC_MANAGEMENT]: {
      'disconnect-scope': oneOfOption(DISCONNECT_SCOPES, 'only-stas-connections'),
      'disconnect-trtypes': transportSetOption(['tcp']),
      'connect-attempts-on-ncc': intOption(0, { min: 0, max: 1_000_000 }),
    },
  },
  listKeys: { Controllers: ['controller', 'exclude', 'blacklist'] },
  retired: RETIRED_KEYS,
} as const;

type Sections = typeof STACD_SCHEMA.sections;

export interface StacdConfig {
  readonly Global: SectionValues<Sections['Global']>;
  readonly 'I/O controller connection management': SectionValues<Sections[typeof IOC_MANAGEMENT]>;
  readonly controllers: readonly ConfiguredController[];
  readonly exclusions: readonly Exclusion[];
}

export function parseStacdConf(text: string, file: string): ParsedConf<StacdConfig> {
  const { doc, diagnostics: iniDiagnostics } = parseIni(text, file);
  const diagnostics: Diagnostic[] = [...iniDiagnostics];
  checkUnknown(doc, STACD_SCHEMA, diagnostics);

  const management = readSection(doc, IOC_MANAGEMENT, STACD_SCHEMA.sections[IOC_MANAGEMENT], diagnostics);
  if (management['connect-attempts-on-ncc'] === 1) {
    // One attempt cannot tell a transient failure from a lasting one; nvme-stas also uses 2.
    management['connect-attempts-on-ncc'] = 2;
    const line = lastEntry(doc, IOC_MANAGEMENT, 'connect-attempts-on-ncc')?.line ?? 0;
    diagnostics.push(warn(file, line, 'connect-attempts-on-ncc = 1 is raised to 2'));
  }

  const config: StacdConfig = {
    Global: readSection(doc, 'Global', STACD_SCHEMA.sections.Global, diagnostics),
    [IOC_MANAGEMENT]: management,
    controllers: readControllers(doc, 'io', IO_CONNECT_OPTIONS, diagnostics),
    exclusions: readExclusions(doc, diagnostics),
  };
  return { config, diagnostics: sortByLine(diagnostics) };
}
