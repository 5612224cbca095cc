/**
 * The daemons' logger: one pino root per process, built in main and passed
 * down (child loggers carry identity such as the controller's TID).
 *
 * Formats (log-format.ts): `journal` when running under systemd
 * (JOURNAL_STREAM set) or asked with --syslog, `text` on a terminal, `json`
 * on request. Secrets never reach a line: pino redacts the known secret keys,
 * and `Secret` values serialise as "[redacted]" anyway.
 *
 * Tests: logger.test.ts
 */
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { LogFormat } from './log-format.js';
import { formatJournalLine, formatTextLine } from './log-format.js';

export type { Logger } from 'pino';
export type { LogFormat } from './log-format.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogSink {
  write(line: string): void;
}

export interface LoggerOptions {
  readonly name: string;
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Where lines go; stderr by default. */
  readonly sink?: LogSink;
}

export const REDACTED_KEYS = [
  'dhchapSecret',
  'dhchapCtrlSecret',
  'dhchap-secret',
  'dhchap-ctrl-secret',
  'hostkey',
  'psk',
  'secret',
  '*.dhchapSecret',
  '*.dhchapCtrlSecret',
  '*["dhchap-secret"]',
  '*["dhchap-ctrl-secret"]',
  '*.hostkey',
] as const;

/** journal under systemd, text on a terminal, else journal (plain lines with priorities). */
export function chooseLogFormat(
  env: Readonly<Record<string, string | undefined>>,
  stderrIsTty: boolean,
  requested?: LogFormat,
): LogFormat {
  if (requested !== undefined) return requested;
  if (env['JOURNAL_STREAM'] !== undefined && env['JOURNAL_STREAM'] !== '') return 'journal';
  return stderrIsTty ? 'text' : 'journal';
}

export function createLogger(options: LoggerOptions): Logger {
  const sink: LogSink = options.sink ?? { write: (line) => process.stderr.write(line) };
  const destination: LogSink =
    options.format === 'json'
      ? sink
      : {
          write(line: string): void {
            const record = JSON.parse(line) as Record<string, unknown>;
            sink.write(options.format === 'journal' ? formatJournalLine(record) : formatTextLine(record));
          },
        };
  return pino(
    {
      name: options.name,
      level: options.level,
      base: options.format === 'json' ? { pid: process.pid } : undefined,
      redact: { paths: [...REDACTED_KEYS], censor: '[redacted]' },
    },
    destination,
  );
}
