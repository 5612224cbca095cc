import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { firstValueLine, resolveHostIdentity } from './host-identity.js';

const NQN = 'nqn.2014-08.org.nvmexpress:uuid:3da64a01-16c5-4e10-ac46-397e2372b964';
const ID = '3da64a01-16c5-4e10-ac46-397e2372b964';

let dir: string;
let etcNvme: string;
let sysConf: string;

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stas-identity-'));
  etcNvme = join(dir, 'nvme');
  sysConf = join(dir, 'stas', 'sys.conf');
  await mkdir(etcNvme);
  await mkdir(join(dir, 'stas'));
});

describe('firstValueLine', () => {
  it('skips blank and comment lines and keeps spaces inside the value', () => {
    expect(firstValueLine('\n# generated\n  Bart Simpson  \nnext\n')).toBe('Bart Simpson');
    expect(firstValueLine('')).toBeNull();
    expect(firstValueLine('\n\n')).toBeNull();
  });
});

describe('resolveHostIdentity', () => {
  it('reads the default files when sys.conf does not exist', async () => {
    await writeFile(join(etcNvme, 'hostnqn'), NQN + '\n');
    await writeFile(join(etcNvme, 'hostid'), ID.toUpperCase() + '\n');
    const r = await resolveHostIdentity({ sysConf, etcNvme });
    expect(r.diagnostics).toEqual([]);
    expect(r.identity).toEqual({ hostnqn: NQN, hostid: ID, hostkey: null, symname: null });
    expect(r.sources.nqn).toEqual({ origin: 'file', path: join(etcNvme, 'hostnqn') });
    expect(r.sources.symname.origin).toBe('none');
  });

  it('uses literals and file:// targets from sys.conf (relative paths from its directory)', async () => {
    await writeFile(join(dir, 'stas', 'myid'), `# host id\n\n${ID}\n`);
    await writeFile(join(dir, 'stas', 'key'), 'DHHC-1:00:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0:\n');
    await writeFile(
      sysConf,
      `[Host]\nnqn = ${NQN}\nid = file://myid\nkey = file://${join(dir, 'stas', 'key')}\nsymname = Bart Simpson\n`,
    );
    const r = await resolveHostIdentity({ sysConf, etcNvme });
    expect(r.diagnostics).toEqual([]);
    expect(r.identity?.hostnqn).toBe(NQN);
    expect(r.identity?.hostid).toBe(ID);
    expect(r.identity?.symname).toBe('Bart Simpson');
    expect(r.identity?.hostkey?.reveal()).toBe('DHHC-1:00:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0:');
    expect(r.sources.nqn.origin).toBe('sys.conf');
  });

  it('names file and line of an invalid literal host NQN', async () => {
    await writeFile(join(etcNvme, 'hostid'), ID);
    await writeFile(sysConf, '[Host]\n# x\nnqn = host-1\n');
    const r = await resolveHostIdentity({ sysConf, etcNvme });
    expect(r.identity).toBeNull();
    expect(r.found.hostnqn).toBe('host-1');
    expect(r.diagnostics).toEqual([
      {
        severity: 'error',
        file: sysConf,
        line: 3,
        message: 'invalid host NQN: "host-1" does not start with "nqn."',
      },
    ]);
  });

  it('reports missing host NQN and host ID files with the command that creates them', async () => {
    const r = await resolveHostIdentity({ sysConf, etcNvme });
    expect(r.identity).toBeNull();
    expect(r.diagnostics.map((d) => d.message)).toEqual([
      'no host NQN configured (create it with: stasadm hostnqn -f /etc/nvme/hostnqn)',
      'no host ID configured (create it with: stasadm hostid -f /etc/nvme/hostid)',
    ]);
  });

  it('rejects a host ID that is not a UUID', async () => {
    await writeFile(join(etcNvme, 'hostnqn'), NQN);
    await writeFile(join(etcNvme, 'hostid'), 'not-a-uuid\n');
    const r = await resolveHostIdentity({ sysConf, etcNvme });
    expect(r.identity).toBeNull();
    expect(r.diagnostics).toMatchObject([{ severity: 'error', file: join(etcNvme, 'hostid'), line: 1 }]);
  });

  it('treats an empty host NQN file as missing, with a warning on the file', async () => {
    await writeFile(join(etcNvme, 'hostnqn'), '\n');
    await writeFile(join(etcNvme, 'hostid'), ID);
    const r = await resolveHostIdentity({ sysConf, etcNvme });
    expect(r.identity).toBeNull();
    expect(r.diagnostics.map((d) => d.severity)).toEqual(['warning', 'error']);
  });

  it('reports a file:// target that cannot be read, at the sys.conf line', async () => {
    await writeFile(join(etcNvme, 'hostid'), ID);
    await writeFile(sysConf, `[Host]\nnqn = file://${join(dir, 'absent')}\n`);
    const r = await resolveHostIdentity({ sysConf, etcNvme });
    expect(r.identity).toBeNull();
    expect(r.diagnostics[0]).toMatchObject({ severity: 'error', file: sysConf, line: 2 });
  });
});
