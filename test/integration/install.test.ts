// `make install` / `make uninstall` as an admin or a packager would run them:
// the staged tree is complete, the installed tools run, the units pass
// `systemd-analyze verify`, an edited config survives both a reinstall and an
// uninstall, and nothing else is left behind.
import { execFile } from 'node:child_process';
import { access, appendFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;
/** Every bundled executable. */
const TOOLS = ['stafd', 'stafctl', 'stacd', 'stacctl', 'stasadm'];

async function install(action: 'install' | 'uninstall', env: Record<string, string>): Promise<void> {
  await run('scripts/install.sh', [action], { cwd: ROOT, env: { ...process.env, ...env } });
}

async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => join(e.parentPath, e.name).slice(dir.length))
    .filter((p) => !p.includes('/node_modules/koffi/'))
    .sort();
}

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stas-install-'));
  await run('node', ['scripts/bundle.mjs'], { cwd: ROOT });
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('make install / uninstall with DESTDIR', () => {
  it('stages every file, keeps an edited config, and uninstalls down to it', async () => {
    const destdir = join(tmp, 'stage');
    await install('install', { DESTDIR: destdir });
    const files = await listTree(destdir);
    expect(files).toEqual(
      expect.arrayContaining([
        '/etc/stas/stacd.conf',
        '/etc/stas/stafd.conf',
        '/etc/stas/sys.conf',
        '/usr/lib/systemd/system/stacd.service',
        '/usr/lib/systemd/system/stafd.service',
        '/usr/lib/systemd/system/stas-config.target',
        '/usr/lib/systemd/system/stas-config@.service',
        '/usr/lib/sysusers.d/stas.conf',
        '/usr/share/dbus-1/system.d/org.nvmexpress.staf.conf',
        '/usr/share/dbus-1/system.d/org.nvmexpress.stac.conf',
        '/usr/share/dbus-1/interfaces/org.nvmexpress.staf.xml',
        '/usr/share/doc/stas/README.md',
        ...TOOLS.flatMap((t) => [`/usr/bin/${t}`, `/usr/lib/stas/${t}.mjs`]),
      ]),
    );

    const edited = join(destdir, 'etc/stas/stafd.conf');
    await appendFile(edited, '[Global]\nkato = 5\n');
    await install('install', { DESTDIR: destdir });
    expect(await readFile(edited, 'utf8')).toContain('kato = 5');
    await access(`${edited}.dist`);

    await install('uninstall', { DESTDIR: destdir });
    expect(await listTree(destdir)).toEqual(['/etc/stas/stafd.conf']);
  });
});

describe('installed into a prefix', () => {
  it('runs every tool and passes systemd-analyze verify for all four units', async () => {
    const prefix = join(tmp, 'prefix/usr');
    const env = { PREFIX: prefix, SYSCONFDIR: join(tmp, 'prefix/etc') };
    await install('install', env);
    for (const tool of TOOLS) {
      const { stdout } = await run(join(prefix, `bin/${tool}`), ['--version']);
      expect(stdout).toMatch(new RegExp(`^${tool} \\(stas\\) `));
    }
    const units = join(prefix, 'lib/systemd/system');
    const verified = [
      'stafd.service',
      'stacd.service',
      'stas-config@hostnqn.service',
      'stas-config@hostid.service',
      'stas-config.target',
    ];
    const result = await run('systemd-analyze', [
      'verify',
      '--man=no',
      ...verified.map((u) => join(units, u)),
    ]);
    expect(result.stderr).toBe('');
    await install('uninstall', env);
    await expect(access(join(prefix, 'bin'))).rejects.toThrow();
  });
});
