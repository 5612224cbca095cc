import { describe, expect, it } from 'vitest';
import { parseTxt } from './txt.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('parseTxt', () => {
  it('folds keys to lower case and keeps values as sent', () => {
    expect(Object.fromEntries(parseTxt(['NqN=Starfleet', 'p=tcp']))).toEqual({ nqn: 'Starfleet', p: 'tcp' });
  });

  it('keeps everything after the first = in the value', () => {
    expect(parseTxt(['key=a=b==']).get('key')).toBe('a=b==');
  });

  it('ignores empty items, items starting with =, and boolean keys get an empty value', () => {
    expect(Object.fromEntries(parseTxt(['Nqn=Starfleet', 'p=', 'blah', '=', '']))).toEqual({
      nqn: 'Starfleet',
      p: '',
      blah: '',
    });
  });

  it('lets the first occurrence of a key win', () => {
    expect(parseTxt(['p=tcp', 'P=rdma']).get('p')).toBe('tcp');
  });

  it('drops invalid UTF-8, control characters and oversized items', () => {
    const txt = parseTxt([
      new Uint8Array([0xff, 0x3d, 0x31]),
      bytes('a=\u0000x'),
      bytes(`b=${'x'.repeat(300)}`),
      bytes('c=ok'),
    ]);
    expect(Object.fromEntries(txt)).toEqual({ c: 'ok' });
  });

  it('looks at a bounded number of items', () => {
    const many = Array.from({ length: 1000 }, (_, i) => `k${i}=v`);
    expect(parseTxt(many).size).toBe(64);
  });
});
