import { describe, expect, it } from 'vitest';
import type { Diagnostic } from './diagnostic.js';
import { hasErrors } from './diagnostic.js';
import type { IniEntry } from './ini.js';
import { MAX_DIAGNOSTICS, entriesOf, findSection, lastEntry, parseIni } from './ini.js';
import { MAX_LINE_LENGTH } from './ini-lines.js';

const FILE = '/etc/stas/stafd.conf';

function parse(text: string) {
  return parseIni(text, FILE);
}

function summary(diagnostics: readonly Diagnostic[]): [string, number, string][] {
  return diagnostics.map((d) => [d.severity, d.line, d.message]);
}

function entries(text: string, section = 'Global'): IniEntry[] {
  return [...(findSection(parse(text).doc, section)?.entries ?? [])];
}

describe('parseIni sections', () => {
  it('reads sections in order of first appearance with their header lines', () => {
    const { doc, diagnostics } = parse('[Global]\nkato = 30\n\n[Controllers]\ncontroller = transport=tcp\n');
    expect(doc.file).toBe(FILE);
    expect(doc.sections.map((s) => [s.name, s.line])).toEqual([
      ['Global', 1],
      ['Controllers', 4],
    ]);
    expect(diagnostics).toEqual([]);
  });

  it('takes section names literally and case-sensitively', () => {
    const { doc } = parse('[ Global ]\na=1\n[global]\nb=2\n[Global]\nc=3\n');
    expect(doc.sections.map((s) => s.name)).toEqual([' Global ', 'global', 'Global']);
  });

  it('merges a repeated section into the first, keeping entries in file order', () => {
    const { doc } = parse('[Controllers]\ncontroller=a\n[Global]\nkato=1\n[Controllers]\ncontroller=b\n');
    expect(doc.sections.map((s) => s.name)).toEqual(['Controllers', 'Global']);
    const controllers = findSection(doc, 'Controllers');
    expect(controllers?.line).toBe(1);
    expect(controllers?.entries).toEqual([
      { key: 'controller', value: 'a', line: 2 },
      { key: 'controller', value: 'b', line: 6 },
    ]);
  });

  it('reports a header without "]" as an error and ignores the lines under it with a warning each', () => {
    const { doc, diagnostics } = parse(
      '[Global]\nkato=1\n[Controllers\ncontroller=a\n\n# c\n[Global]\ntron=true\n',
    );
    expect(findSection(doc, 'Global')?.entries).toEqual([
      { key: 'kato', value: '1', line: 2 },
      { key: 'tron', value: 'true', line: 8 },
    ]);
    expect(doc.sections.map((s) => s.name)).toEqual(['Global']);
    expect(summary(diagnostics)).toEqual([
      ['error', 3, 'malformed section header (no closing "]"); lines up to the next section are ignored'],
      ['warning', 4, 'key "controller" follows the malformed section header on line 3; ignored'],
    ]);
    expect(hasErrors(diagnostics)).toBe(true);
  });

  it('reports an empty section name as an error', () => {
    const { doc, diagnostics } = parse('[]\nkato=1\n');
    expect(doc.sections).toEqual([]);
    expect(summary(diagnostics)).toEqual([
      ['error', 1, 'malformed section header (empty section name); lines up to the next section are ignored'],
      ['warning', 2, 'key "kato" follows the malformed section header on line 1; ignored'],
    ]);
  });

  it('ignores text after "]" with a warning and an inline comment silently', () => {
    const { doc, diagnostics } = parse('[Global] junk\n[Host]  # the host\nnqn=x\n');
    expect(doc.sections.map((s) => s.name)).toEqual(['Global', 'Host']);
    expect(summary(diagnostics)).toEqual([['warning', 1, 'text after section header ignored: "junk"']]);
  });
});

describe('parseIni entries', () => {
  it('folds keys to lower case and strips blanks around key and value', () => {
    expect(entries('[Global]\n  KATO   =   30  \nTron=TRUE\n')).toEqual([
      { key: 'kato', value: '30', line: 2 },
      { key: 'tron', value: 'TRUE', line: 3 },
    ]);
  });

  it('splits at the first "=" only, so values keep theirs', () => {
    expect(
      entries(
        '[Controllers]\ncontroller = transport=tcp;traddr=1.1.1.1;dhchap-secret=DHHC-1:01:abc==:\n',
        'Controllers',
      ),
    ).toEqual([
      { key: 'controller', value: 'transport=tcp;traddr=1.1.1.1;dhchap-secret=DHHC-1:01:abc==:', line: 2 },
    ]);
  });

  it('does not treat ":" as a delimiter', () => {
    expect(entries('[Global]\nkato:7\nkato: 8 = 9\n')).toEqual([
      { key: 'kato:7', value: null, line: 2 },
      { key: 'kato: 8', value: '9', line: 3 },
    ]);
  });

  it('gives a key without "=" the value null, and "key =" the empty value, without diagnostics', () => {
    const { doc, diagnostics } = parse('[Global]\ntron\nkato =\n');
    expect(findSection(doc, 'Global')?.entries).toEqual([
      { key: 'tron', value: null, line: 2 },
      { key: 'kato', value: '', line: 3 },
    ]);
    expect(diagnostics).toEqual([]);
  });

  it('ignores "= value" without a key, with a warning', () => {
    const { doc, diagnostics } = parse('[Global]\n  = 5\n');
    expect(findSection(doc, 'Global')?.entries).toEqual([]);
    expect(summary(diagnostics)).toEqual([['warning', 2, '"=" without a key; line ignored']]);
  });

  it('keeps every occurrence of a repeated key in order; lastEntry gives the last', () => {
    const { doc } = parse('[Global]\nkato=1\nKATO=2\n[Other]\nkato=9\n[Global]\nKato=3\n');
    expect(entriesOf(doc, 'Global', 'kato').map((e) => [e.value, e.line])).toEqual([
      ['1', 2],
      ['2', 3],
      ['3', 7],
    ]);
    expect(lastEntry(doc, 'Global', 'KaTo')).toEqual({ key: 'kato', value: '3', line: 7 });
    expect(lastEntry(doc, 'Global', 'tron')).toBeUndefined();
    expect(entriesOf(doc, 'Missing', 'kato')).toEqual([]);
    expect(lastEntry(doc, 'global', 'kato')).toBeUndefined();
  });

  it('parses indented lines like any other line (no continuation lines)', () => {
    expect(entries('[Global]\nkato = 10\n    20\n  controller=transport=tcp;traddr=2.2.2.2\n')).toEqual([
      { key: 'kato', value: '10', line: 2 },
      { key: '20', value: null, line: 3 },
      { key: 'controller', value: 'transport=tcp;traddr=2.2.2.2', line: 4 },
    ]);
  });

  it('never turns blank lines into empty values', () => {
    expect(entries('[Controllers]\nexclude=a\n\n   \n\t\nexclude=b\n\n', 'Controllers')).toEqual([
      { key: 'exclude', value: 'a', line: 2 },
      { key: 'exclude', value: 'b', line: 6 },
    ]);
  });
});

describe('parseIni comments', () => {
  it('skips whole-line comments starting with "#" or ";", even indented', () => {
    const { doc, diagnostics } = parse('# top\n; top\n[Global]\n  # kato=1\n\t; kato=2\n#[Other]\n');
    expect(doc.sections).toEqual([{ name: 'Global', line: 3, entries: [] }]);
    expect(diagnostics).toEqual([]);
  });

  it('strips an inline comment that starts with whitespace then "#"', () => {
    expect(
      entries('[Controllers]\nexclude = host-iface=enp0s8  # Eliminate enp0s8\n', 'Controllers'),
    ).toEqual([{ key: 'exclude', value: 'host-iface=enp0s8', line: 2 }]);
    expect(entries('[Global]\ntron\t# verbose please\nkato = # nothing\n')).toEqual([
      { key: 'tron', value: null, line: 2 },
      { key: 'kato', value: '', line: 3 },
    ]);
  });

  it('keeps a "#" that is not preceded by whitespace as data', () => {
    expect(entries('[Controllers]\ncontroller = nqn=abc#def\nx=#y\n', 'Controllers')).toEqual([
      { key: 'controller', value: 'nqn=abc#def', line: 2 },
      { key: 'x', value: '#y', line: 3 },
    ]);
  });

  it('always keeps ";" inside a value as data', () => {
    expect(entries('[Global]\nkato = 7 ; comment\ncontroller = transport=tcp;traddr=1.1.1.1\n')).toEqual([
      { key: 'kato', value: '7 ; comment', line: 2 },
      { key: 'controller', value: 'transport=tcp;traddr=1.1.1.1', line: 3 },
    ]);
  });
});

describe('parseIni robustness', () => {
  it('ignores entries before the first section header with a warning each', () => {
    const { doc, diagnostics } = parse('# header comment\nkato=5\ntron\n\n[Global]\nkato=6\n');
    expect(entriesOf(doc, 'Global', 'kato').map((e) => e.value)).toEqual(['6']);
    expect(diagnostics).toEqual([
      { severity: 'warning', file: FILE, line: 2, message: 'key "kato" is outside any section; ignored' },
      { severity: 'warning', file: FILE, line: 3, message: 'key "tron" is outside any section; ignored' },
    ]);
  });

  it('accepts CRLF, LF and lone CR line ends with the same line numbers', () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const text = ['[Global]', 'kato = 1', '', '[Host]', 'nqn = x'].join(eol) + eol;
      const { doc } = parse(text);
      expect(entriesOf(doc, 'Global', 'kato')).toEqual([{ key: 'kato', value: '1', line: 2 }]);
      expect(entriesOf(doc, 'Host', 'nqn')).toEqual([{ key: 'nqn', value: 'x', line: 5 }]);
    }
  });

  it('reads a last line without a newline', () => {
    expect(entries('[Global]\nkato = 3')).toEqual([{ key: 'kato', value: '3', line: 2 }]);
  });

  it('ignores a leading UTF-8 BOM', () => {
    const { doc, diagnostics } = parse('\uFEFF[Global]\nkato=1\n');
    expect(doc.sections.map((s) => s.name)).toEqual(['Global']);
    expect(diagnostics).toEqual([]);
  });

  it('warns about a control character, naming the line, and still reads the line', () => {
    const { doc, diagnostics } = parse('[Global]\nkato = 3\u0000\n# \u0007 bell\n');
    expect(entriesOf(doc, 'Global', 'kato')).toEqual([{ key: 'kato', value: '3\u0000', line: 2 }]);
    expect(summary(diagnostics)).toEqual([
      ['warning', 2, 'line contains control character U+0000; read as written'],
      ['warning', 3, 'line contains control character U+0007; read as written'],
    ]);
  });

  it('ignores a line longer than the limit with a warning', () => {
    const { doc, diagnostics } = parse(`[Global]\nkato = ${'9'.repeat(MAX_LINE_LENGTH)}\ntron=true\n`);
    expect(findSection(doc, 'Global')?.entries).toEqual([{ key: 'tron', value: 'true', line: 3 }]);
    expect(summary(diagnostics)).toEqual([
      ['warning', 2, `line is longer than ${MAX_LINE_LENGTH} characters; ignored`],
    ]);
  });

  it('returns an empty document for empty text', () => {
    expect(parse('')).toEqual({ doc: { file: FILE, sections: [] }, diagnostics: [] });
  });

  it('caps the diagnostics list and keeps the worst severity in the summary', () => {
    const text = `${'x\n'.repeat(MAX_DIAGNOSTICS + 5)}[\n`;
    const { diagnostics } = parse(text);
    expect(diagnostics).toHaveLength(MAX_DIAGNOSTICS + 1);
    expect(diagnostics.at(-1)).toEqual({
      severity: 'error',
      file: FILE,
      line: 0,
      message: '6 more problem(s) in this file not listed',
    });
    expect(hasErrors(diagnostics)).toBe(true);
  });

  it('handles 100,000 lines in linear time', () => {
    const text = `[Controllers]\n${'controller = transport=tcp;traddr=1.1.1.1\n'.repeat(100_000)}`;
    const { doc } = parse(text);
    expect(entriesOf(doc, 'Controllers', 'controller')).toHaveLength(100_000);
  });

  it('quotes odd keys safely in messages', () => {
    const { diagnostics } = parse(`${'k'.repeat(100)}\n`);
    expect(diagnostics[0]?.message).toBe(`key "${'k'.repeat(40)}…" is outside any section; ignored`);
  });
});
