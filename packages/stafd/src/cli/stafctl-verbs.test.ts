// The D-Bus verbs without a bus: help, usage errors, and the one-line failure when no bus is there.
// (Against a running stafd: test/integration/stafd-stafctl.test.ts.)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStafctl, type CliContext } from './stafctl.js';

function context(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = { env, out: (t) => out.push(t), err: (t) => err.push(t) };
  return { ctx, out, err };
}

describe('stafctl D-Bus verbs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stafctl-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists every verb in the help', async () => {
    const { ctx, out } = context();
    expect(await runStafctl(['--help'], ctx)).toBe(0);
    for (const verb of ['ls', 'status', 'dlp', 'adlp', 'tron', 'troff', 'discover']) {
      expect(out.join('')).toMatch(new RegExp(`^  ${verb} `, 'm'));
    }
  });

  for (const verb of ['ls', 'status', 'dlp', 'adlp', 'tron', 'troff']) {
    it(`${verb}: prints its help and rejects unknown options with exit 2`, async () => {
      const help = context();
      expect(await runStafctl([verb, '--help'], help.ctx)).toBe(0);
      expect(help.out.join('')).toContain(`usage: stafctl ${verb}`);
      expect(help.out.join('')).toContain('--bus-address');
      const bad = context();
      expect(await runStafctl([verb, '--nope'], bad.ctx)).toBe(2);
      expect(bad.err.join('')).toContain(`Try 'stafctl ${verb} --help'.`);
    });
  }

  it('dlp: needs -a and -s, and a known transport', async () => {
    const a = context();
    expect(await runStafctl(['dlp', '-s', '8009'], a.ctx)).toBe(2);
    expect(a.err.join('')).toContain('-a/--traddr is required');
    const s = context();
    expect(await runStafctl(['dlp', '-a', '192.0.2.1'], s.ctx)).toBe(2);
    const t = context();
    expect(await runStafctl(['dlp', '-t', 'xyz', '-a', '1.2.3.4', '-s', '1'], t.ctx)).toBe(2);
  });

  it('dlp: without -q and without a host NQN, says how to make one (only dlp reads it: T1)', async () => {
    const { ctx, err } = context({ STAS_ROOT: dir });
    expect(await runStafctl(['dlp', '-a', '192.0.2.1', '-s', '8009'], ctx)).toBe(1);
    expect(err.join('')).toMatch(/^stafctl: no host NQN \(give -q/);
  });

  it('ls: one line and exit 1 when the bus cannot be reached', async () => {
    const { ctx, err } = context({ STAS_ROOT: dir });
    const code = await runStafctl(['ls', '--bus-address', `unix:path=${join(dir, 'no-bus')}`], ctx);
    expect(code).toBe(1);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^stafctl: cannot connect to the system bus: /);
  });
});
