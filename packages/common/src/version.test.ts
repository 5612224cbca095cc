import { describe, expect, it } from 'vitest';
import { STAS_VERSION, versionText } from './version.js';

describe('versionText', () => {
  it('names the program and the stas release', () => {
    expect(versionText('stasadm')).toBe(`stasadm (stas) ${STAS_VERSION}`);
  });
});
