// stafd needs no root: the built stafd (packages/stafd/bin/stafd.js → dist) run as user nobody via
// setpriv, on a private system-policy bus whose extra policy lets nobody own org.nvmexpress.staf, with a
// DC simulator on loopback. It owns the name, discovers the DC's entries, stops with 0 on SIGTERM and
// leaves a 0600 cache owned by nobody. Needs root (to switch user), setpriv and `npx tsc -b` first.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { connectSystemBus, type SystemBus } from '@stas/common/dbus/bus';
import { STAF_API, STAF_INTERFACE } from '@stas/common/dbus/staf-api';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { DcSimulator } from '@stas/common/testing/dc-sim/dc-simulator';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';
import { HOST_ID, HOST_NQN } from './fixtures/stafd-harness.js';
import { waitFor } from './fixtures/wait.js';

const BIN = fileURLToPath(new URL('../../packages/stafd/bin/stafd.js', import.meta.url));
const BUILT = existsSync(fileURLToPath(new URL('../../packages/stafd/dist/main.js', import.meta.url)));
const STAF_POLICY = fileURLToPath(new URL('../../dbus/org.nvmexpress.staf.conf', import.meta.url));

function idOf(flag: '-u' | '-g'): number | null {
  try {
    return Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }).trim());
  } catch {
    return null;
  }
}
const NOBODY_UID = idOf('-u');
const NOBODY_GID = idOf('-g');
const CAN_SWITCH =
  BUILT &&
  process.getuid?.() === 0 &&
  NOBODY_UID !== null &&
  NOBODY_GID !== null &&
  ['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p));

const NOBODY_MAY_OWN = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="nobody">
    <allow own="org.nvmexpress.staf"/>
    <allow send_destination="org.nvmexpress.staf"/>
  </policy>
</busconfig>
`;

describe.runIf(CAN_SWITCH)('stafd as user nobody', () => {
  let bus: DbusDaemon | undefined;
  let client: SystemBus | undefined;
  let dc: DcSimulator | undefined;
  let root = '';
  let child: ChildProcess | undefined;

  afterEach(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
    await client?.close();
    await dc?.close();
    await bus?.close();
    if (root !== '') await rm(root, { recursive: true, force: true });
  });

  it('owns its name, discovers a DC and writes its cache without root', async () => {
    root = await mkdtemp(join(tmpdir(), 'stas-nobody-'));
    await chmod(root, 0o755);
    const policy = join(root, 'nobody-may-own.conf');
    await writeFile(policy, NOBODY_MAY_OWN);
    bus = await startDbusDaemon({ policy: 'system', include: [STAF_POLICY, policy] });
    client = await connectSystemBus({ address: bus.address });
    dc = await DcSimulator.start({
      entries: [nvmeEntry({ traddr: '127.0.0.1', subnqn: 'nqn.2024-01.io.s:nobody' })],
    });

    await mkdir(join(root, 'etc/stas'), { recursive: true });
    await mkdir(join(root, 'etc/nvme'), { recursive: true });
    await writeFile(join(root, 'etc/stas/sys.conf'), `[Host]\nnqn = ${HOST_NQN}\nid = ${HOST_ID}\n`);
    await writeFile(
      join(root, 'etc/stas/stafd.conf'),
      `[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=${dc.port}\n`,
    );
    // What systemd's RuntimeDirectory= would give a service user: its own run directory.
    await mkdir(join(root, 'run/stafd'), { recursive: true });
    await chown(join(root, 'run/stafd'), NOBODY_UID ?? 0, NOBODY_GID ?? 0);

    let stderr = '';
    child = spawn(
      'setpriv',
      [
        `--reuid=${String(NOBODY_UID)}`,
        `--regid=${String(NOBODY_GID)}`,
        '--clear-groups',
        '--',
        process.execPath,
        BIN,
        '--bus-address',
        bus.address,
        '--log-format',
        'json',
      ],
      {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', STAS_ROOT: root },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child?.once('exit', resolve));

    const c = client;
    const pages = await waitFor(
      async () => {
        const all = JSON.parse(
          await c.callMethod(STAF_API, STAF_INTERFACE, 'get_all_log_pages', { detailed: true }),
        ) as { 'log-pages': { subnqn: string }[] }[];
        return all[0]?.['log-pages'].length === 1 ? all : undefined;
      },
      { timeoutMs: 10_000, what: `entries from stafd running as nobody (stderr: ${stderr.slice(-500)})` },
    );
    expect(pages[0]?.['log-pages'][0]?.subnqn).toBe('nqn.2024-01.io.s:nobody');
    // The name's owner really is nobody.
    const owner = await c.getNameOwner(STAF_API.busName);
    const [uid] = await c.call(
      'org.freedesktop.DBus',
      '/org/freedesktop/DBus',
      'org.freedesktop.DBus',
      'GetConnectionUnixUser',
      's',
      [owner],
    );
    expect(uid).toBe(NOBODY_UID);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const cache = join(root, 'run/stafd/dlp-cache.json');
    const st = await stat(cache);
    expect(st.uid).toBe(NOBODY_UID);
    expect(st.mode & 0o777).toBe(0o600);
    expect(await readFile(cache, 'utf8')).toContain('nqn.2024-01.io.s:nobody');
  });
});
