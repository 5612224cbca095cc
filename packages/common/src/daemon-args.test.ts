import { describe, expect, it } from 'vitest';
import { parseDaemonArgs } from './daemon-args.js';

describe('parseDaemonArgs', () => {
  it('runs with defaults when given nothing', () => {
    expect(parseDaemonArgs([])).toEqual({
      kind: 'run',
      options: {
        confFile: undefined,
        tron: false,
        logFormat: undefined,
        busAddress: undefined,
        flags: new Set(),
      },
    });
  });

  it('reads every shared option, long and short, and the daemon flags it is given', () => {
    const parsed = parseDaemonArgs(
      ['-f', '/x.conf', '--tron', '-s', '--bus-address', 'unix:path=/b', '--dry-run'],
      ['dry-run'],
    );
    expect(parsed).toEqual({
      kind: 'run',
      options: {
        confFile: '/x.conf',
        tron: true,
        logFormat: 'journal',
        busAddress: 'unix:path=/b',
        flags: new Set(['dry-run']),
      },
    });
    expect(parseDaemonArgs(['--conf-file=/y', '--log-format', 'json'])).toMatchObject({
      options: { confFile: '/y', logFormat: 'json' },
    });
  });

  it('accepts --syslog together with --log-format journal', () => {
    expect(parseDaemonArgs(['--syslog', '--log-format', 'journal'])).toMatchObject({
      options: { logFormat: 'journal' },
    });
  });

  it('answers help and version before anything else', () => {
    expect(parseDaemonArgs(['--tron', '-h'])).toEqual({ kind: 'help' });
    expect(parseDaemonArgs(['-v'])).toEqual({ kind: 'version' });
  });

  it('refuses unknown options, positionals, a bad or contradicting log format and an empty file name', () => {
    for (const argv of [
      ['--bogus'],
      ['extra'],
      ['--dry-run'], // not a flag of this daemon
      ['--log-format', 'xml'],
      ['-s', '--log-format', 'text'],
      ['-f', ''],
    ]) {
      expect(parseDaemonArgs(argv).kind, argv.join(' ')).toBe('usage-error');
    }
    expect(parseDaemonArgs(['--log-format', 'xml'])).toEqual({
      kind: 'usage-error',
      message: '--log-format must be journal, text or json, not "xml"',
    });
  });
});
