import { describe, expect, it } from 'vitest';
import { parseStacdArgs } from './args.js';

describe('parseStacdArgs', () => {
  it('has defaults for everything', () => {
    expect(parseStacdArgs([])).toEqual({
      kind: 'run',
      args: {
        confFile: undefined,
        tron: false,
        logFormat: undefined,
        busAddress: undefined,
        dryRun: false,
      },
    });
  });

  it('reads every option, long and short', () => {
    const parsed = parseStacdArgs([
      '-f',
      '/x/stacd.conf',
      '--tron',
      '-s',
      '--bus-address',
      'unix:path=/b',
      '--dry-run',
    ]);
    expect(parsed).toEqual({
      kind: 'run',
      args: {
        confFile: '/x/stacd.conf',
        tron: true,
        logFormat: 'journal',
        busAddress: 'unix:path=/b',
        dryRun: true,
      },
    });
    expect(parseStacdArgs(['--conf-file=/y'])).toMatchObject({ args: { confFile: '/y' } });
  });

  it('answers help and version before anything else', () => {
    expect(parseStacdArgs(['--dry-run', '-h'])).toEqual({ kind: 'help' });
    expect(parseStacdArgs(['-v'])).toEqual({ kind: 'version' });
  });

  it('refuses unknown options, positionals, a bad log format and an empty file name', () => {
    for (const argv of [
      ['--bogus'],
      ['extra'],
      ['--log-format', 'xml'],
      ['-s', '--log-format', 'text'],
      ['-f', ''],
    ]) {
      expect(parseStacdArgs(argv).kind, argv.join(' ')).toBe('error');
    }
  });
});
