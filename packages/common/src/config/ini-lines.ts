/**
 * The INI lexer shared by the reader (ini.ts) and the text editor (ini-edit.ts):
 * splitting text into lines (keeping each line's terminator) and classifying
 * one line. Keeping this in one place guarantees the editor sees exactly the
 * entries the reader sees.
 *
 * Pure: no I/O. Never throws; every input string yields a classification.
 * Runs in time linear in the input. Tests: ini.test.ts, ini-edit.test.ts,
 * ini.prop.test.ts.
 *
 * Line rules (see ini.ts for the full file semantics):
 * - terminators are `\r\n`, `\n` and a lone `\r` (Python's universal newlines,
 *   which nvme-stas read its files with);
 * - blank line; full-line comment (first non-blank char `#` or `;`);
 * - an inline comment starts at a `#` preceded by whitespace; `;` is never an
 *   inline comment;
 * - `[Name]` section header (name literal, up to the first `]`);
 * - otherwise an entry: key before the FIRST `=`, value after it; no `=` means
 *   value null.
 */

/** Lines longer than this are ignored (with a diagnostic); no sane config line comes near it. */
export const MAX_LINE_LENGTH = 65_536;

export const BOM = '\uFEFF';

/** One physical line: its text and its terminator (`''` for a final line without one). */
export interface RawLine {
  readonly text: string;
  readonly eol: '' | '\n' | '\r\n' | '\r';
}

export type LineKind =
  | { readonly kind: 'blank' }
  | { readonly kind: 'comment' }
  | { readonly kind: 'too-long' }
  /** `trailing`: text after the closing `]` (ignored). */
  | { readonly kind: 'section'; readonly name: string; readonly trailing: string }
  | { readonly kind: 'bad-section'; readonly reason: string }
  /** `= value`: an `=` with nothing before it. */
  | { readonly kind: 'no-key' }
  | EntryLine;

export interface EntryLine {
  readonly kind: 'entry';
  /** Key folded to lower case. */
  readonly key: string;
  readonly value: string | null;
  /** Offsets into the line text: the key as written is text.slice(keyStart, keyEnd). */
  readonly keyStart: number;
  readonly keyEnd: number;
  /** Index of the `=`, or -1 when the line has none. */
  readonly eq: number;
  /** The value as written is text.slice(valueStart, valueEnd); both are eq + 1 when the value is empty. */
  readonly valueStart: number;
  readonly valueEnd: number;
}

/** Split text into lines, each with its own terminator; joining text + eol of all lines gives back the input. */
export function splitLines(text: string): RawLine[] {
  // split() with a capturing group alternates text and terminator: [text, eol, text, eol, …, text].
  const pieces = text.split(/(\r\n|\n|\r)/);
  const lines: RawLine[] = [];
  for (let i = 0; i + 1 < pieces.length; i += 2) {
    lines.push({ text: pieces[i] ?? '', eol: (pieces[i + 1] ?? '') as RawLine['eol'] });
  }
  const last = pieces.at(-1) ?? '';
  if (last !== '') lines.push({ text: last, eol: '' });
  return lines;
}

export function joinLines(lines: readonly RawLine[]): string {
  return lines.map((l) => l.text + l.eol).join('');
}

// C0 controls except TAB, and DEL. (CR/LF cannot occur inside a split line.)
// eslint-disable-next-line no-control-regex
const CONTROL_CHAR = /[\x00-\x08\x0a-\x1f\x7f]/;

/** The first control character in the line as `U+XXXX`, or undefined when there is none (TAB is allowed). */
export function findControlChar(text: string): string | undefined {
  const m = CONTROL_CHAR.exec(text);
  if (m === null) return undefined;
  return `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

const WHITESPACE = /\s/;

/** Index where an inline comment starts (a `#` preceded by whitespace), or text.length when there is none. */
export function inlineCommentStart(text: string): number {
  let from = 1;
  for (;;) {
    const i = text.indexOf('#', from);
    if (i < 0) return text.length;
    if (WHITESPACE.test(text.charAt(i - 1))) return i;
    from = i + 1;
  }
}

/** Classify one line (without its terminator, and without a leading BOM). */
export function classifyLine(text: string): LineKind {
  if (text.length > MAX_LINE_LENGTH) return { kind: 'too-long' };
  const leading = text.length - text.trimStart().length;
  if (leading === text.length) return { kind: 'blank' };
  const first = text.charAt(leading);
  if (first === '#' || first === ';') return { kind: 'comment' };

  const body = text.slice(0, inlineCommentStart(text));
  const bodyEnd = body.trimEnd().length;
  if (first === '[') {
    const close = body.indexOf(']', leading + 1);
    if (close < 0) return { kind: 'bad-section', reason: 'no closing "]"' };
    const name = body.slice(leading + 1, close);
    if (name === '') return { kind: 'bad-section', reason: 'empty section name' };
    return { kind: 'section', name, trailing: body.slice(close + 1, bodyEnd).trim() };
  }

  const eq = body.indexOf('=');
  if (eq < 0) {
    return {
      kind: 'entry',
      key: body.slice(leading, bodyEnd).toLowerCase(),
      value: null,
      keyStart: leading,
      keyEnd: bodyEnd,
      eq: -1,
      valueStart: bodyEnd,
      valueEnd: bodyEnd,
    };
  }
  const keyEnd = body.slice(0, eq).trimEnd().length;
  if (keyEnd <= leading) return { kind: 'no-key' };
  const rest = body.slice(eq + 1);
  const valueText = rest.trim();
  const valueStart = valueText === '' ? eq + 1 : eq + 1 + (rest.length - rest.trimStart().length);
  return {
    kind: 'entry',
    key: body.slice(leading, keyEnd).toLowerCase(),
    value: valueText,
    keyStart: leading,
    keyEnd,
    eq,
    valueStart,
    valueEnd: valueStart + valueText.length,
  };
}
