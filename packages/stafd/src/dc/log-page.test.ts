import { describe, expect, it } from 'vitest';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { logPageState, sameEntries, sameEntry } from './log-page.js';

const A = nvmeEntry({ traddr: '192.0.2.10', subnqn: 'nqn.2024-01.io.test:a' });
const B = nvmeEntry({ traddr: '192.0.2.11', subnqn: 'nqn.2024-01.io.test:b' });

describe('log page equality', () => {
  it('compares every field, TSAS included, whatever the key order', () => {
    const reordered = Object.fromEntries(Object.entries(A).reverse()) as typeof A;
    expect(sameEntry(A, reordered)).toBe(true);
    expect(sameEntry(A, { ...A, eflags: 4 })).toBe(false);
    expect(sameEntry(A, { ...A, tsas: { kind: 'tcp', sectype: 2 } })).toBe(false);
    expect(sameEntry(A, { ...A, tsas: { kind: 'none' } })).toBe(false);
  });

  it('compares lists in order', () => {
    expect(sameEntries([A, B], [A, B])).toBe(true);
    expect(sameEntries([A, B], [B, A])).toBe(false);
    expect(sameEntries([A], [A, B])).toBe(false);
  });

  it('names the page state: unknown, stale or fresh', () => {
    expect(logPageState(null)).toBe('unknown');
    expect(logPageState({ entries: [], genctr: '0', fetchedAt: 0, stale: true })).toBe('stale');
    expect(logPageState({ entries: [], genctr: '0', fetchedAt: 0, stale: false })).toBe('fresh');
  });
});
