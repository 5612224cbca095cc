import { describe, expect, it } from 'vitest';
import { resolvePaths } from './paths.js';

describe('resolvePaths', () => {
  it('uses the system locations by default', () => {
    const p = resolvePaths({});
    expect(p.etcStas).toBe('/etc/stas');
    expect(p.fabricsDevice).toBe('/dev/nvme-fabrics');
    expect(p.machineId).toBe('/etc/machine-id');
  });

  it('prefixes every default with STAS_ROOT', () => {
    const p = resolvePaths({ STAS_ROOT: '/tmp/r' });
    expect(p.etcNvme).toBe('/tmp/r/etc/nvme');
    expect(p.sys).toBe('/tmp/r/sys');
  });

  it('lets a path variable override both the default and STAS_ROOT', () => {
    const p = resolvePaths({ STAS_ROOT: '/tmp/r', STAS_MACHINE_ID_FILE: '/x/mid' });
    expect(p.machineId).toBe('/x/mid');
    expect(p.run).toBe('/tmp/r/run');
  });

  it('ignores empty variables', () => {
    expect(resolvePaths({ STAS_ETC_DIR: '' }).etcStas).toBe('/etc/stas');
  });
});
