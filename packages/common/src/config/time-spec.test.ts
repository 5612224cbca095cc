import { describe, expect, it } from 'vitest';
import { MAX_TIME_SPEC_LENGTH, parseTimeSpec } from './time-spec.js';

// Every vector of nvme-stas-behaviour.md §1.8, with nvme-stas's result, except
// where this implementation deliberately rejects (noted).
const REFERENCE_VECTORS: readonly (readonly [string, number | null])[] = [
  ['1', 1],
  ['1s', 1],
  ['1 sec', 1],
  ['1 second', 1],
  ['1 seconds', 1],
  ['1:01', 61],
  ['1 day', 86400],
  ['1 hour', 3600],
  ['1 min', 60],
  ['0.5', 0.5],
  ['-1', -1],
  [':22', 22],
  ['1 minute, 24 secs', 84],
  ['1.2 minutes', 72],
  ['1.2 seconds', 1.2],
  ['- 1 minute', -60],
  ['+ 1 minute', 60],
  ['blah', null],
  ['72hours', 259200],
  ['72 hours', 259200],
  ['3 days 5 hours', 277200],
  ['3days5hours', 277200],
  ['5days', 432000],
  ['1d2h3m4s', 93784],
  ['1 d 2 h 3 m 4 s', 93784],
  ['1m24s', 84],
  ['1m/30s', 90],
  ['1m,30s', 90],
  ['1.5h', 5400],
  ['0.5s', 0.5],
  ['10 seconds', 10],
  ['1H', 3600],
  ['1Day', 86400],
  ['1:02:03', 3723],
  ['1:02:03.5', 3723.5],
  ['1:00:00:00', 86400],
  ['01:01', 61],
  ['1:1', null],
  ['123:45', null],
  ['1h30', null],
  ['1 ms', null],
  ['1w', null],
  ['', null],
  ['  ', null],
  ['.5 hours', 1800],
  ['1.', 1],
  ['-1m30s', -90],
  ['-1h', -3600],
  ['--1', null],
  ['+-1', null],
  ['0.01 hours', 36],
  ['1.5 minutes 1s', 91],
  ['inf', null], // nvme-stas: inf; rejected here (non-finite)
  // Coverage config examples and other §1.8 text.
  ['0', 0],
  ['1e3', 1000],
  ['1:60', 120],
  ['99:99', 6039],
  ['2 days, 1:02:03', 176523],
  ['1.01 minutes', 60],
  ['-1.5m 30s', -60],
  ['1 sec 2 min', null],
];

describe('parseTimeSpec', () => {
  it.each(REFERENCE_VECTORS)('reads %j as %j', (text, expected) => {
    expect(parseTimeSpec(text)).toBe(expected);
  });

  it.each(['nan', 'NaN', '-nan', 'inf', '-inf', '+Infinity', 'infinity', '1e400', '-1e999'])(
    'rejects the non-finite %j',
    (text) => {
      expect(parseTimeSpec(text)).toBeNull();
    },
  );

  it.each(['1..5h', '..h', '.h', '1.2.3 minutes', '1..5:00:00', '1 ..5 s'])(
    'returns null for the malformed number in %j instead of throwing',
    (text) => {
      expect(parseTimeSpec(text)).toBeNull();
    },
  );

  it.each([
    ['  1_000  ', 1000],
    ['+.5e1', 5],
    ['1_000.000_5', 1000.0005],
    ['1__0', null],
    ['_1', null],
    ['1_', null],
  ] as const)('reads the plain number %j like Python float()', (text, expected) => {
    expect(parseTimeSpec(text)).toBe(expected);
  });

  it.each([
    ['1 DAYS 2 HRS 3 MINUTES 4 SECONDS', 93784],
    ['1dy 1dys', null], // days given twice
    ['1dys, 1hr / 1mins', 90060],
    ['1m,', 60],
    ['1s,', null],
    ['1m,,30s', null],
    ['1 d, 1:00:00', 90000],
    ['1:02:03:04.25', 93784.25],
  ] as const)('reads the unit/clock form %j as %j', (text, expected) => {
    expect(parseTimeSpec(text)).toBe(expected);
  });

  it('accepts Unicode decimal digits, as Python float() and \\d did', () => {
    expect(parseTimeSpec('\u0663')).toBe(3); // ARABIC-INDIC DIGIT THREE
    expect(parseTimeSpec('\u0661\u0662 h')).toBe(12 * 3600);
    expect(parseTimeSpec('\u{1D7D9}m')).toBe(60); // MATHEMATICAL DOUBLE-STRUCK DIGIT ONE
  });

  it('returns 0, not -0, for a negative zero', () => {
    expect(Object.is(parseTimeSpec('-0'), 0)).toBe(true);
    expect(Object.is(parseTimeSpec('-0s'), 0)).toBe(true);
  });

  it('applies the sign only to the truncated non-second part when seconds are whole', () => {
    expect(parseTimeSpec('-1.5 minutes 30 s')).toBe(-60);
    expect(parseTimeSpec('-1.5 minutes 30.5 s')).toBe(-120.5);
  });

  it('rejects input longer than the limit and stays fast on long hostile input', () => {
    expect(parseTimeSpec(`${'1'.repeat(MAX_TIME_SPEC_LENGTH)}s`)).toBeNull();
    const hostile = `1d${' '.repeat(MAX_TIME_SPEC_LENGTH - 4)}x`;
    expect(parseTimeSpec(hostile)).toBeNull();
    expect(parseTimeSpec(`${'1.'.repeat(100)}d`)).toBeNull();
  });
});
