/**
 * Comment-preserving, in-place editing of INI text (stasadm editing sys.conf).
 *
 * Pure: text in, text out; no I/O. Uses the same lexer as the reader
 * (ini-lines.ts), so "the entry for key K in section S" means exactly what
 * parseIni would read. Throws ConfigError CONFIG_BAD_VALUE for a section, key or
 * value that would not read back as given. Tests: ini-edit.test.ts,
 * ini-edit.prop.test.ts.
 *
 * Guarantees: every line that is not edited keeps every byte (comments, blank
 * lines, order, spacing, its own line terminator, a missing final newline). New
 * lines use the terminator of the line they follow, else the file's first
 * terminator, else `\n`.
 *
 * setIniValue(text, section, key, value):
 * - key present in the section (any case, any of the merged `[section]` blocks):
 *   the LAST occurrence's value is replaced, keeping the key's spelling, the
 *   spacing around `=` and any inline comment. Earlier duplicates are left alone
 *   (the last one wins when read). A bare `key` line becomes `key = value`.
 * - key absent, section present: the line `key = value` goes right after the last
 *   commented-out template for that key in the section (`#key = …`, `# key=…`,
 *   `;key`), else after the section's last entry line (so trailing comments and
 *   blank lines stay before the next header), else right after the section's last
 *   header. If that line was the file's last line and had no terminator, it gets
 *   one and the new line becomes the unterminated last line.
 * - section absent: `[section]` and `key = value` are appended, after a blank
 *   line unless the text is empty.
 * removeIniKey(text, section, key): deletes every line of that key in that
 * section (with its terminator); text without such lines comes back unchanged.
 * Lines before the first header or after a malformed header belong to no section
 * and are never touched.
 */
import { ConfigError } from '../errors.js';
import type { EntryLine, LineKind, RawLine } from './ini-lines.js';
import { BOM, classifyLine, findControlChar, joinLines, splitLines } from './ini-lines.js';

interface Line {
  raw: RawLine;
  /** Leading BOM (first line only) that classification skipped. */
  readonly bom: string;
  readonly kind: LineKind;
  /** Section this line belongs to (a header belongs to its own section); null outside any. */
  readonly section: string | null;
}

function bad(message: string): ConfigError {
  return new ConfigError('CONFIG_BAD_VALUE', message);
}

function describe(what: string, text: string): string {
  return `${what} ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)}`;
}

function checkNoControl(what: string, text: string): void {
  const control = findControlChar(text);
  if (control !== undefined) throw bad(`${describe(what, text)} contains control character ${control}`);
}

function checkSection(section: string): void {
  checkNoControl('section', section);
  const kind = classifyLine(`[${section}]`);
  if (kind.kind !== 'section' || kind.name !== section || kind.trailing !== '') {
    throw bad(`${describe('section', section)} cannot be written as a section header`);
  }
}

function checkEntry(key: string, value: string): void {
  checkNoControl('key', key);
  checkNoControl('value', value);
  const kind = classifyLine(`${key} = ${value}`);
  if (kind.kind !== 'entry' || kind.key !== key.toLowerCase() || kind.value !== value) {
    // Say which part is at fault.
    const keyOnly = classifyLine(`${key} = x`);
    if (keyOnly.kind !== 'entry' || keyOnly.key !== key.toLowerCase()) {
      throw bad(`${describe('key', key)} cannot be written as an INI key`);
    }
    throw bad(
      `${describe('value', value)} would not read back as written ` +
        '(leading/trailing blanks, a leading "#" or a " #" comment marker)',
    );
  }
}

function analyse(text: string): Line[] {
  let section: string | null = null;
  return splitLines(text).map((raw, index) => {
    const bom = index === 0 && raw.text.startsWith(BOM) ? BOM : '';
    const kind = classifyLine(raw.text.slice(bom.length));
    if (kind.kind === 'section') section = kind.name;
    else if (kind.kind === 'bad-section') section = null;
    return { raw, bom, kind, section };
  });
}

function isEntryOf(line: Line, section: string, key: string): boolean {
  return line.section === section && line.kind.kind === 'entry' && line.kind.key === key;
}

/** A comment line that looks like a commented-out `key = …` (or bare `key`). */
function isTemplateFor(line: Line, key: string): boolean {
  if (line.kind.kind !== 'comment') return false;
  const body = line.raw.text
    .slice(line.bom.length)
    .trimStart()
    .replace(/^[#;]+/, '')
    .trimStart();
  if (body.slice(0, key.length).toLowerCase() !== key) return false;
  const after = body.slice(key.length).trimStart();
  return after === '' || after.startsWith('=');
}

/** The line with its value replaced; key spelling, spacing and inline comment kept. */
function rewriteEntry(text: string, entry: EntryLine, value: string): string {
  if (entry.eq < 0) return `${text.slice(0, entry.keyEnd)} = ${value}${text.slice(entry.keyEnd)}`;
  if (entry.value === '') {
    // `key =` or `key =  # note`: add one blank after `=` when the key side has one.
    const space = /\s/.test(text.charAt(entry.eq - 1)) && value !== '' ? ' ' : '';
    return `${text.slice(0, entry.eq + 1)}${space}${value}${text.slice(entry.eq + 1)}`;
  }
  return `${text.slice(0, entry.valueStart)}${value}${text.slice(entry.valueEnd)}`;
}

function firstEol(lines: readonly Line[]): RawLine['eol'] {
  return lines.find((l) => l.raw.eol !== '')?.raw.eol ?? '\n';
}

export function setIniValue(text: string, section: string, key: string, value: string): string {
  checkSection(section);
  checkEntry(key, value);
  const wanted = key.toLowerCase();
  const lines = analyse(text);

  let match: { index: number; line: Line; entry: EntryLine } | undefined;
  let lastTemplate = -1;
  let lastEntry = -1;
  let lastHeader = -1;
  for (const [i, line] of lines.entries()) {
    if (line.section !== section) continue;
    if (line.kind.kind === 'section') lastHeader = i;
    else if (line.kind.kind === 'entry') {
      lastEntry = i;
      if (line.kind.key === wanted) match = { index: i, line, entry: line.kind };
    } else if (isTemplateFor(line, wanted)) lastTemplate = i;
  }

  if (match !== undefined) {
    const { line, entry } = match;
    const edited = rewriteEntry(line.raw.text.slice(line.bom.length), entry, value);
    const check = classifyLine(edited);
    if (check.kind !== 'entry' || check.key !== wanted || check.value !== value) {
      throw bad(`${describe('value', value)} would not read back as written on line ${match.index + 1}`);
    }
    line.raw = { text: line.bom + edited, eol: line.raw.eol };
    return joinLines(lines.map((l) => l.raw));
  }

  const newText = `${key} = ${value}`;
  const after = lastTemplate >= 0 ? lastTemplate : lastEntry >= 0 ? lastEntry : lastHeader;
  const anchor = lines[after];
  if (anchor !== undefined) {
    const raws = lines.map((l) => l.raw);
    let eol = anchor.raw.eol;
    if (eol === '') {
      eol = firstEol(lines);
      raws[after] = { text: anchor.raw.text, eol };
      raws.splice(after + 1, 0, { text: newText, eol: '' });
    } else {
      raws.splice(after + 1, 0, { text: newText, eol });
    }
    return joinLines(raws);
  }

  const eol = firstEol(lines);
  const block = `[${section}]${eol}${newText}${eol}`;
  if (text === '' || text === BOM) return text + block;
  const last = lines.at(-1);
  const terminated = last !== undefined && last.raw.eol !== '';
  return `${text}${terminated ? '' : eol}${eol}${block}`;
}

export function removeIniKey(text: string, section: string, key: string): string {
  checkSection(section);
  checkEntry(key, '');
  const wanted = key.toLowerCase();
  const lines = analyse(text);
  if (!lines.some((l) => isEntryOf(l, section, wanted))) return text;
  return joinLines(lines.filter((l) => !isEntryOf(l, section, wanted)).map((l) => l.raw));
}
