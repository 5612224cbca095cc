/**
 * Plain-text tables for stacctl's human output: a header row and left-aligned
 * columns separated by two spaces, trailing blanks trimmed; `-` for an empty
 * cell. Pure. Tests: table.test.ts
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = [
    headers,
    ...rows.map((r) => headers.map((_h, i) => ((r[i] ?? '') === '' ? '-' : (r[i] ?? '')))),
  ];
  const widths = headers.map((_h, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}

/** `key: value` lines with the keys aligned. */
export function renderPairs(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs
    .map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`.trimEnd())
    .join('\n')
    .concat('\n');
}
