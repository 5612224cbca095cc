import { describe, expect, it } from 'vitest';
import {
  boolOption,
  durationOption,
  enabledOption,
  intOption,
  ipFamilyOption,
  oneOfOption,
  parseDecimal,
  textOption,
  transportSetOption,
} from './option-types.js';

const value = (outcome: { ok: boolean; value?: unknown }): unknown =>
  outcome.ok ? outcome.value : 'invalid';

describe('boolOption', () => {
  const spec = boolOption(false);
  it.each([
    ['true', true],
    ['TRUE', true],
    ['yes', true],
    ['on', true],
    ['1', true],
    ['false', false],
    ['No', false],
    ['off', false],
    ['0', false],
    ['', 'invalid'],
    ['truee', 'invalid'],
    ['2', 'invalid'],
  ])('parses %j as %j', (raw, expected) => {
    expect(value(spec.parse(raw))).toBe(expected);
  });

  it('keeps its default', () => {
    expect(boolOption(true).default).toBe(true);
  });
});

describe('enabledOption', () => {
  it.each([
    ['enabled', true],
    ['Disabled', false],
    ['true', 'invalid'],
    ['', 'invalid'],
  ])('parses %j as %j', (raw, expected) => {
    expect(value(enabledOption(true).parse(raw))).toBe(expected);
  });
});

describe('parseDecimal', () => {
  it.each([
    ['0', 0],
    ['42', 42],
    ['+7', 7],
    ['-1', -1],
    ['0x20', null],
    ['2_0', null],
    ['1.5', null],
    ['', null],
    [' 5', null],
    ['9999999999999999', null],
  ])('parses %j as %j', (raw, expected) => {
    expect(parseDecimal(raw)).toBe(expected);
  });
});

describe('intOption', () => {
  const spec = intOption(null, { min: 16, max: 1024 });
  it('accepts the bounds and rejects values outside them', () => {
    expect(value(spec.parse('16'))).toBe(16);
    expect(value(spec.parse('1024'))).toBe(1024);
    expect(spec.parse('15')).toEqual({ ok: false, message: '15 is not within 16..1024' });
    expect(value(spec.parse('1025'))).toBe('invalid');
    expect(value(spec.parse('abc'))).toBe('invalid');
  });

  it('describes its range and default', () => {
    expect(spec.accepts).toBe('integer 16..1024');
    expect(spec.default).toBeNull();
    expect(intOption(30, { min: 0, max: 10 }).default).toBe(30);
  });
});

describe('oneOfOption', () => {
  const spec = oneOfOption(['only-stas-connections', 'no-disconnect'], 'only-stas-connections');
  it('accepts exact words', () => {
    expect(value(spec.parse('no-disconnect'))).toBe('no-disconnect');
  });

  it('accepts another case with a warning', () => {
    expect(spec.parse('No-Disconnect')).toMatchObject({
      ok: true,
      value: 'no-disconnect',
      warning: expect.any(String),
    });
  });

  it('rejects other words', () => {
    expect(value(spec.parse('all'))).toBe('invalid');
  });
});

describe('ipFamilyOption', () => {
  const spec = ipFamilyOption([4, 6]);
  it.each([
    ['ipv4', [4]],
    ['ipv6', [6]],
    ['ipv4+ipv6', [4, 6]],
    ['ipv6+ipv4', [6, 4]],
    ['IPv4', [4]],
    ['ipv4+ipv4', 'invalid'],
    ['ipv6 + ipv4', 'invalid'],
    ['ipv5', 'invalid'],
    ['', 'invalid'],
  ])('parses %j as %j', (raw, expected) => {
    expect(value(spec.parse(raw))).toEqual(expected);
  });
});

describe('transportSetOption', () => {
  const spec = transportSetOption(['tcp']);
  it('keeps order and drops duplicates', () => {
    expect(value(spec.parse('rdma+tcp+rdma'))).toEqual(['rdma', 'tcp']);
  });

  it('warns about unknown items but keeps the known ones', () => {
    expect(spec.parse('tcp+foo')).toMatchObject({
      ok: true,
      value: ['tcp'],
      warning: expect.stringContaining('foo'),
    });
  });

  it('rejects a value with no known transport', () => {
    expect(value(spec.parse('foo'))).toBe('invalid');
  });
});

describe('durationOption', () => {
  const spec = durationOption(259200);
  it('converts durations to seconds', () => {
    expect(value(spec.parse('72h'))).toBe(259200);
    expect(value(spec.parse('10 seconds'))).toBe(10);
    expect(value(spec.parse('1:01'))).toBe(61);
    expect(value(spec.parse('0'))).toBe(0);
  });

  it('maps every negative value to -1 (never)', () => {
    expect(value(spec.parse('-5'))).toBe(-1);
    expect(value(spec.parse('- 1 minute'))).toBe(-1);
  });

  it('rejects text that is not a duration, and non-finite numbers', () => {
    expect(value(spec.parse('blah'))).toBe('invalid');
    expect(value(spec.parse('nan'))).toBe('invalid');
    expect(value(spec.parse('inf'))).toBe('invalid');
  });
});

describe('textOption', () => {
  it('treats empty text as not set', () => {
    expect(value(textOption().parse(''))).toBeNull();
    expect(value(textOption().parse('x y'))).toBe('x y');
  });
});
