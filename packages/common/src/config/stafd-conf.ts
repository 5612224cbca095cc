/**
 * stafd.conf, typed: every key, its type, range and default, read from text.
 *
 * Pure: `parseStafdConf(text, file)` never throws; the daemon (and `stasadm
 * check`) gets a complete configuration plus diagnostics. Loading the file
 * from disk is conf-file.ts's job.
 *
 * Defaults are stas's (documented in etc/stas/stafd.conf): they match
 * nvme-stas except where nvme-stas had a defect (queue-size is really sent).
 * [Limits] is a stas extension (nvme-stas has no such section and would
 * report it as invalid): the bounds that keep stafd's memory finite.
 *
 * Tests: stafd-conf.test.ts
 */
import type { SectionValues } from './conf-reader.js';
import { checkUnknown, readOption, readSection, warn } from './conf-reader.js';
import { connectOptionSpecs, DISCOVERY_CONNECT_OPTIONS, pickSpecs } from './connect-options.js';
import type { ConfiguredController, Exclusion } from './controllers-section.js';
import { readControllers, readExclusions } from './controllers-section.js';
import type { Diagnostic } from './diagnostic.js';
import { lastEntry, parseIni } from './ini.js';
import { boolOption, durationOption, enabledOption, intOption, ipFamilyOption } from './option-types.js';
import { RETIRED_KEYS } from './retired-keys.js';
import { DEFAULT_MAX_LOG_ENTRIES } from '../nvme/session/log-reader.js';

const DC_MANAGEMENT = 'Discovery controller connection management';

/** [Limits] defaults: far above any real fabric, low enough to bound stafd's memory. */
export const STAFD_LIMIT_DEFAULTS = {
  'max-discovery-controllers': 1024,
  'max-log-page-entries': DEFAULT_MAX_LOG_ENTRIES,
} as const;

export const STAFD_SCHEMA = {
  sections: {
    Global: {
      tron: boolOption(false),
      ...pickSpecs(connectOptionSpecs(30), DISCOVERY_CONNECT_OPTIONS),
      'ignore-iface': boolOption(false),
      'ip-family': ipFamilyOption([4, 6]),
      pleo: enabledOption(true),
    },
    'Service Discovery': {
      zeroconf: enabledOption(true),
    },
    [DC_MANAGEMENT]: {
      'persistent-connections': boolOption(true),
      'zeroconf-connections-persistence': durationOption(72 * 3600),
    },
    Limits: {
      /** DCs held at once; configured DCs always count and are always held. */
      'max-discovery-controllers': intOption(STAFD_LIMIT_DEFAULTS['max-discovery-controllers'], {
        min: 1,
        max: 65_536,
      }),
      /** Entries (NUMREC) of one DC's discovery log page; a larger page is refused. */
      'max-log-page-entries': intOption(STAFD_LIMIT_DEFAULTS['max-log-page-entries'], {
        min: 1,
        max: 262_144,
      }),
    },
  },
  listKeys: { Controllers: ['controller', 'exclude', 'blacklist'] },
  retired: RETIRED_KEYS,
} as const;

type Sections = typeof STAFD_SCHEMA.sections;

export interface StafdConfig {
  readonly Global: SectionValues<Sections['Global']>;
  readonly 'Service Discovery': SectionValues<Sections['Service Discovery']>;
  readonly 'Discovery controller connection management': SectionValues<Sections[typeof DC_MANAGEMENT]>;
  readonly Limits: SectionValues<Sections['Limits']>;
  readonly controllers: readonly ConfiguredController[];
  readonly exclusions: readonly Exclusion[];
}

export interface ParsedConf<C> {
  readonly config: C;
  readonly diagnostics: readonly Diagnostic[];
}

export function parseStafdConf(text: string, file: string): ParsedConf<StafdConfig> {
  const { doc, diagnostics: iniDiagnostics } = parseIni(text, file);
  const diagnostics: Diagnostic[] = [...iniDiagnostics];
  checkUnknown(doc, STAFD_SCHEMA, diagnostics);

  const management = readSection(doc, DC_MANAGEMENT, STAFD_SCHEMA.sections[DC_MANAGEMENT], diagnostics);
  // nvme-stas ≤ 2.0 had persistent-connections in [Global]; honour it when the new key is absent.
  const legacy = lastEntry(doc, 'Global', 'persistent-connections');
  if (legacy !== undefined && lastEntry(doc, DC_MANAGEMENT, 'persistent-connections') === undefined) {
    management['persistent-connections'] = readOption(
      doc,
      'Global',
      'persistent-connections',
      STAFD_SCHEMA.sections[DC_MANAGEMENT]['persistent-connections'],
      diagnostics,
    );
    diagnostics.push(
      warn(file, legacy.line, `applied as [${DC_MANAGEMENT}] persistent-connections; move it there`),
    );
  }

  const config: StafdConfig = {
    Global: readSection(doc, 'Global', STAFD_SCHEMA.sections.Global, diagnostics),
    'Service Discovery': readSection(
      doc,
      'Service Discovery',
      STAFD_SCHEMA.sections['Service Discovery'],
      diagnostics,
    ),
    [DC_MANAGEMENT]: management,
    Limits: readSection(doc, 'Limits', STAFD_SCHEMA.sections.Limits, diagnostics),
    controllers: readControllers(doc, 'discovery', DISCOVERY_CONNECT_OPTIONS, diagnostics),
    exclusions: readExclusions(doc, diagnostics),
  };
  return { config, diagnostics: sortByLine(diagnostics) };
}

export function sortByLine(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) => a.line - b.line);
}
