/**
 * INI reader with the semantics users of nvme-stas rely on (configparser-like),
 * minus its traps. Text in, data + diagnostics out: pure, never throws, never
 * logs, linear time. Tests: ini.test.ts, ini.prop.test.ts.
 *
 * Semantics (reference: nvme-stas-behaviour.md §1.1, §9.1):
 * - Lines end at `\n`, `\r\n` or a lone `\r`. A leading UTF-8 BOM is ignored.
 * - `[Name]` starts a section; the name is literal and case-sensitive (everything
 *   between `[` and the first `]`). Text after the `]` is ignored with a warning.
 *   A repeated section is merged into the first (entries stay in file order).
 * - A malformed header (`[Global`, `[]`) is an error. The lines after it, up to
 *   the next valid header, belong to no section: each entry there is ignored with
 *   a warning (they are NOT attributed to the section before the bad header).
 * - `key = value`: split at the FIRST `=` (`:` is not a delimiter); key folded to
 *   lower case; key and value stripped. A line without `=` is an entry whose value
 *   is null (the typed layer decides what that means). `= value` (no key) is
 *   ignored with a warning.
 * - Comments: whole lines whose first non-blank char is `#` or `;`; inline, a `#`
 *   preceded by whitespace starts a comment. `;` inside a line is always data.
 * - Entries before the first header are ignored with a warning each.
 * - No continuation lines: an indented line is parsed like any other. Blank lines
 *   are ignored.
 * - A line with a control character (C0 except TAB, or DEL; e.g. NUL) gets a
 *   warning and is still parsed as written. A line longer than MAX_LINE_LENGTH is
 *   ignored with a warning.
 * - At most MAX_DIAGNOSTICS diagnostics are listed; the rest are summed up in one
 *   final diagnostic (line 0) whose severity is the worst one it stands for, so
 *   hasErrors() stays truthful.
 */
import type { Diagnostic, Severity } from './diagnostic.js';
import { BOM, MAX_LINE_LENGTH, classifyLine, findControlChar, splitLines } from './ini-lines.js';

/** One `key = value` line. */
export interface IniEntry {
  /** Key folded to lower case (keys are case-insensitive). */
  readonly key: string;
  /** Value with surrounding blanks and any inline `  # comment` removed; null when the line has no `=`. */
  readonly value: string | null;
  /** 1-based line number of the entry. */
  readonly line: number;
}

/** A section; repeated `[Name]` headers are merged into the first, entries kept in file order. */
export interface IniSection {
  /** Section name exactly as written between the brackets (case-sensitive). */
  readonly name: string;
  /** Line of the first header of this section. */
  readonly line: number;
  readonly entries: readonly IniEntry[];
}

export interface IniDocument {
  readonly file: string;
  /** Sections in order of first appearance. */
  readonly sections: readonly IniSection[];
}

export interface IniParseResult {
  readonly doc: IniDocument;
  readonly diagnostics: readonly Diagnostic[];
}

/** Diagnostics listed individually before the rest are summed up. */
export const MAX_DIAGNOSTICS = 100;

interface MutableSection {
  readonly name: string;
  readonly line: number;
  readonly entries: IniEntry[];
}

/** Quote user text for a message: JSON-escaped (control chars visible) and shortened. */
function quote(text: string): string {
  const short = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return JSON.stringify(short);
}

class DiagnosticList {
  readonly list: Diagnostic[] = [];
  private dropped = 0;
  private droppedError = false;

  constructor(private readonly file: string) {}

  add(severity: Severity, line: number, message: string): void {
    if (this.list.length < MAX_DIAGNOSTICS) {
      this.list.push({ severity, file: this.file, line, message });
    } else {
      this.dropped++;
      if (severity === 'error') this.droppedError = true;
    }
  }

  finish(): Diagnostic[] {
    if (this.dropped > 0) {
      this.list.push({
        severity: this.droppedError ? 'error' : 'warning',
        file: this.file,
        line: 0,
        message: `${this.dropped} more problem(s) in this file not listed`,
      });
    }
    return this.list;
  }
}

export function parseIni(text: string, file: string): IniParseResult {
  const diags = new DiagnosticList(file);
  const sections = new Map<string, MutableSection>();
  let current: MutableSection | undefined;
  /** Line of the malformed header the following lines sit under, 0 when none. */
  let badHeaderLine = 0;

  const lines = splitLines(text.startsWith(BOM) ? text.slice(1) : text);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const kind = classifyLine(raw.text);
    if (kind.kind === 'too-long') {
      diags.add('warning', line, `line is longer than ${MAX_LINE_LENGTH} characters; ignored`);
      return;
    }
    const control = findControlChar(raw.text);
    if (control !== undefined) {
      diags.add('warning', line, `line contains control character ${control}; read as written`);
    }
    switch (kind.kind) {
      case 'blank':
      case 'comment':
        return;
      case 'bad-section':
        diags.add(
          'error',
          line,
          `malformed section header (${kind.reason}); lines up to the next section are ignored`,
        );
        current = undefined;
        badHeaderLine = line;
        return;
      case 'section': {
        if (kind.trailing !== '') {
          diags.add('warning', line, `text after section header ignored: ${quote(kind.trailing)}`);
        }
        badHeaderLine = 0;
        current = sections.get(kind.name);
        if (current === undefined) {
          current = { name: kind.name, line, entries: [] };
          sections.set(kind.name, current);
        }
        return;
      }
      case 'no-key':
        diags.add('warning', line, '"=" without a key; line ignored');
        return;
      case 'entry':
        if (current === undefined) {
          const where =
            badHeaderLine > 0
              ? `follows the malformed section header on line ${badHeaderLine}`
              : 'is outside any section';
          diags.add('warning', line, `key ${quote(kind.key)} ${where}; ignored`);
          return;
        }
        current.entries.push({ key: kind.key, value: kind.value, line });
        return;
    }
  });

  return { doc: { file, sections: [...sections.values()] }, diagnostics: diags.finish() };
}

/** The section named exactly `name` (case-sensitive), if present. */
export function findSection(doc: IniDocument, name: string): IniSection | undefined {
  return doc.sections.find((s) => s.name === name);
}

/** Every occurrence of `key` (any case) in `section`, in file order, across merged headers. */
export function entriesOf(doc: IniDocument, section: string, key: string): IniEntry[] {
  const wanted = key.toLowerCase();
  return findSection(doc, section)?.entries.filter((e) => e.key === wanted) ?? [];
}

/** The last occurrence of `key` (any case) in `section`: the one that wins for single-valued options. */
export function lastEntry(doc: IniDocument, section: string, key: string): IniEntry | undefined {
  return entriesOf(doc, section, key).at(-1);
}
