import { describe, expect, expectTypeOf, it } from 'vitest';
import { Variant } from '@particle/dbus-next';
import { BusError } from './bus-error.js';
import { conformValue, parseSignature, parseSingleType, type DBusValue } from './signature.js';

const conform = (sig: string, value: unknown) => conformValue(parseSingleType(sig), value, 'v');

describe('parseSignature', () => {
  it('splits a signature into complete types', () => {
    expect(parseSignature('bsaa{ss}a{sv}(iu)ay').map((t) => t.text)).toEqual([
      'b',
      's',
      'aa{ss}',
      'a{sv}',
      '(iu)',
      'ay',
    ]);
    expect(parseSignature('')).toEqual([]);
  });

  it('builds a type tree', () => {
    expect(parseSingleType('aa{ss}')).toEqual({
      kind: 'array',
      element: { kind: 'dict', key: 's', value: { kind: 'basic', code: 's' } },
    });
  });

  it.each(['a', '{ss}', 'a{vs}', 'a{sss}', '()', '(s', 'z', 'a{s}', 'a'.repeat(33) + 's', 's'.repeat(256)])(
    'rejects %s',
    (sig) => {
      expect(() => parseSignature(sig)).toThrow(BusError);
    },
  );

  it('parseSingleType refuses zero or several complete types', () => {
    expect(() => parseSingleType('')).toThrow(BusError);
    expect(() => parseSingleType('ss')).toThrow(BusError);
  });
});

describe('conformValue', () => {
  it('accepts aa{ss} and returns plain objects', () => {
    const bare = Object.create(null) as Record<string, string>;
    bare.traddr = '10.0.0.1';
    const result = conform('aa{ss}', [bare, { device: 'nvme?' }]);
    expect(result).toEqual({ ok: true, value: [{ traddr: '10.0.0.1' }, { device: 'nvme?' }] });
    const [first] = (result as { value: Record<string, string>[] }).value;
    expect(Object.getPrototypeOf(first)).toBe(Object.prototype);
  });

  it('names where a value does not fit', () => {
    expect(conform('aa{ss}', [{ traddr: '1' }, { origin: null }])).toEqual({
      ok: false,
      problem: "v[1].origin: expected D-Bus type 's', got null",
    });
    expect(conform('b', 'True')).toEqual({ ok: false, problem: "v: expected D-Bus type 'b', got string" });
  });

  it('checks integer ranges', () => {
    expect(conform('y', 255).ok).toBe(true);
    expect(conform('y', 256).ok).toBe(false);
    expect(conform('n', -32769).ok).toBe(false);
    expect(conform('u', 2 ** 32).ok).toBe(false);
    expect(conform('i', 1.5).ok).toBe(false);
    expect(conform('u', 0xffffffff).ok).toBe(true);
  });

  it('turns safe integers into bigints for x and t', () => {
    expect(conform('t', 5)).toEqual({ ok: true, value: 5n });
    expect(conform('x', -(2n ** 63n))).toEqual({ ok: true, value: -(2n ** 63n) });
    expect(conform('t', -1n).ok).toBe(false);
  });

  it('checks strings, object paths and signatures', () => {
    expect(conform('s', 'a\0b').ok).toBe(false);
    expect(conform('o', '/org/nvmexpress/staf').ok).toBe(true);
    expect(conform('o', '/org/').ok).toBe(false);
    expect(conform('g', 'aa{ss}').ok).toBe(true);
    expect(conform('g', 'a{').ok).toBe(false);
  });

  it('checks variants by their own signature', () => {
    expect(conform('v', new Variant('b', true)).ok).toBe(true);
    expect(conform('v', new Variant('b', 'yes')).ok).toBe(false);
    expect(conform('v', true).ok).toBe(false);
    expect(conform('a{sv}', { tron: new Variant('b', false) }).ok).toBe(true);
  });

  it('turns byte arrays into Buffers and checks structs and dictionary keys', () => {
    expect(conform('ay', [1, 2])).toEqual({ ok: true, value: Buffer.from([1, 2]) });
    expect(conform('ay', new Uint8Array([3]))).toEqual({ ok: true, value: Buffer.from([3]) });
    expect(conform('(su)', ['a', 1])).toEqual({ ok: true, value: ['a', 1] });
    expect(conform('(su)', ['a']).ok).toBe(false);
    expect(conform('a{us}', { '7': 'x' }).ok).toBe(true);
    expect(conform('a{us}', { seven: 'x' }).ok).toBe(false);
    expect(conform('a{ss}', ['x']).ok).toBe(false);
  });

  it('refuses unix file descriptors', () => {
    expect(conform('h', 3)).toEqual({ ok: false, problem: 'v: unix file descriptors (h) are not supported' });
  });
});

describe('DBusValue', () => {
  it('maps signatures to TypeScript types', () => {
    expectTypeOf<DBusValue<'b'>>().toEqualTypeOf<boolean>();
    expectTypeOf<DBusValue<'s'>>().toEqualTypeOf<string>();
    expectTypeOf<DBusValue<'t'>>().toEqualTypeOf<bigint>();
    expectTypeOf<DBusValue<'aa{ss}'>>().toEqualTypeOf<Record<string, string>[]>();
    expectTypeOf<DBusValue<'a{sv}'>>().toEqualTypeOf<Record<string, Variant<unknown>>>();
    expectTypeOf<DBusValue<'ay'>>().toEqualTypeOf<Buffer>();
    expectTypeOf<DBusValue<'as'>>().toEqualTypeOf<string[]>();
  });
});
