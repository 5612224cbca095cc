/**
 * stafd (the built dist, as a child process) against the guest's real Linux target and system bus:
 * with a `controller=` for nvmet's discovery port 127.0.0.1:8009, the entries of the subsystems linked
 * to that port are on D-Bus (org.nvmexpress.staf); linking another subsystem makes nvmet send the
 * discovery-change AEN, and stafd publishes the new entry with exactly one `log_pages_changed`. stafctl
 * shows the same entries. When its TCP connection is reset (ss -K), stafd reconnects and republishes
 * nothing (the entries did not change). SIGTERM stops stafd with exit 0.
 *
 * Runs inside the e2e guest (test/e2e/run), as root, on the system bus the harness started with the
 * project's dbus/ policy files. Touches nvmet (reset before and after), a temporary directory for
 * stafd.conf and the cache, and the guest's /etc/nvme host identity (read only).
 * With STAS_E2E_TIMINGS=<file> set, appends the measured timings there as JSON lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { connectSystemBus, type SystemBus } from '@stas/common/dbus/bus';
import { STAF_API, STAF_INTERFACE } from '@stas/common/dbus/staf-api';

import { hostIdentity, type HostIdentity } from './lib/fabrics.js';
import { run } from './lib/run.js';
import { applyTarget, linkSubsystem, resetTarget, type TargetSpec } from './lib/target.js';
import { waitFor } from './lib/wait-for.js';

const NQN_ONE = 'nqn.2024-01.io.stas.e2e:stafd-one';
const NQN_TWO = 'nqn.2024-01.io.stas.e2e:stafd-two';
const LOCALHOST = '127.0.0.1';
const STAFD = 'packages/stafd/bin/stafd.js';
const STAFCTL = 'packages/stafd/bin/stafctl.js';

const TARGET: TargetSpec = {
  subsystems: [
    { nqn: NQN_ONE, namespaces: [{ nsid: 1, size: '8M' }] },
    { nqn: NQN_TWO, namespaces: [{ nsid: 1, size: '8M' }] },
  ],
  ports: [{ id: 1, traddr: LOCALHOST, trsvcid: '8009', subsystems: [NQN_ONE] }],
};

function timing(what: string, ms: number): void {
  const file = process.env.STAS_E2E_TIMINGS;
  if (file !== undefined && file !== '') {
    appendFileSync(file, `${JSON.stringify({ suite: 'stafd', what, ms: Math.round(ms) })}\n`);
  }
}

interface DcPages {
  readonly 'discovery-controller': Record<string, string>;
  readonly 'log-pages': Record<string, string>[];
}

describe('stafd against nvmet', () => {
  let dir: string;
  let host: HostIdentity;
  let bus: SystemBus;
  let stafd: ChildProcess;
  let stderr = '';
  let exited: Promise<number | null>;
  const changed: Record<string, string>[] = [];
  const changedAt: number[] = [];
  let unsubscribe: (() => Promise<void>) | undefined;

  const allPages = async (): Promise<DcPages[]> =>
    JSON.parse(
      await bus.callMethod(STAF_API, STAF_INTERFACE, 'get_all_log_pages', { detailed: true }),
    ) as DcPages[];
  const subnqns = async (): Promise<string[]> =>
    (await allPages()).flatMap((dc) => dc['log-pages'].map((e) => e['subnqn'] ?? ''));

  beforeAll(async () => {
    await resetTarget();
    await applyTarget(TARGET);
    host = await hostIdentity();
    dir = await mkdtemp(join(tmpdir(), 'stafd-e2e-'));
    await writeFile(
      join(dir, 'stafd.conf'),
      `[Service Discovery]\nzeroconf = disabled\n[Controllers]\ncontroller = transport=tcp;traddr=${LOCALHOST};trsvcid=8009\n`,
    );
    bus = await connectSystemBus();
    const off = await bus.subscribe(STAF_API, STAF_INTERFACE, 'log_pages_changed', (args) => {
      changed.push({ ...args });
      changedAt.push(performance.now());
    });
    unsubscribe = off;

    const t0 = performance.now();
    stafd = spawn(process.execPath, [STAFD, '-f', join(dir, 'stafd.conf'), '--log-format', 'json'], {
      env: { ...process.env, STAS_ETC_DIR: dir, STAS_RUN_DIR: join(dir, 'run') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    stafd.stderr?.setEncoding('utf8');
    stafd.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    exited = new Promise((resolve) => {
      stafd.once('exit', (code) => {
        resolve(code);
      });
    });
    await waitFor(async () => (await bus.getNameOwner(STAF_API.busName)) !== null, {
      timeoutMs: 60_000,
      what: `stafd owns ${STAF_API.busName} (stderr: ${stderr})`,
    });
    timing('process start → bus name owned', performance.now() - t0);
  });

  afterAll(async () => {
    if (stafd.exitCode === null && stafd.signalCode === null) {
      stafd.kill('SIGKILL');
      await exited;
    }
    await unsubscribe?.();
    await bus.close();
    await rm(dir, { recursive: true, force: true });
    await resetTarget();
  });

  it('publishes the entries of the subsystems linked to the discovery port', async () => {
    await waitFor(async () => (await subnqns()).includes(NQN_ONE), {
      timeoutMs: 60_000,
      what: `${NQN_ONE} on D-Bus`,
    });
    const [dc] = await allPages();
    expect(dc?.['discovery-controller']).toMatchObject({
      transport: 'tcp',
      traddr: LOCALHOST,
      trsvcid: '8009',
      'host-nqn': host.hostnqn,
      origin: 'configured',
      connected: 'True',
      'log-pages-state': 'fresh',
      device: '',
    });
    expect(dc?.['log-pages']).toContainEqual(
      expect.objectContaining({ subnqn: NQN_ONE, subtype: 'nvme', trtype: 'tcp', traddr: LOCALHOST }),
    );
    expect(changed).toHaveLength(1);
  });

  it('publishes a newly linked subsystem with exactly one log_pages_changed', async () => {
    const before = changed.length;
    const t0 = performance.now();
    await linkSubsystem(1, NQN_TWO);
    const linked = performance.now();
    await waitFor(() => changed.length > before, { timeoutMs: 30_000, what: 'log_pages_changed' });
    timing('nvmet link command (process)', linked - t0);
    timing('link command start → log_pages_changed', (changedAt[before] ?? NaN) - t0);
    expect(await subnqns()).toEqual(expect.arrayContaining([NQN_ONE, NQN_TWO]));
    // Method replies come after any signal stafd sent before them: nothing else is queued.
    await allPages();
    expect(changed.length - before).toBe(1);
    expect(changed.at(-1)).toEqual({
      transport: 'tcp',
      traddr: LOCALHOST,
      trsvcid: '8009',
      subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery',
      host_traddr: '',
      host_iface: '',
      host_nqn: host.hostnqn,
      device: '',
    });

    const ls = await run(process.execPath, [STAFCTL, 'adlp', '--json']);
    const listed = JSON.parse(ls.stdout) as { 'discovery-controllers': DcPages[] };
    expect(listed['discovery-controllers'][0]?.['log-pages'].map((e) => e['subnqn'])).toEqual(
      expect.arrayContaining([NQN_ONE, NQN_TWO]),
    );
  });

  it('reconnects when its connection to the DC is reset, keeping the page and sending no log_pages_changed', async () => {
    const before = changed.length;
    const pages = await subnqns();
    const logged = stderr.length;
    const t0 = performance.now();
    // sock_diag destroy (CONFIG_INET_DIAG_DESTROY) aborts stafd's own TCP connection to the discovery
    // port, as a reset from the network would: ECONNABORTED here, a RST to nvmet's discovery controller.
    const killed = await run('ss', ['-K', '-t', 'dst', LOCALHOST, 'dport', '=', ':8009']);
    expect(killed.stdout).toContain(':8009');
    await waitFor(() => stderr.slice(logged).includes('connected again'), {
      timeoutMs: 30_000,
      what: `stafd logs "connected again" (stderr: ${stderr.slice(logged)})`,
    });
    timing('connection reset → connected again', performance.now() - t0);
    expect(stderr.slice(logged)).toContain('connection lost');
    await waitFor(
      async () => {
        const dc = (await allPages())[0]?.['discovery-controller'];
        return dc?.['connected'] === 'True' && dc['log-pages-state'] === 'fresh';
      },
      { timeoutMs: 30_000, what: 'the DC connected with a fresh page' },
    );
    expect(await subnqns()).toEqual(pages);
    expect(changed.length - before).toBe(0);
  });

  it('stops on SIGTERM with exit status 0', async () => {
    stafd.kill('SIGTERM');
    expect(await exited).toBe(0);
    await waitFor(async () => (await bus.getNameOwner(STAF_API.busName)) === null, {
      timeoutMs: 10_000,
      what: 'the name released',
    });
    expect(stderr).not.toMatch(/"level":(50|60)/);
  });
});
