import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { removeIniKey, setIniValue } from './ini-edit.js';
import { entriesOf, lastEntry, parseIni } from './ini.js';
import { SYS_CONF } from './testing/ini-samples.js';

function expectBadValue(run: () => unknown): void {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as ConfigError).code).toBe('CONFIG_BAD_VALUE');
}

describe('setIniValue on an existing key', () => {
  it('rewrites only the value, keeping key spelling, spacing and the inline comment', () => {
    const text = '[Host]\n  NQN\t=  nqn.old   # the host\nid=x\n';
    expect(setIniValue(text, 'Host', 'nqn', 'nqn.new')).toBe(
      '[Host]\n  NQN\t=  nqn.new   # the host\nid=x\n',
    );
  });

  it('rewrites the last occurrence across merged sections and leaves earlier duplicates', () => {
    const text = '[Host]\nnqn = a\n[Other]\nnqn = o\n[Host]\nnqn = b\n';
    expect(setIniValue(text, 'Host', 'NQN', 'c')).toBe(
      '[Host]\nnqn = a\n[Other]\nnqn = o\n[Host]\nnqn = c\n',
    );
  });

  it('fills an empty value, adding a blank after "=" only when the key side has one', () => {
    expect(setIniValue('[Host]\nnqn =\n', 'Host', 'nqn', 'x')).toBe('[Host]\nnqn = x\n');
    expect(setIniValue('[Host]\nnqn=\n', 'Host', 'nqn', 'x')).toBe('[Host]\nnqn=x\n');
    expect(setIniValue('[Host]\nnqn =  # note\n', 'Host', 'nqn', 'x')).toBe('[Host]\nnqn = x  # note\n');
  });

  it('can set an empty value', () => {
    const out = setIniValue('[Host]\nsymname = Bart  # who\n', 'Host', 'symname', '');
    expect(lastEntry(parseIni(out, 'f').doc, 'Host', 'symname')?.value).toBe('');
    expect(out).toBe('[Host]\nsymname =   # who\n');
  });

  it('turns a bare key into key = value, keeping its comment', () => {
    expect(setIniValue('[Global]\n  Tron  # debug\n', 'Global', 'tron', 'true')).toBe(
      '[Global]\n  Tron = true  # debug\n',
    );
  });

  it('keeps CRLF, lone CR, a missing final newline and a BOM', () => {
    expect(setIniValue('\uFEFF[Host]\r\nnqn = a\r\nid = b', 'Host', 'id', 'c')).toBe(
      '\uFEFF[Host]\r\nnqn = a\r\nid = c',
    );
    expect(setIniValue('[Host]\rnqn = a\r', 'Host', 'nqn', 'z')).toBe('[Host]\rnqn = z\r');
  });

  it('ignores the key outside the section, before the first header and under a malformed header', () => {
    const text = 'nqn = top\n[Host\nnqn = bad\n[Other]\nnqn = o\n[Host]\nid = 1\n';
    expect(setIniValue(text, 'Host', 'nqn', 'n')).toBe(
      'nqn = top\n[Host\nnqn = bad\n[Other]\nnqn = o\n[Host]\nid = 1\nnqn = n\n',
    );
  });
});

describe('setIniValue on a missing key', () => {
  it('inserts after the last commented-out template for the key', () => {
    expect(setIniValue(SYS_CONF, 'Host', 'symname', 'Bart Simpson')).toBe(
      SYS_CONF.replace('#symname = My Host\n', '#symname = My Host\nsymname = Bart Simpson\n'),
    );
    const text = '[Host]\n# key=old\nnqn = a\n;  KEY\n# key is the DHCHAP key\n\n[Other]\n';
    expect(setIniValue(text, 'Host', 'key', 'k')).toBe(
      '[Host]\n# key=old\nnqn = a\n;  KEY\nkey = k\n# key is the DHCHAP key\n\n[Other]\n',
    );
  });

  it('does not take another key with the same prefix for a template', () => {
    const text = '[Host]\nnqn = a\n#keyfile = x\n';
    expect(setIniValue(text, 'Host', 'key', 'k')).toBe('[Host]\nnqn = a\nkey = k\n#keyfile = x\n');
  });

  it('inserts after the last entry of the section, before trailing comments and blank lines', () => {
    const text = '# top\n[Host]\nnqn = a\n\n[Other]\nx = 1\n[Host]\nid = b\n# trailing\n\n[Last]\n';
    expect(setIniValue(text, 'Host', 'symname', 's')).toBe(
      '# top\n[Host]\nnqn = a\n\n[Other]\nx = 1\n[Host]\nid = b\nsymname = s\n# trailing\n\n[Last]\n',
    );
  });

  it('inserts right after the last header of a section without entries', () => {
    expect(setIniValue('[Host]\n# nothing\n[Host]\n\n', 'Host', 'nqn', 'a')).toBe(
      '[Host]\n# nothing\n[Host]\nnqn = a\n\n',
    );
  });

  it('keeps the missing final newline when inserting after the last line', () => {
    expect(setIniValue('[Host]\r\nnqn = a', 'Host', 'id', 'b')).toBe('[Host]\r\nnqn = a\r\nid = b');
    expect(setIniValue('[Host]', 'Host', 'id', 'b')).toBe('[Host]\nid = b');
  });

  it('appends the section when it is absent', () => {
    expect(setIniValue('', 'Host', 'nqn', 'a')).toBe('[Host]\nnqn = a\n');
    expect(setIniValue('# sys.conf\n', 'Host', 'nqn', 'a')).toBe('# sys.conf\n\n[Host]\nnqn = a\n');
    expect(setIniValue('# sys.conf', 'Host', 'nqn', 'a')).toBe('# sys.conf\n\n[Host]\nnqn = a\n');
    expect(setIniValue('[host]\r\nnqn = x\r\n', 'Host', 'nqn', 'a')).toBe(
      '[host]\r\nnqn = x\r\n\r\n[Host]\r\nnqn = a\r\n',
    );
  });
});

describe('setIniValue refusals', () => {
  it.each([
    ['a\nb'],
    ['a\rb'],
    ['a\u0000b'],
    [' lead'],
    ['trail '],
    ['#hash first'],
    ['word #comment'],
    ['x'.repeat(70_000)],
  ])('refuses the value %j', (value) => {
    expectBadValue(() => setIniValue('[Host]\nnqn = a\n', 'Host', 'nqn', value));
    expectBadValue(() => setIniValue('', 'Host', 'nqn', value));
  });

  it.each([[''], ['a=b'], ['#key'], [';key'], ['[key'], [' key'], ['k\ney'], ['a #b']])(
    'refuses the key %j',
    (key) => {
      expectBadValue(() => setIniValue('', 'Host', key, 'v'));
      expectBadValue(() => removeIniKey('', 'Host', key));
    },
  );

  it.each([[''], ['a]b'], ['a\nb'], ['x #y'], ['\u0000']])('refuses the section %j', (section) => {
    expectBadValue(() => setIniValue('', section, 'key', 'v'));
    expectBadValue(() => removeIniKey('', section, 'key'));
  });

  it('accepts values with "=", ";", ":" and a "#" inside a word', () => {
    const value = 'transport=tcp;traddr=1.1.1.1;dhchap-secret=DHHC-1:01:abc==:;x#y';
    const out = setIniValue('[Controllers]\n', 'Controllers', 'controller', value);
    expect(entriesOf(parseIni(out, 'f').doc, 'Controllers', 'controller').map((e) => e.value)).toEqual([
      value,
    ]);
  });
});

describe('removeIniKey', () => {
  it('deletes every line of the key in every block of the section and nothing else', () => {
    const text = '[Host]\nNQN = a  # x\n#nqn = tmpl\nid = 1\n[Other]\nnqn = o\n[Host]\n  nqn\nkey = k\n';
    expect(removeIniKey(text, 'Host', 'nqn')).toBe(
      '[Host]\n#nqn = tmpl\nid = 1\n[Other]\nnqn = o\n[Host]\nkey = k\n',
    );
  });

  it('returns the text unchanged when the key is absent', () => {
    const text = '[Host]\r\nid = 1';
    expect(removeIniKey(text, 'Host', 'nqn')).toBe(text);
    expect(removeIniKey(text, 'Missing', 'id')).toBe(text);
  });

  it('removes an unterminated last line and leaves the previous line as it was', () => {
    expect(removeIniKey('[Host]\r\nid = 1\r\nnqn = a', 'Host', 'nqn')).toBe('[Host]\r\nid = 1\r\n');
  });
});
