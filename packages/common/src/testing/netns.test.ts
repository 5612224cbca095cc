import { describe, expect, it } from 'vitest';
import { linkAddresses, staleNetnsNames } from './netns.js';

describe('linkAddresses', () => {
  it('gives link 0 the 10.99.0.0/24 and fd00:99::/64 networks, side a ending in 1 and side b in 2', () => {
    expect(linkAddresses(0)).toEqual({
      a4: '10.99.0.1',
      b4: '10.99.0.2',
      a6: 'fd00:99::1',
      b6: 'fd00:99::2',
    });
  });

  it('gives every further link its own network, counting down', () => {
    expect(linkAddresses(2)).toEqual({
      a4: '10.97.0.1',
      b4: '10.97.0.2',
      a6: 'fd00:97::1',
      b6: 'fd00:97::2',
    });
  });
});

describe('staleNetnsNames', () => {
  const listing = [
    'stas-100-abc123-a (id: 0)',
    'stas-100-abc123-b (id: 1)',
    'stas-200-def456-a',
    'stas-x-def456-a',
    'other-300-abc123-a',
    'stas-300-abc123-c',
    '',
  ].join('\n');

  it('names our namespaces whose creating process is gone', () => {
    expect(staleNetnsNames(listing, (pid) => pid === 100)).toEqual(['stas-200-def456-a']);
  });

  it('leaves namespaces of live processes and names not of our pattern alone', () => {
    expect(staleNetnsNames(listing, () => true)).toEqual([]);
    expect(staleNetnsNames('foo\nbar (id: 3)\n', () => false)).toEqual([]);
  });
});
