import { describe, expect, it } from 'vitest';
import { isValidHostName } from './host-name.js';

describe('isValidHostName', () => {
  it.each(['localhost', 'dc1.example.com', 'DC-1.Example.COM', 'a', 'dc.example.', '1host.example', 'x1'])(
    'accepts %s',
    (name) => {
      expect(isValidHostName(name)).toBe(true);
    },
  );

  it.each([
    '',
    '.',
    '-dc.example',
    'dc-.example',
    'dc..example',
    'dc_1.example',
    'dc 1',
    '1.2.3',
    '256.1.1.1',
    '01.1.1.1',
    'fe80::1',
    `${'a'.repeat(64)}.example`,
    `${'a.'.repeat(127)}com`,
  ])('rejects %j', (name) => {
    expect(isValidHostName(name)).toBe(false);
  });
});
