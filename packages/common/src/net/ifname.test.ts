import { describe, expect, it } from 'vitest';
import { isValidIfName } from './ifname.js';

describe('isValidIfName', () => {
  it.each(['eth0', 'enp0s7', 'wlp0s20f3', 'eth0.100', 'br-lan', 'a', '123456789012345', '2'])(
    'accepts %s',
    (name) => {
      expect(isValidIfName(name)).toBe(true);
    },
  );

  it.each(['', '.', '..', '1234567890123456', 'eth0:1', 'a/b', 'eth 0', 'eth\t0', 'a,b', 'a=b', 'ethé'])(
    'rejects %j',
    (name) => {
      expect(isValidIfName(name)).toBe(false);
    },
  );
});
