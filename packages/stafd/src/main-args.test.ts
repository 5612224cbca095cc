import { describe, expect, it } from 'vitest';
import { parseStafdArgs } from './main-args.js';

describe('parseStafdArgs', () => {
  it('runs with defaults when given nothing', () => {
    expect(parseStafdArgs([])).toEqual({
      kind: 'run',
      options: { confFile: undefined, tron: false, logFormat: undefined, busAddress: undefined },
    });
  });

  it('takes -f, --tron, --syslog and --bus-address', () => {
    expect(parseStafdArgs(['-f', '/tmp/s.conf', '--tron', '-s', '--bus-address', 'unix:path=/b'])).toEqual({
      kind: 'run',
      options: { confFile: '/tmp/s.conf', tron: true, logFormat: 'journal', busAddress: 'unix:path=/b' },
    });
    expect(parseStafdArgs(['--conf-file=/x', '--log-format', 'json'])).toMatchObject({
      options: { confFile: '/x', logFormat: 'json' },
    });
  });

  it('answers --help and --version', () => {
    expect(parseStafdArgs(['-h'])).toEqual({ kind: 'help' });
    expect(parseStafdArgs(['--version'])).toEqual({ kind: 'version' });
  });

  it('reports usage errors with a message', () => {
    expect(parseStafdArgs(['--bogus'])).toMatchObject({ kind: 'usage-error' });
    expect(parseStafdArgs(['extra'])).toMatchObject({ kind: 'usage-error' });
    expect(parseStafdArgs(['--log-format', 'xml'])).toEqual({
      kind: 'usage-error',
      message: '--log-format must be journal, text or json, not "xml"',
    });
    expect(parseStafdArgs(['-s', '--log-format', 'text'])).toMatchObject({ kind: 'usage-error' });
    expect(parseStafdArgs(['-f', ''])).toMatchObject({ kind: 'usage-error' });
  });
});
