import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runStasadm } from './cli.js';

const DERIVED_NQN = 'nqn.2014-08.org.nvmexpress:uuid:3da64a01-16c5-4e10-ac46-397e2372b964';
const DERIVED_UUID = '3da64a01-16c5-4e10-ac46-397e2372b964';
const SHIPPED = (name: string): URL => new URL(`../../../etc/stas/${name}`, import.meta.url);

let root: string;

interface Run {
  status: number;
  out: string;
  err: string;
}

async function stasadm(...argv: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const status = await runStasadm(argv, {
    env: { STAS_ROOT: root },
    out: (t) => (out += t),
    err: (t) => (err += t),
  });
  return { status, out, err };
}

const sysConf = (): string => join(root, 'etc/stas/sys.conf');

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'stasadm-'));
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc/machine-id'), 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n');
});

describe('stasadm hostnqn', () => {
  it('derives the host NQN from the machine ID exactly as nvme-stas does', async () => {
    const conf = join(root, 'x.conf');
    const r = await stasadm('hostnqn', '-c', conf);
    expect(r).toEqual({ status: 0, out: DERIVED_NQN + '\n', err: '' });
    expect(await readFile(conf, 'utf8')).toBe(`[Host]\nnqn = ${DERIVED_NQN}\n`);
  });

  it('writes the NQN to a file and points sys.conf at it, creating directories', async () => {
    const file = join(root, 'etc/nvme/hostnqn');
    const r = await stasadm('hostnqn', '-f', file);
    expect(r.status).toBe(0);
    expect(await readFile(file, 'utf8')).toBe(DERIVED_NQN + '\n');
    expect(await readFile(sysConf(), 'utf8')).toBe(`[Host]\nnqn = file://${file}\n`);
  });

  it('refuses an invalid NQN and writes nothing', async () => {
    const r = await stasadm('hostnqn', 'nqn.bad,name');
    expect(r.status).toBe(1);
    expect(r.err).toContain('refusing to write host NQN');
    await expect(stat(sysConf())).rejects.toThrow();
  });

  it("leaves sys.conf alone with -c ''", async () => {
    const file = join(root, 'hostnqn');
    expect((await stasadm('-c', '', 'hostnqn', '-f', file)).status).toBe(0);
    await expect(stat(sysConf())).rejects.toThrow();
    expect((await stasadm('-c', '', 'hostnqn')).status).toBe(1);
  });
});

describe('stasadm hostid', () => {
  it('uses the UUID of the host NQN', async () => {
    await stasadm('hostnqn', '-f', join(root, 'etc/nvme/hostnqn'));
    const r = await stasadm('hostid', '-f', join(root, 'etc/nvme/hostid'));
    expect(r).toMatchObject({ status: 0, out: DERIVED_UUID + '\n' });
    expect(await readFile(join(root, 'etc/nvme/hostid'), 'utf8')).toBe(DERIVED_UUID + '\n');
  });

  it('accepts an explicit UUID and refuses anything else', async () => {
    expect((await stasadm('hostid', '0123456789ABCDEF0123456789ABCDEF')).status).toBe(1);
    const r = await stasadm('hostid', 'A1B2C3D4-0000-4000-8000-000000000001');
    expect(r.out).toBe('a1b2c3d4-0000-4000-8000-000000000001\n');
  });
});

describe('stasadm set-symname / clear-symname', () => {
  it('changes only the symname line of a commented sys.conf', async () => {
    const shipped = await readFile(SHIPPED('sys.conf'), 'utf8');
    const original = shipped.replace('#symname = storage-host-01', 'symname = old name  # set by hand');
    await mkdir(join(root, 'etc/stas'), { recursive: true });
    await writeFile(sysConf(), original, { mode: 0o640 });

    expect((await stasadm('set-symname', 'Bart Simpson')).status).toBe(0);
    const updated = await readFile(sysConf(), 'utf8');
    const before = original.split('\n');
    const after = updated.split('\n');
    expect(after).toHaveLength(before.length);
    const changed = after.map((line, i) => [line, before[i]]).filter(([a, b]) => a !== b);
    expect(changed).toEqual([['symname = Bart Simpson  # set by hand', 'symname = old name  # set by hand']]);
    expect((await stat(sysConf())).mode & 0o777).toBe(0o640);
  });

  it('adds symname after its commented-out template and removes it again', async () => {
    const shipped = await readFile(SHIPPED('sys.conf'), 'utf8');
    await mkdir(join(root, 'etc/stas'), { recursive: true });
    await writeFile(sysConf(), shipped);
    await stasadm('set-symname', 'host-a');
    const withName = await readFile(sysConf(), 'utf8');
    expect(withName).toContain('#symname = storage-host-01\nsymname = host-a\n');
    expect((await stasadm('clear-symname')).status).toBe(0);
    expect(await readFile(sysConf(), 'utf8')).toBe(shipped);
  });

  it('refuses empty names and names with control characters', async () => {
    expect((await stasadm('set-symname', '  ')).status).toBe(1);
    expect((await stasadm('set-symname', 'a\nb')).status).toBe(1);
  });
});

describe('stasadm show', () => {
  it('prints the resolved identity as text and JSON', async () => {
    await stasadm('hostnqn', '-f', join(root, 'etc/nvme/hostnqn'));
    await stasadm('hostid', '-f', join(root, 'etc/nvme/hostid'));
    const text = await stasadm('show');
    expect(text.status).toBe(0);
    expect(text.out).toContain(`hostnqn  ${DERIVED_NQN}`);
    expect(text.out).toContain('symname  (not set)');
    const json = await stasadm('show', '--json');
    expect(JSON.parse(json.out)).toMatchObject({
      hostnqn: DERIVED_NQN,
      hostid: DERIVED_UUID,
      hostkey: null,
      symname: null,
      valid: true,
    });
  });

  it('exits 1 and says how to fix a missing identity', async () => {
    const r = await stasadm('show');
    expect(r.status).toBe(1);
    expect(r.err).toContain('stasadm hostnqn -f /etc/nvme/hostnqn');
  });
});

describe('stasadm check', () => {
  it.each(['sys', 'stafd', 'stacd'])('accepts the shipped %s.conf and prints its defaults', async (kind) => {
    const r = await stasadm('check', '--json', SHIPPED(`${kind}.conf`).pathname);
    expect(r.status).toBe(0);
    const [report] = JSON.parse(r.out) as [
      { kind: string; diagnostics: unknown[]; config: Record<string, unknown> },
    ];
    expect(report.kind).toBe(kind);
    expect(report.diagnostics).toEqual([]);
    if (kind === 'stafd') {
      expect(report.config).toMatchObject({
        Global: { kato: 30, pleo: true, 'ip-family': [4, 6] },
        'Discovery controller connection management': { 'zeroconf-connections-persistence': 259200 },
        Controllers: { controller: [], exclude: [] },
      });
    }
  });

  it('names file:line of an invalid value and exits 1', async () => {
    const file = join(root, 'stacd.conf');
    await writeFile(file, '[Global]\n\nkato = soon\n');
    const r = await stasadm('check', file);
    expect(r.status).toBe(1);
    expect(r.out).toContain(`${file}:3: error: [Global] kato: expected an integer, got "soon"`);
    expect(r.out).toContain('FAILED');
  });

  it('prints parsed controllers with secrets redacted', async () => {
    const file = join(root, 'my-stafd.conf');
    await writeFile(
      file,
      '[Controllers]\ncontroller = transport=tcp;traddr=::ffff:10.0.0.1;dhchap-secret=DHHC-1:00:c2VjcmV0c2VjcmV0:\n',
    );
    const r = await stasadm('check', '--kind', 'stafd', '--json', file);
    expect(r.status).toBe(0);
    expect(r.out).not.toContain('c2VjcmV0');
    const [report] = JSON.parse(r.out) as [{ config: { Controllers: { controller: unknown[] } } }];
    expect(report.config.Controllers.controller).toEqual([
      expect.objectContaining({
        transport: 'tcp',
        traddr: '10.0.0.1',
        trsvcid: '8009',
        'dhchap-secret': '[redacted]',
      }),
    ]);
  });

  it('checks the default files, which may be absent', async () => {
    const r = await stasadm('check');
    expect(r.status).toBe(0);
    expect(r.out).toContain('not present, defaults apply');
  });

  it('fails for a named file that does not exist', async () => {
    const r = await stasadm('check', join(root, 'stafd.conf'));
    expect(r.status).toBe(1);
  });

  it('asks for --kind when the name does not tell', async () => {
    const file = join(root, 'weird.ini');
    await writeFile(file, '');
    expect((await stasadm('check', file)).status).toBe(2);
    expect((await stasadm('check', '--kind', 'bogus', file)).status).toBe(2);
  });
});

describe('stasadm usage', () => {
  it('prints help and version', async () => {
    expect((await stasadm('--help')).out).toContain('usage: stasadm');
    expect((await stasadm('-v')).out).toMatch(/^stasadm \(stas\) \d+\.\d+\.\d+\n$/);
  });

  it.each([[[]], [['frobnicate']], [['show', '--kind', 'sys']], [['set-symname']], [['--nope']]])(
    'exits 2 on bad usage %j',
    async (argv) => {
      const r = await stasadm(...argv);
      expect(r.status).toBe(2);
      expect(r.err).toContain("Try 'stasadm --help'");
    },
  );
});
