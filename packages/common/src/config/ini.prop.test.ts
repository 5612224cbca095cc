import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_DIAGNOSTICS, parseIni } from './ini.js';
import { SAMPLES } from './testing/ini-samples.js';

const FILE = '/etc/stas/stafd.conf';
const SEVERITIES: ReadonlySet<string> = new Set(['error', 'warning']);

/** Characters that matter to the INI syntax, plus control chars and non-BMP text. */
const SPECIAL = fc.constantFrom(
  '[',
  ']',
  '=',
  '#',
  ';',
  ':',
  ' ',
  '\t',
  '\n',
  '\r',
  '\r\n',
  '\0',
  '\u0007',
  '\u007f',
  '\uFEFF',
  'é',
  'İ',
  'Σ',
  '😀',
  '\uD800',
  'K',
  'a',
  'z',
  '0',
  '.',
);

const LINE = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: SPECIAL, maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom('', ' ', '\t'),
        fc.string({ unit: SPECIAL, maxLength: 10 }),
        fc.string({ maxLength: 20 }),
      )
      .map(([indent, key, value]) => `${indent}${key} = ${value}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('Global', 'Controllers', 'Host', ' Global ', '', '[').map((n) => `[${n}]`),
  },
);

const EOL = fc.constantFrom('\n', '\r\n', '\r');

const RANDOM_FILE = fc
  .tuple(fc.array(LINE, { maxLength: 40 }), EOL, fc.boolean())
  .map(([lines, eol, final]) => lines.join(eol) + (final ? eol : ''));

type Mutation =
  | { readonly op: 'insert'; readonly at: number; readonly line: string }
  | { readonly op: 'delete'; readonly at: number }
  | { readonly op: 'duplicate'; readonly at: number }
  | { readonly op: 'bytes'; readonly at: number; readonly offset: number; readonly text: string }
  | { readonly op: 'huge'; readonly at: number; readonly length: number };

const MUTATION: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('insert' as const), at: fc.nat(), line: LINE }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('duplicate' as const), at: fc.nat() }) },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('bytes' as const),
      at: fc.nat(),
      offset: fc.nat(),
      text: fc.string({ unit: SPECIAL, minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('huge' as const),
      at: fc.nat(),
      length: fc.integer({ min: 1_000, max: 70_000 }),
    }),
  },
);

function mutate(text: string, mutations: readonly Mutation[]): string {
  const lines = text.split('\n');
  for (const m of mutations) {
    const at = m.at % (lines.length + 1);
    const line = lines[at] ?? '';
    switch (m.op) {
      case 'insert':
        lines.splice(at, 0, m.line);
        break;
      case 'delete':
        lines.splice(at, 1);
        break;
      case 'duplicate':
        lines.splice(at, 0, line);
        break;
      case 'bytes': {
        const offset = m.offset % (line.length + 1);
        lines[at] = line.slice(0, offset) + m.text + line.slice(offset);
        break;
      }
      case 'huge':
        lines.splice(at, 0, `kato = ${'9'.repeat(m.length)}`);
        break;
    }
  }
  return lines.join('\n');
}

const MUTATED_FILE = fc
  .tuple(fc.constantFrom(...SAMPLES), fc.array(MUTATION, { minLength: 1, maxLength: 12 }), fc.boolean())
  .map(([sample, mutations, crlf]) => {
    const text = mutate(sample, mutations);
    return crlf ? text.replace(/\n/g, '\r\n') : text;
  });

/**
 * Checks parseIni's contract against an independent split of the text into lines.
 * Returns the first violation, or undefined (plain checks: expect() per item is too slow here).
 */
function contractViolation(text: string): string | undefined {
  const { doc, diagnostics } = parseIni(text, FILE);
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const lineCount = lines.length;

  if (doc.file !== FILE) return 'wrong file in document';
  if (diagnostics.length > MAX_DIAGNOSTICS + 1) return 'too many diagnostics';
  for (const d of diagnostics) {
    if (!SEVERITIES.has(d.severity)) return `bad severity ${d.severity}`;
    if (d.file !== FILE) return `diagnostic names file ${d.file}`;
    if (!Number.isInteger(d.line) || d.line < 0 || d.line > lineCount) return `diagnostic line ${d.line}`;
    if (d.message === '') return 'empty diagnostic message';
  }
  const names = new Set<string>();
  for (const section of doc.sections) {
    if (names.has(section.name)) return `section ${section.name} listed twice`;
    names.add(section.name);
    if (!(lines[section.line - 1] ?? '').includes(`[${section.name}]`)) return `section line ${section.line}`;
    let previous = section.line;
    for (const entry of section.entries) {
      if (entry.line <= previous && previous !== section.line) return `entry order at line ${entry.line}`;
      if (entry.line <= section.line || entry.line > lineCount) return `entry line ${entry.line}`;
      previous = entry.line;
      const lineText = lines[entry.line - 1] ?? '';
      if (entry.key === '') return `empty key at line ${entry.line}`;
      if (!lineText.toLowerCase().includes(entry.key)) return `key not on line ${entry.line}`;
      if (entry.value !== null && !lineText.includes(entry.value)) return `value not on line ${entry.line}`;
    }
  }
  return undefined;
}

describe('parseIni on generated input', () => {
  it('keeps its contract on 5,000 random files', () => {
    fc.assert(
      fc.property(RANDOM_FILE, (text) => {
        expect(contractViolation(text)).toBeUndefined();
      }),
      { seed: 42, numRuns: 5_000 },
    );
  });

  it('keeps its contract on 5,000 mutated stafd/stacd/sys.conf files', () => {
    fc.assert(
      fc.property(MUTATED_FILE, (text) => {
        expect(contractViolation(text)).toBeUndefined();
      }),
      { seed: 42, numRuns: 5_000 },
    );
  });

  it('reads the unmutated samples without diagnostics', () => {
    for (const sample of SAMPLES) {
      expect(parseIni(sample, FILE).diagnostics).toEqual([]);
    }
  });
});
