// stafctl's D-Bus verbs against a running stafd (in-process) on a private bus: ls/adlp/status/dlp
// tables and --json, tron/troff, "stafd is not running"; and, with the real system policy
// (dbus/org.nvmexpress.staf.conf) and the built stafctl run as `nobody`, a clear "permission denied"
// for tron (T2) while reads still work.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WELL_KNOWN_DISCOVERY_NQN } from '@stas/common/nvme/tid';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { DcSimulator } from '@stas/common/testing/dc-sim/dc-simulator';
import { runStafctl, type CliContext } from '../../packages/stafd/src/cli/stafctl.js';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';
import { HOST_NQN, createStafdHarness, type StafdHarness } from './fixtures/stafd-harness.js';
import { waitFor } from './fixtures/wait.js';

const SUBSYS = 'nqn.2024-01.io.stas.test:ctl';

async function stafctl(
  env: Record<string, string>,
  ...argv: string[]
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = { env, out: (t) => out.push(t), err: (t) => err.push(t) };
  const code = await runStafctl(argv, ctx);
  return { code, out: out.join(''), err: err.join('') };
}

describe('stafctl against stafd', () => {
  let bus: DbusDaemon;
  let h: StafdHarness;
  let dc: DcSimulator;
  let env: Record<string, string>;

  beforeEach(async () => {
    bus = await startDbusDaemon();
    h = await createStafdHarness(bus.address);
    dc = await DcSimulator.start({ entries: [nvmeEntry({ traddr: '127.0.0.1', subnqn: SUBSYS })] });
    env = { ...h.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  });

  afterEach(async () => {
    await h.dispose();
    await dc.close();
    await bus.close();
  });

  it('says stafd is not running when nobody owns the name', async () => {
    const r = await stafctl(env, 'ls');
    expect(r).toEqual({
      code: 1,
      out: '',
      err: 'stafctl: stafd is not running (no owner for org.nvmexpress.staf on the system bus)\n',
    });
  });

  it('lists controllers and log pages as tables and as JSON', async () => {
    await h.writeConf(`[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=${dc.port}\n`);
    await h.start();
    await waitFor(async () => (await stafctl(env, 'adlp')).out.includes(SUBSYS), {
      timeoutMs: 5000,
      what: 'the entry in adlp',
    });

    const ls = await stafctl(env, 'ls', '--json');
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.out)).toEqual({
      controllers: [
        {
          traddr: '127.0.0.1',
          trsvcid: String(dc.port),
          transport: 'tcp',
          subsysnqn: WELL_KNOWN_DISCOVERY_NQN,
          'host-iface': '',
          'host-traddr': '',
          'host-nqn': HOST_NQN,
          device: '',
        },
      ],
    });
    const detailed = await stafctl(env, 'ls', '-d');
    expect(detailed.out).toMatch(/configured\s+ready\s+True\s+fresh\s+1/);

    const adlp = JSON.parse((await stafctl(env, 'adlp', '--json', '--detailed')).out) as {
      'discovery-controllers': { 'discovery-controller': Record<string, string>; 'log-pages': unknown[] }[];
    };
    expect(adlp['discovery-controllers']).toHaveLength(1);
    expect(adlp['discovery-controllers'][0]?.['discovery-controller']['log-pages-state']).toBe('fresh');
    expect(adlp['discovery-controllers'][0]?.['log-pages']).toEqual([
      expect.objectContaining({ subnqn: SUBSYS, subtype: 'nvme' }),
    ]);

    const dlp = await stafctl(env, 'dlp', '-a', '127.0.0.1', '-s', String(dc.port), '--json');
    expect(dlp.code).toBe(0);
    expect(JSON.parse(dlp.out)).toMatchObject({
      controller: { traddr: '127.0.0.1', host_nqn: HOST_NQN },
      'log-pages': [expect.objectContaining({ subnqn: SUBSYS })],
    });
    const dlpTable = await stafctl(env, 'dlp', '-a', '127.0.0.1', '-s', String(dc.port), '-q', HOST_NQN);
    expect(dlpTable.out).toContain(SUBSYS);

    const status = JSON.parse((await stafctl(env, 'status', '--json')).out) as {
      process: Record<string, unknown>;
      controllers: Record<string, unknown>[];
    };
    expect(status.process).toMatchObject({ hostnqn: HOST_NQN, tron: false });
    expect(status.process).not.toHaveProperty('hostkey');
    expect(status.controllers[0]).toMatchObject({ origin: 'configured', 'log-pages': [expect.anything()] });
    expect((await stafctl(env, 'status')).out).toContain('controllers.total: 1');
  });

  it('switches debug logging with tron and troff', async () => {
    await h.writeConf('');
    await h.start();
    expect(await stafctl(env, 'tron')).toEqual({ code: 0, out: 'tron = true\n', err: '' });
    expect(h.app?.daemon.tron).toBe(true);
    const off = await stafctl(env, 'troff', '--json');
    expect(JSON.parse(off.out)).toEqual({ tron: false, 'log-level': 'INFO' });
  });
});

// ---- the system policy, stafctl as `nobody` -----------------------------------------------------------

function run(
  file: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

const STAFCTL_BIN = fileURLToPath(new URL('../../packages/stafd/bin/stafctl.js', import.meta.url));
const BUILT = existsSync(fileURLToPath(new URL('../../packages/stafd/dist/cli/main.js', import.meta.url)));
const canSwitchUser =
  BUILT && process.getuid?.() === 0 && (await run('sh', ['-c', 'command -v setpriv'], {})).code === 0;
const policyFile = fileURLToPath(new URL('../../dbus/org.nvmexpress.staf.conf', import.meta.url));

describe.runIf(canSwitchUser)('stafctl as a non-root user under the system policy', () => {
  let bus: DbusDaemon;
  let h: StafdHarness;

  beforeEach(async () => {
    bus = await startDbusDaemon({ policy: 'system', include: [policyFile] });
    h = await createStafdHarness(bus.address);
    await h.writeConf('');
    await h.start();
  });

  afterEach(async () => {
    await h.dispose();
    await bus.close();
  });

  const asNobody = (...args: string[]) =>
    run(
      'setpriv',
      ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', process.execPath, STAFCTL_BIN, ...args],
      { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/', DBUS_SYSTEM_BUS_ADDRESS: bus.address },
    );

  it('reads as nobody, and is told "permission denied" (not "not running") for tron', async () => {
    const ls = await asNobody('ls', '--json');
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual({ controllers: [] });

    const tron = await asNobody('tron');
    expect(tron.code).toBe(1);
    expect(tron.stderr).toBe(
      'stafctl: permission denied: setting tron to true is refused by the D-Bus policy of org.nvmexpress.staf (it needs root)\n',
    );
    expect(h.app?.daemon.tron).toBe(false);
  });
});
