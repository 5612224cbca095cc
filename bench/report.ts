/**
 * The benchmark report: one row per figure with its target and a pass/miss
 * mark ('—' for a figure whose target is only to report it), printed as a
 * table and written as JSON (bench/results/latest.json).
 * Figures are medians of several runs; rows that compare with a peer tool
 * (nvme-cli) carry the ratio measured in the same invocation.
 */
import { mkdir, writeFile } from 'node:fs/promises';

export interface Row {
  readonly figure: string;
  readonly how: string;
  /** The measured value, in `unit`. */
  readonly value: number;
  readonly unit: string;
  /** Human form of the target, e.g. "≤ 8". */
  readonly target: string;
  readonly pass: boolean;
  readonly runs: number;
  readonly detail?: string;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? NaN)
    : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

export function formatTable(rows: readonly Row[]): string {
  const cells = rows.map((r) => [
    r.figure,
    Number.isNaN(r.value) ? '-' : `${Number.isInteger(r.value) ? r.value : r.value.toFixed(2)} ${r.unit}`,
    r.target,
    Number.isNaN(r.value) ? '-' : r.target === 'report' ? '—' : r.pass ? 'pass' : 'MISS',
    String(r.runs),
    r.detail ?? '',
  ]);
  const header = ['figure', 'median', 'target', 'mark', 'runs', 'detail'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]): string =>
    c
      .map((text, i) => pad(text, widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}

export async function writeReport(rows: readonly Row[], path: string): Promise<void> {
  await mkdir(new URL('.', `file://${path}`).pathname, { recursive: true });
  await writeFile(
    path,
    JSON.stringify({ date: new Date().toISOString(), node: process.version, rows }, null, 2) + '\n',
  );
}
