import { describe, expect, it } from 'vitest';
import { Secret } from '../util/secret.js';
import { formatJournalLine, formatTextLine, syslogPriority } from './log-format.js';
import { chooseLogFormat, createLogger } from './logger.js';
import type { LogFormat } from './logger.js';

function capture(format: LogFormat, level: 'debug' | 'info' = 'info') {
  const lines: string[] = [];
  const log = createLogger({ name: 'stafd', level, format, sink: { write: (l) => lines.push(l) } });
  return { log, lines };
}

describe('journal lines', () => {
  it('prefix each line with its syslog priority and add fields as key=value', () => {
    const { log, lines } = capture('journal');
    log.info({ tid: '(tcp, 10.0.0.1, 8009)', reason: 'configured' }, 'connect');
    log.warn({ attempts: 3 }, 'connection lost');
    log.error('cannot own the bus name');
    expect(lines).toEqual([
      '<6>connect tid="(tcp, 10.0.0.1, 8009)" reason=configured\n',
      '<4>connection lost attempts=3\n',
      '<3>cannot own the bus name\n',
    ]);
  });

  it('carries child bindings and drops debug lines below the level', () => {
    const { log, lines } = capture('journal');
    const child = log.child({ device: 'nvme3' });
    child.debug('not shown');
    child.info('adopted');
    expect(lines).toEqual(['<6>adopted device=nvme3\n']);
  });

  it('never prints secrets', () => {
    const { log, lines } = capture('journal');
    log.info(
      {
        'dhchap-secret': 'DHHC-1:00:abc:',
        controller: { dhchapSecret: 'DHHC-1:00:def:' },
        key: new Secret('s3cr3t'),
      },
      'x',
    );
    expect(lines.join('')).not.toMatch(/abc|def|s3cr3t/);
    expect(lines[0]).toContain('[redacted]');
  });

  it('keeps a multi-line message on one line', () => {
    expect(formatJournalLine({ level: 30, msg: 'a\nb' })).toBe('<6>a\\nb\n');
  });
});

describe('text and json lines', () => {
  it('writes a readable line with time and level for terminals', () => {
    expect(
      formatTextLine({ level: 40, time: Date.UTC(2026, 0, 1, 12, 34, 56, 789), msg: 'lost', n: 1 }),
    ).toBe('12:34:56.789 WARN  lost n=1\n');
  });

  it('writes pino JSON unchanged with --log-format json', () => {
    const { log, lines } = capture('json');
    log.info({ a: 1 }, 'hello');
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ level: 30, msg: 'hello', a: 1, name: 'stafd' });
  });
});

describe('syslogPriority / chooseLogFormat', () => {
  it('maps pino levels to syslog priorities', () => {
    expect([10, 20, 30, 40, 50, 60].map(syslogPriority)).toEqual([7, 7, 6, 4, 3, 2]);
  });

  it('picks journal under systemd, text on a terminal, and honours a request', () => {
    expect(chooseLogFormat({ JOURNAL_STREAM: '8:123' }, true)).toBe('journal');
    expect(chooseLogFormat({}, true)).toBe('text');
    expect(chooseLogFormat({}, false)).toBe('journal');
    expect(chooseLogFormat({ JOURNAL_STREAM: '8:1' }, true, 'json')).toBe('json');
  });
});
