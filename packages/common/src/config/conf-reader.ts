/**
 * Reads typed values out of a parsed INI document according to a schema, and
 * reports everything the schema does not know.
 *
 * Pure. Rules (shared by stafd.conf, stacd.conf and sys.conf):
 * - a missing key takes the schema default, silently;
 * - a key without `=`, or with a value the option rejects, is an `error`
 *   diagnostic naming file:line, and the default is used (the daemon keeps
 *   running; `stasadm check` exits 1);
 * - a scalar key given more than once: the last one wins, with a warning
 *   pointing at the lines that lost;
 * - unknown sections and keys are warnings (with a hint when only the case
 *   differs, or when the key is a retired nvme-stas option).
 *
 * Tests: conf-reader.test.ts and the per-daemon tests.
 */
import type { Diagnostic } from './diagnostic.js';
import type { IniDocument, IniEntry } from './ini.js';
import { entriesOf } from './ini.js';
import type { OptionSpec } from './option-types.js';

export type SectionSchema = Readonly<Record<string, OptionSpec<unknown>>>;

export type SectionValues<S extends SectionSchema> = {
  -readonly [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : never;
};

/** What a file may contain: scalar sections, plus keys that may repeat (controller=, exclude=). */
export interface FileSchema {
  readonly sections: Readonly<Record<string, SectionSchema>>;
  /** Section → keys that may appear many times; read by the caller with `entriesOf`. */
  readonly listKeys: Readonly<Record<string, readonly string[]>>;
  /** Retired keys (any section) → what to tell the admin. */
  readonly retired: Readonly<Record<string, string>>;
}

export function formatDefault(value: unknown): string {
  if (value === null) return 'unset (kernel default)';
  if (Array.isArray(value))
    return value.map((v) => (typeof v === 'number' ? `ipv${v}` : String(v))).join('+');
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  return JSON.stringify(value);
}

export function readSection<S extends SectionSchema>(
  doc: IniDocument,
  section: string,
  schema: S,
  diagnostics: Diagnostic[],
): SectionValues<S> {
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    values[key] = readOption(doc, section, key, spec, diagnostics);
  }
  return values as SectionValues<S>;
}

export function readOption<T>(
  doc: IniDocument,
  section: string,
  key: string,
  spec: OptionSpec<T>,
  diagnostics: Diagnostic[],
): T {
  const entries = entriesOf(doc, section, key);
  const last = entries.at(-1);
  if (last === undefined) return spec.default;
  if (entries.length > 1) {
    const earlier = entries.slice(0, -1).map((e) => e.line);
    diagnostics.push(
      warn(
        doc.file,
        last.line,
        `[${section}] ${key} is set more than once; this line wins over line(s) ${earlier.join(', ')}`,
      ),
    );
  }
  return convertEntry(doc.file, section, last, spec, diagnostics);
}

/** Converts one entry's value with `spec`, reporting problems; returns the default when unusable. */
export function convertEntry<T>(
  file: string,
  section: string,
  entry: IniEntry,
  spec: OptionSpec<T>,
  diagnostics: Diagnostic[],
): T {
  const fallback = `; using the default (${formatDefault(spec.default)})`;
  if (entry.value === null) {
    diagnostics.push(
      error(file, entry.line, `[${section}] ${entry.key} has no value (expected ${spec.accepts})${fallback}`),
    );
    return spec.default;
  }
  const outcome = spec.parse(entry.value);
  if (!outcome.ok) {
    diagnostics.push(error(file, entry.line, `[${section}] ${entry.key}: ${outcome.message}${fallback}`));
    return spec.default;
  }
  if (outcome.warning !== undefined) {
    diagnostics.push(warn(file, entry.line, `[${section}] ${entry.key}: ${outcome.warning}`));
  }
  return outcome.value;
}

/** Warnings for sections and keys the schema does not know. */
export function checkUnknown(doc: IniDocument, schema: FileSchema, diagnostics: Diagnostic[]): void {
  const sectionNames = new Set([...Object.keys(schema.sections), ...Object.keys(schema.listKeys)]);
  for (const section of doc.sections) {
    if (!sectionNames.has(section.name)) {
      const hint = [...sectionNames].find((n) => n.toLowerCase() === section.name.trim().toLowerCase());
      const suffix = hint !== undefined ? ` (did you mean [${hint}]? section names are case-sensitive)` : '';
      diagnostics.push(warn(doc.file, section.line, `unknown section [${section.name}] ignored${suffix}`));
      continue;
    }
    const known = new Set([
      ...Object.keys(schema.sections[section.name] ?? {}),
      ...(schema.listKeys[section.name] ?? []),
    ]);
    for (const entry of section.entries) {
      if (known.has(entry.key)) continue;
      const retired = schema.retired[entry.key];
      const elsewhere = Object.entries(schema.sections).find(([, s]) => entry.key in s)?.[0];
      let message = `unknown key "${entry.key}" in [${section.name}] ignored`;
      if (retired !== undefined) message = `"${entry.key}" is no longer used: ${retired}`;
      else if (elsewhere !== undefined) message += ` (it belongs in [${elsewhere}])`;
      diagnostics.push(warn(doc.file, entry.line, message));
    }
  }
}

export function warn(file: string, line: number, message: string): Diagnostic {
  return { severity: 'warning', file, line, message };
}

export function error(file: string, line: number, message: string): Diagnostic {
  return { severity: 'error', file, line, message };
}
