import { describe, expect, it } from 'vitest';
import { runStafctl } from './stafctl.js';

async function stafctl(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  // An empty root: no sys.conf, no /etc/nvme files. Only `discover` may need them.
  const status = await runStafctl(argv, {
    env: { STAS_ROOT: '/nonexistent-stas-root' },
    out: (t) => (out += t),
    err: (t) => (err += t),
  });
  return { status, out, err };
}

describe('stafctl', () => {
  it('prints help listing the verbs, without needing a host NQN', async () => {
    const r = await stafctl('--help');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^usage: stafctl/);
    expect(r.out).toContain('discover');
    expect(r.err).toBe('');
  });

  it('prints the version without needing a host NQN (nvme-stas bug T1)', async () => {
    expect(await stafctl('-v')).toEqual({ status: 0, out: 'stafctl (stas) 0.1.0\n', err: '' });
  });

  it('is a usage error (2) without a command, with an unknown command or option', async () => {
    for (const argv of [[], ['frobnicate'], ['--bogus']]) {
      const r = await stafctl(...argv);
      expect(r.status).toBe(2);
      expect(r.err).toMatch(/^stafctl: .*\nTry 'stafctl --help'\.\n$/);
      expect(r.out).toBe('');
    }
  });

  it('passes the rest of the arguments to the verb', async () => {
    const r = await stafctl('discover', '--help');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^usage: stafctl discover -t tcp -a ADDR/);
  });
});
