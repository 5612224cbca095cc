/**
 * Human output of stafctl's D-Bus verbs: aligned tables of controllers and log page entries, and the
 * key/value lines of `status`. (`--json` output is built by each verb; schemas in
 * packages/stafd/docs/stafctl.md.)
 *
 * Pure: dictionaries in, text out (every line ends with a newline). Missing keys show as `-`.
 *
 * Used by: ls-command.ts, status-command.ts, dlp-command.ts, adlp-command.ts
 * Tests:   dbus-format.test.ts
 */
import type { StringDict } from '@stas/common/dbus/api-shared';

/** Columns padded to the widest cell; the last column is not padded. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd() + '\n';
  return line(headers) + rows.map(line).join('');
}

function cell(dict: Readonly<Record<string, unknown>>, key: string): string {
  const value = dict[key];
  if (value === undefined || value === '') return '-';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const ID_COLUMNS = ['transport', 'traddr', 'trsvcid', 'subsysnqn', 'host-iface', 'host-traddr'] as const;
const DETAIL_COLUMNS = ['origin', 'state', 'connected', 'log-pages-state', 'log-pages-entries'] as const;
const DETAIL_HEADERS = ['origin', 'state', 'connected', 'log-pages', 'entries'] as const;

/** One row per controller: identity columns, plus state columns when `detailed`. */
export function controllersTable(dicts: readonly StringDict[], detailed: boolean): string {
  if (dicts.length === 0) return 'no discovery controllers\n';
  const headers: string[] = [...ID_COLUMNS];
  if (detailed) headers.push(...DETAIL_HEADERS);
  const rows = dicts.map((d) => {
    const row = ID_COLUMNS.map((k) => cell(d, k));
    if (detailed) row.push(...DETAIL_COLUMNS.map((k) => cell(d, k)));
    return row;
  });
  return formatTable(headers, rows);
}

const ENTRY_COLUMNS = [
  'trtype',
  'adrfam',
  'subtype',
  'traddr',
  'trsvcid',
  'subnqn',
  'portid',
  'cntlid',
  'treq',
  'eflags',
  'tsas',
] as const;

/** One row per log page entry (DLPE dict). */
export function entriesTable(entries: readonly Readonly<Record<string, unknown>>[], indent = ''): string {
  if (entries.length === 0) return `${indent}no log page entries\n`;
  const table = formatTable(
    ENTRY_COLUMNS,
    entries.map((e) => ENTRY_COLUMNS.map((k) => cell(e, k))),
  );
  return table
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => `${indent}${l}\n`)
    .join('');
}

/** `(tcp, 192.0.2.1, 8009, nqn…, eth0, 192.0.2.9)`: the nvme-stas display form of a controller dict. */
export function describeController(dict: Readonly<Record<string, unknown>>): string {
  const parts = [cell(dict, 'transport'), cell(dict, 'traddr'), cell(dict, 'trsvcid')];
  for (const key of ['subsysnqn', 'host-iface', 'host-traddr']) {
    const value = dict[key];
    if (typeof value === 'string' && value !== '') parts.push(value);
  }
  return `(${parts.join(', ')})`;
}

/** `key: value` lines of a JSON object, nested objects flattened as `outer.inner`. */
export function keyValueLines(object: Readonly<Record<string, unknown>>, prefix = ''): string {
  let text = '';
  for (const [key, value] of Object.entries(object)) {
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      text += keyValueLines(value as Record<string, unknown>, name);
    } else {
      const shown =
        typeof value === 'string'
          ? value
          : Array.isArray(value)
            ? value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')
            : JSON.stringify(value);
      text += `${name}: ${shown}\n`;
    }
  }
  return text;
}
