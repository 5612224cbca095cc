import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSysConf } from './sys-conf.js';

describe('parseSysConf', () => {
  it('has no values and no diagnostics for the shipped sys.conf', () => {
    const shipped = readFileSync(new URL('../../../../etc/stas/sys.conf', import.meta.url), 'utf8');
    const { config, diagnostics } = parseSysConf(shipped, 'sys.conf');
    expect(diagnostics).toEqual([]);
    expect(config.Host).toEqual({ nqn: null, id: null, key: null, symname: null });
    expect(config.lines).toEqual({});
  });

  it('keeps literal and file:// values as written, with their lines', () => {
    const { config } = parseSysConf(
      '[Host]\nnqn = file:///etc/nvme/hostnqn\nsymname = Bart Simpson\nid=x\n',
      'sys.conf',
    );
    expect(config.Host).toEqual({
      nqn: 'file:///etc/nvme/hostnqn',
      id: 'x',
      key: null,
      symname: 'Bart Simpson',
    });
    expect(config.lines).toEqual({ nqn: 2, symname: 3, id: 4 });
  });

  it('reports a key without a value and unknown keys', () => {
    const { config, diagnostics } = parseSysConf('[Host]\nnqn\nfoo = 1\n', 'sys.conf');
    expect(config.Host.nqn).toBeNull();
    expect(diagnostics.map((d) => [d.severity, d.line])).toEqual([
      ['error', 2],
      ['warning', 3],
    ]);
  });
});
