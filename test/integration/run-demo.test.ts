// `scripts/run.sh --demo` (what `make run ARGS=--demo` runs) as a user would: forced onto a private
// bus, dry run and a temporary host identity, it must show a discovered DC, its log page entries and a
// dry-run connect string per demo subsystem; SIGINT must stop everything it started (the pids it
// prints, and any process whose command line names its temporary directory) and remove that directory.
// Needs `npx tsc -b` first (skipped otherwise) and dbus-daemon.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { waitFor } from './fixtures/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILT = [
  'packages/stafd/dist/main.js',
  'packages/stacd/dist/main.js',
  'packages/common/dist/testing/dc-sim/dc-sim-main.js',
].every((f) => existsSync(`${ROOT}/${f}`));
const SUBSYSTEMS = ['demo-1', 'demo-2', 'demo-3'].map((s) => `nqn.2014-08.org.example.stas:${s}`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of processes whose command line contains `marker`. */
async function processesNaming(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(marker)) found.push(Number(entry));
  }
  return found;
}

describe.skipIf(!BUILT)('scripts/run.sh --demo', () => {
  it('shows the demo DC, its log page and a dry-run connect per subsystem, and SIGINT stops it all', async () => {
    const child = spawn('scripts/run.sh', ['--demo'], {
      cwd: ROOT,
      env: {
        ...process.env,
        STAS_RUN_PRIVATE_BUS: '1',
        STAS_RUN_DRY_RUN: '1',
        STAS_RUN_TEMP_IDENTITY: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (c: string) => (out += c));
    child.stderr.on('data', (c: string) => (out += c));
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => {
        resolve(code);
      });
    });

    try {
      await waitFor(() => out.includes('run: running;'), {
        timeoutMs: 20_000,
        intervalMs: 50,
        what: `run.sh settled; output so far:\n${out}`,
      });
    } catch (err) {
      child.kill('SIGINT');
      await exited;
      throw err;
    }
    const pidsLine = /^run: pids: ([\d ]+) \(.*temp dir (\S+)$/m.exec(out);
    expect(pidsLine, out).not.toBeNull();
    const pids = (pidsLine?.[1] ?? '').trim().split(' ').map(Number);
    const tmp = pidsLine?.[2] ?? '';
    expect(pids).toHaveLength(4); // dbus-daemon, DC simulator, stafd, stacd
    expect(tmp).toMatch(/stas-run\./);

    // stafctl ls: the demo DC; stafctl adlp: its entries; stacd's log: a connect string each.
    const port = /DC simulator on 127\.0\.0\.1:(\d+)/.exec(out)?.[1];
    expect(port).toBeDefined();
    expect(out).toMatch(
      new RegExp(`tcp +127\\.0\\.0\\.1 +${port} +nqn\\.2014-08\\.org\\.nvmexpress\\.discovery`),
    );
    expect(out).toContain(': 3 entries');
    for (const nqn of SUBSYSTEMS) {
      expect(out).toMatch(new RegExp(`nvme +127\\.0\\.0\\.1 +4420 +${nqn.replaceAll('.', '\\.')}`));
      expect(out).toMatch(
        new RegExp(`dry run: would write to /dev/nvme-fabrics: nqn=${nqn.replaceAll('.', '\\.')},`),
      );
    }
    expect(pids.every(alive)).toBe(true);

    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(pids.filter(alive)).toEqual([]);
    expect(await processesNaming(tmp)).toEqual([]);
    expect(existsSync(tmp)).toBe(false);
    expect(out).toContain(`run: stopped; removed ${tmp}`);
  });
});
