/**
 * The host-wide NVMe-oF exclusion list shared by every orchestrator:
 * `<etcNvme>/exclusions.conf` (the default list) plus
 * `<etcNvme>/exclusions.conf.d/<name>.conf` (named drop-ins). (libnvme design
 * EXCLUSIONS.md; landscape §0, §1.A.)
 *
 * Syntax: INI; only the `[exclusions]` section counts (other sections are
 * ignored, reserved for later versions). Each `exclusion = key=value;key=value`
 * line is one entry. Keys, spelled as the `nvme connect` options: transport,
 * traddr, trsvcid, nqn, host-traddr, host-iface, hostnqn, hostid.
 *
 * Semantics (fail-safe): a TID is excluded when it matches ANY valid entry of
 * ANY list. An entry matches when every field it names matches the TID
 * (tid.ts `tidMatchesFilter`: addresses compared canonically, so IPv6
 * spellings and IPv4-mapped forms are equal; fc case-insensitive); a field the
 * TID has no value for does not match. An entry with an unknown key, a
 * repeated key, an empty value or no field at all is invalid and matches
 * nothing (reported as a warning diagnostic).
 *
 * Reading fails open: a missing file is an empty list; an unreadable one
 * contributes nothing and a warning diagnostic. Nothing is cached: read again
 * before each auto-connect decision, as libnvme does.
 *
 * `parseExclusionsFile` and `findExclusion` are pure; `readExclusionLists`
 * reads the files. Tests: exclusions.test.ts
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Diagnostic } from '../config/diagnostic.js';
import { parseIni } from '../config/ini.js';
import { describeError, isErrnoException } from '../errors.js';
import type { Tid, TidFilterKey } from '../nvme/tid.js';
import { tidMatchesFilter } from '../nvme/tid.js';

export const EXCLUSIONS_SECTION = 'exclusions';
export const DEFAULT_LIST = 'exclusions';

/** Entry key → the tid.ts filter key it tests. */
const ENTRY_KEYS: Readonly<Record<string, TidFilterKey>> = {
  transport: 'transport',
  traddr: 'traddr',
  trsvcid: 'trsvcid',
  nqn: 'nqn',
  'host-traddr': 'host-traddr',
  'host-iface': 'host-iface',
  hostnqn: 'host-nqn',
  hostid: 'host-id',
};

export interface ExclusionEntry {
  /** List name: `exclusions` for exclusions.conf, else the drop-in's base name. */
  readonly list: string;
  readonly file: string;
  readonly line: number;
  /** The entry as written (after `exclusion =`). */
  readonly text: string;
  /** tid.ts filter; null for an invalid entry (matches nothing). */
  readonly filter: ReadonlyMap<TidFilterKey, string> | null;
}

export interface ExclusionLists {
  readonly entries: readonly ExclusionEntry[];
  readonly diagnostics: readonly Diagnostic[];
}

function warning(file: string, line: number, message: string): Diagnostic {
  return { severity: 'warning', file, line, message };
}

/** The filter of one entry's text, or the reason it is invalid. */
export function parseExclusionEntry(
  text: string,
): { filter: Map<TidFilterKey, string> } | { problem: string } {
  const filter = new Map<TidFilterKey, string>();
  const seen = new Set<string>();
  for (const raw of text.split(';')) {
    const field = raw.trim();
    if (field === '') continue;
    const eq = field.indexOf('=');
    if (eq <= 0) return { problem: `"${field}" is not key=value` };
    const key = field.slice(0, eq).trim();
    const value = field.slice(eq + 1).trim();
    const filterKey = ENTRY_KEYS[key];
    if (filterKey === undefined) return { problem: `unknown key "${key}"` };
    if (seen.has(key)) return { problem: `"${key}" appears twice` };
    if (value === '') return { problem: `"${key}" has no value` };
    seen.add(key);
    filter.set(filterKey, value);
  }
  if (filter.size === 0) return { problem: 'the entry names no field' };
  return { filter };
}

/** Parse one list file. Pure; never throws. */
export function parseExclusionsFile(
  text: string,
  file: string,
  list: string,
): { entries: ExclusionEntry[]; diagnostics: Diagnostic[] } {
  const { doc, diagnostics: iniDiagnostics } = parseIni(text, file);
  const diagnostics: Diagnostic[] = iniDiagnostics.map((d) => ({ ...d, severity: 'warning' as const }));
  const entries: ExclusionEntry[] = [];
  for (const section of doc.sections) {
    if (section.name !== EXCLUSIONS_SECTION) continue;
    for (const entry of section.entries) {
      if (entry.key !== 'exclusion') {
        diagnostics.push(
          warning(file, entry.line, `"${entry.key}" is not a known key of [${EXCLUSIONS_SECTION}]; ignored`),
        );
        continue;
      }
      const value = entry.value ?? '';
      const parsed = parseExclusionEntry(value);
      if ('problem' in parsed) {
        diagnostics.push(
          warning(file, entry.line, `exclusion ignored (it matches nothing): ${parsed.problem}`),
        );
        entries.push({ list, file, line: entry.line, text: value, filter: null });
      } else {
        entries.push({ list, file, line: entry.line, text: value, filter: parsed.filter });
      }
    }
  }
  return { entries, diagnostics };
}

/** The first valid entry that excludes `tid`, or undefined. */
export function findExclusion(tid: Tid, entries: readonly ExclusionEntry[]): ExclusionEntry | undefined {
  return entries.find((e) => e.filter !== null && tidMatchesFilter(tid, e.filter));
}

async function readList(
  file: string,
  list: string,
): Promise<{ entries: ExclusionEntry[]; diagnostics: Diagnostic[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (isErrnoException(err) && err.code === 'ENOENT') return { entries: [], diagnostics: [] };
    return {
      entries: [],
      diagnostics: [
        warning(file, 0, `cannot read the exclusion list (${describeError(err)}); nothing excluded by it`),
      ],
    };
  }
  return parseExclusionsFile(text, file, list);
}

/** Read the default list and every drop-in (sorted by name). Never rejects. */
export async function readExclusionLists(etcNvme: string): Promise<ExclusionLists> {
  const dropinDir = join(etcNvme, 'exclusions.conf.d');
  const files: { file: string; list: string }[] = [
    { file: join(etcNvme, 'exclusions.conf'), list: DEFAULT_LIST },
  ];
  const diagnostics: Diagnostic[] = [];
  try {
    const names = (await readdir(dropinDir)).filter((n) => n.endsWith('.conf') && !n.startsWith('.')).sort();
    for (const name of names)
      files.push({ file: join(dropinDir, name), list: name.slice(0, -'.conf'.length) });
  } catch (err) {
    if (!(isErrnoException(err) && (err.code === 'ENOENT' || err.code === 'ENOTDIR'))) {
      diagnostics.push(
        warning(dropinDir, 0, `cannot list the drop-in exclusion lists (${describeError(err)})`),
      );
    }
  }
  const results = await Promise.all(files.map((f) => readList(f.file, f.list)));
  return {
    entries: results.flatMap((r) => r.entries),
    diagnostics: [...diagnostics, ...results.flatMap((r) => r.diagnostics)],
  };
}
