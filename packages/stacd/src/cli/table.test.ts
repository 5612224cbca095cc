import { describe, expect, it } from 'vitest';
import { renderPairs, renderTable } from './table.js';

describe('renderTable', () => {
  it('aligns columns, marks empty cells and trims trailing blanks', () => {
    expect(
      renderTable(
        ['A', 'LONGER'],
        [
          ['xyz', ''],
          ['1', '2'],
        ],
      ),
    ).toBe('A    LONGER\nxyz  -\n1    2\n');
  });
  it('prints only the header for no rows', () => {
    expect(renderTable(['DEVICE', 'STATE'], [])).toBe('DEVICE  STATE\n');
  });
});

describe('renderPairs', () => {
  it('aligns the values', () => {
    expect(
      renderPairs([
        ['a', '1'],
        ['long key', '2'],
        ['empty', ''],
      ]),
    ).toBe('a:        1\nlong key: 2\nempty:\n');
  });
});
