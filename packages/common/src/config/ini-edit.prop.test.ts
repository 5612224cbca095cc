import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { removeIniKey, setIniValue } from './ini-edit.js';
import { entriesOf, findSection, lastEntry, parseIni } from './ini.js';
import { SAMPLES } from './testing/ini-samples.js';

const SECTIONS = ['Host', 'Global', ' Global ', 'New Section'] as const;
const KEYS = ['nqn', 'Kato', 'key', 'controller'] as const;

const LINE = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...SAMPLES.flatMap((s) => s.split('\n'))) },
  { weight: 2, arbitrary: fc.constantFrom(...SECTIONS.slice(0, 3), 'Host').map((s) => `[${s}]`) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom('', '', '  ', '#', '# ', ';'),
        fc.constantFrom(...KEYS, 'NQN'),
        fc.constantFrom(' = ', '=', '\t=  ', ''),
      )
      .map(([prefix, key, eq]) => `${prefix}${key}${eq}${eq === '' ? '' : 'v  # c'}`),
  },
  {
    weight: 1,
    arbitrary: fc.string({
      unit: fc.constantFrom('[', ']', '=', '#', ';', ' ', 'k', 'e', 'y', '\0'),
      maxLength: 12,
    }),
  },
);

/** Lines with a random terminator each, an optional BOM and an optional final terminator. */
const DOCUMENT = fc
  .tuple(
    fc.array(fc.tuple(LINE, fc.constantFrom('\n', '\r\n', '\r')), { minLength: 3, maxLength: 25 }),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([lines, bom, final]) => {
    const text = lines.map(([line, eol]) => line + eol).join('');
    const trimmed = final ? text : text.replace(/(\r\n|\n|\r)$/, '');
    return (bom ? '\uFEFF' : '') + trimmed;
  });

/** Values that read back as written (no surrounding blanks, no comment marker). */
const VALUE = fc
  .string({
    unit: fc.constantFrom('a', 'Z', '0', '=', ';', ':', '#', ' ', '.', '[', ']', 'é', '😀'),
    maxLength: 20,
  })
  .filter((v) => v === v.trim() && !v.startsWith('#') && !/\s#/.test(v));

/** text split into [line, eol, line, eol, …, last]: a line array that also shows the terminators. */
function pieces(text: string): string[] {
  return text.split(/(\r\n|\n|\r)/);
}

/**
 * A section and key to edit: often ones the document has (so that replacing and
 * inserting are exercised as much as appending), sometimes fixed ones.
 */
/** Names the editor accepts (the parser also reads keys/sections with control chars, the editor refuses them). */
const PLAIN = /^[\w.:-]+(?: [\w.:-]+)*$/;

function pick(text: string, n: number, m: number): { section: string; key: string } {
  const doc = parseIni(text, 'f').doc;
  const names = doc.sections.map((s) => s.name).filter((name) => PLAIN.test(name));
  const sections = [...names, ...names, ...SECTIONS];
  const section = sections[n % sections.length] ?? 'Host';
  const inDoc = findSection(doc, section)?.entries.map((e) => e.key.toUpperCase()) ?? [];
  const keys = [...inDoc.filter((key) => PLAIN.test(key)), ...KEYS];
  return { section, key: keys[m % keys.length] ?? 'nqn' };
}

function sameArray(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

describe('setIniValue / removeIniKey on generated documents', () => {
  it('set: parseIni reads the new value and every other line is byte-identical', () => {
    fc.assert(
      fc.property(DOCUMENT, fc.nat(), fc.nat(), VALUE, (text, n, m, value) => {
        const { section, key } = pick(text, n, m);
        const before = parseIni(text, 'f').doc;
        const out = setIniValue(text, section, key, value);
        expect(lastEntry(parseIni(out, 'f').doc, section, key)?.value).toBe(value);

        const old = pieces(text);
        const now = pieces(out);
        const existing = lastEntry(before, section, key);
        if (existing !== undefined) {
          const changed = 2 * (existing.line - 1);
          expect(now.length).toBe(old.length);
          expect(now.filter((p, i) => p !== old[i] && i !== changed)).toEqual([]);
        } else if (findSection(before, section) !== undefined) {
          let k = 0;
          while (k < old.length && old[k] === now[k]) k++;
          const withoutNew = [...now.slice(0, k), ...now.slice(k + 2)];
          expect(sameArray(withoutNew, old)).toBe(true);
        } else {
          expect(out.startsWith(text)).toBe(true);
        }
      }),
      { seed: 42, numRuns: 1_000 },
    );
  });

  it('remove: the key is gone from the section and exactly its lines were deleted', () => {
    fc.assert(
      fc.property(DOCUMENT, fc.nat(), fc.nat(), (text, n, m) => {
        const { section, key } = pick(text, n, m);
        const doomed = new Set(entriesOf(parseIni(text, 'f').doc, section, key).map((e) => e.line));
        const out = removeIniKey(text, section, key);
        expect(entriesOf(parseIni(out, 'f').doc, section, key)).toEqual([]);

        const old = pieces(text);
        const kept: string[] = [];
        for (let i = 0; i < old.length; i += 2) {
          if (!doomed.has(i / 2 + 1)) kept.push(old[i] ?? '', old[i + 1] ?? '');
        }
        expect(out).toBe(kept.join(''));
      }),
      { seed: 42, numRuns: 1_000 },
    );
  });

  it('set refuses only with CONFIG_BAD_VALUE, never with another error', () => {
    fc.assert(
      fc.property(
        DOCUMENT,
        fc.string({ maxLength: 8 }),
        fc.string({ maxLength: 8 }),
        fc.string(),
        (text, s, k, v) => {
          try {
            const out = setIniValue(text, s, k, v);
            expect(lastEntry(parseIni(out, 'f').doc, s, k)?.value).toBe(v);
          } catch (err) {
            expect(err).toBeInstanceOf(ConfigError);
            expect((err as ConfigError).code).toBe('CONFIG_BAD_VALUE');
          }
        },
      ),
      { seed: 42, numRuns: 1_000 },
    );
  });
});
