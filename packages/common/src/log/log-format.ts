/**
 * How one log record becomes one line, for each destination stas writes to.
 *
 * Pure: a parsed pino record in, a line out.
 * - `journal`: `<N>message key=value …` on stderr; systemd (SyslogLevelPrefix=
 *   yes, the default) turns `<N>` into the entry's PRIORITY, so `journalctl -p
 *   warning` works. No timestamp, pid or host: the journal has them.
 * - `text`: for a terminal: `12:34:56.789 INFO  message key=value …`.
 * - `json`: pino's own JSON line, unchanged (`--log-format json`).
 * Values are written bare when they are simple, JSON-quoted otherwise, so a
 * line always splits back into its fields.
 *
 * Tests: log-format.test.ts
 */
export type LogFormat = 'journal' | 'text' | 'json';

/** pino's numeric levels → syslog priorities (debug 7, info 6, warning 4, err 3, crit 2). */
export function syslogPriority(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

export function levelName(level: number): string {
  if (level >= 60) return 'FATAL';
  if (level >= 50) return 'ERROR';
  if (level >= 40) return 'WARN';
  if (level >= 30) return 'INFO';
  if (level >= 20) return 'DEBUG';
  return 'TRACE';
}

const OMITTED = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'name']);

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[\w.:/@%+-]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  // JSON.stringify returns undefined for functions and symbols, whatever its declared type says.
  const json = JSON.stringify(value) as string | undefined;
  return json ?? String(value);
}

function fields(record: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (OMITTED.has(key) || value === undefined) continue;
    if (key === 'err' && typeof value === 'object' && value !== null && 'message' in value) {
      parts.push(`err=${formatValue(value.message)}`);
      continue;
    }
    parts.push(`${key}=${formatValue(value)}`);
  }
  return parts.length > 0 ? ' ' + parts.join(' ') : '';
}

function message(record: Readonly<Record<string, unknown>>): string {
  const msg = record['msg'];
  return (typeof msg === 'string' ? msg : '').replace(/\n/g, '\\n');
}

export function formatJournalLine(record: Readonly<Record<string, unknown>>): string {
  const level = typeof record['level'] === 'number' ? record['level'] : 30;
  return `<${syslogPriority(level)}>${message(record)}${fields(record)}\n`;
}

export function formatTextLine(record: Readonly<Record<string, unknown>>): string {
  const level = typeof record['level'] === 'number' ? record['level'] : 30;
  const time =
    typeof record['time'] === 'number'
      ? new Date(record['time']).toISOString().slice(11, 23)
      : '--:--:--.---';
  return `${time} ${levelName(level).padEnd(5)} ${message(record)}${fields(record)}\n`;
}
