import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REDACTED, Secret } from './secret.js';

describe('Secret', () => {
  const s = new Secret('DHHC-1:00:c2VjcmV0:');

  it('reveals its value only on request', () => {
    expect(s.reveal()).toBe('DHHC-1:00:c2VjcmV0:');
  });

  it('is redacted in strings, JSON and inspect output', () => {
    expect(String(s)).toBe(REDACTED);
    expect(s.toString()).toBe(REDACTED);
    expect(JSON.stringify({ key: s })).toBe(`{"key":"${REDACTED}"}`);
    expect(inspect({ key: s })).not.toContain('c2VjcmV0');
  });
});
