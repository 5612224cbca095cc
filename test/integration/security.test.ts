// Security properties of both daemons on a private bus: a configured DH-HMAC-CHAP secret or host key
// never appears in any D-Bus reply (stafd: list_controllers detailed, get_all_log_pages, process_info,
// controller_info; stacd: the same plus explain and stacctl), nor in the stafd cache, which is written
// 0600; log page entries whose address or NQN carry connect-string syntax (',', '=', '\n') are skipped
// with a reason and never reach the kernel's fabrics device; no source file runs a shell.
// (Set(tron) by non-root is denied by the bus policy: test/integration/dbus-policy.test.ts.)
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectSystemBus, type SystemBus } from '@stas/common/dbus/bus';
import { STAC_API, STAC_DEBUG_INTERFACE, STAC_INTERFACE } from '@stas/common/dbus/stac-api';
import { STAF_API, STAF_DEBUG_INTERFACE, STAF_INTERFACE } from '@stas/common/dbus/staf-api';
import { WELL_KNOWN_DISCOVERY_NQN } from '@stas/common/nvme/tid';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { DcSimulator } from '@stas/common/testing/dc-sim/dc-simulator';
import { FAKE_HOSTNQN } from '@stas/common/testing/sysfs-tree';
import { runStacctl } from '../../packages/stacd/src/cli/stacctl.js';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';
import { HOST_ID, HOST_NQN } from './fixtures/stafd-harness.js';
import { createStasStack, type StasStack } from './fixtures/stas-stack.js';
import { waitFor } from './fixtures/wait.js';

const SECRET = 'DHHC-1:00:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTIzNDU2Nzg=:';
const CTRL_SECRET = 'DHHC-1:00:Y3RybGN0cmxjdHJsY3RybGN0cmxjdHJsY3RybDEyMzQ=:';
const HOST_KEY = 'DHHC-1:00:aG9zdGhvc3Rob3N0aG9zdGhvc3Rob3N0aG9zdDEyMzQ=:';
/** Fragments that would give a secret away even if re-encoded or cut. */
const LEAKS = [SECRET, CTRL_SECRET, HOST_KEY, 'c2VjcmV0c2Vj', 'Y3RybGN0cmxj', 'aG9zdGhvc3Ro'];

function expectNoSecret(text: string, where: string): void {
  for (const leak of LEAKS) expect(text.includes(leak), `${where} contains ${leak}`).toBe(false);
}

describe('security of stafd and stacd on a private bus', () => {
  let bus: DbusDaemon;
  let client: SystemBus;
  let stack: StasStack;
  const sims: DcSimulator[] = [];

  beforeEach(async () => {
    bus = await startDbusDaemon();
    client = await connectSystemBus({ address: bus.address });
    stack = await createStasStack(bus.address);
  });

  afterEach(async () => {
    await stack.dispose();
    await client.close();
    await Promise.all(sims.splice(0).map((s) => s.close()));
    await bus.close();
  });

  async function stacctl(...argv: string[]): Promise<string> {
    let out = '';
    const status = await runStacctl(argv, {
      env: { DBUS_SYSTEM_BUS_ADDRESS: bus.address },
      out: (t) => (out += t),
      err: (t) => (out += t),
    });
    expect(status).toBe(0);
    return out;
  }

  it('never sends a configured secret or host key on D-Bus, nor writes it to the cache (0600)', async () => {
    const dc = await DcSimulator.start({
      entries: [nvmeEntry({ traddr: '127.0.0.1', subnqn: 'nqn.2024-01.io.s:a' })],
    });
    sims.push(dc);
    await stack.stafd.writeSysConf(`[Host]\nnqn = ${HOST_NQN}\nid = ${HOST_ID}\nkey = ${HOST_KEY}\n`);
    await stack.stafd.writeConf(
      `[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=${dc.port};dhchap-secret=${SECRET};dhchap-ctrl-secret=${CTRL_SECRET}\n`,
    );
    await stack.writeStacdConf(
      `[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.77;trsvcid=4420;nqn=nqn.2024-01.io.s:cfg;dhchap-secret=${SECRET};dhchap-ctrl-secret=${CTRL_SECRET}\n`,
    );
    const app = await stack.stafd.start();
    await stack.startStacd();
    await waitFor(() => app.daemon.controllers().length === 1, {
      timeoutMs: 5000,
      what: 'the DC known to stafd',
    });
    await waitFor(() => stack.fabrics.live.length >= 1, {
      timeoutMs: 10_000,
      what: 'the configured I/O controller',
    });

    const tid = {
      transport: 'tcp',
      traddr: '127.0.0.1',
      trsvcid: String(dc.port),
      subsysnqn: WELL_KNOWN_DISCOVERY_NQN,
      host_traddr: '',
      host_iface: '',
      host_nqn: HOST_NQN,
    };
    const stafReplies = {
      list: JSON.stringify(
        await client.callMethod(STAF_API, STAF_INTERFACE, 'list_controllers', { detailed: true }),
      ),
      all: await client.callMethod(STAF_API, STAF_INTERFACE, 'get_all_log_pages', { detailed: true }),
      process: await client.callMethod(STAF_API, STAF_DEBUG_INTERFACE, 'process_info', {}),
      controller: await client.callMethod(STAF_API, STAF_DEBUG_INTERFACE, 'controller_info', tid),
    };
    // The secret is known to be set (redacted), and the controller_info reply is about the DC.
    expect(stafReplies.controller).toContain('[redacted]');
    for (const [what, text] of Object.entries(stafReplies)) expectNoSecret(text, `stafd ${what}`);
    expect(stafReplies.process).not.toMatch(/host-?key/i);

    const ioc = stack.fabrics.connects.find((c) => c.tokens.get('nqn') === 'nqn.2024-01.io.s:cfg');
    expect(ioc?.tokens.get('dhchap_secret')).toBe(SECRET); // the kernel does get it
    const stacTid = {
      transport: 'tcp',
      traddr: '192.0.2.77',
      trsvcid: '4420',
      subsysnqn: 'nqn.2024-01.io.s:cfg',
      host_traddr: '',
      host_iface: '',
      host_nqn: FAKE_HOSTNQN,
    };
    const stacReplies = {
      list: JSON.stringify(
        await client.callMethod(STAC_API, STAC_INTERFACE, 'list_controllers', { detailed: true }),
      ),
      explain: await client.callMethod(STAC_API, STAC_INTERFACE, 'explain', {}),
      process: await client.callMethod(STAC_API, STAC_DEBUG_INTERFACE, 'process_info', {}),
      controller: await client.callMethod(STAC_API, STAC_DEBUG_INTERFACE, 'controller_info', stacTid),
      stacctlExplain: await stacctl('explain', '--json'),
      stacctlLs: await stacctl('ls', '--detailed', '--json'),
    };
    for (const [what, text] of Object.entries(stacReplies)) expectNoSecret(text, `stacd ${what}`);

    // Neither daemon logs a secret.
    expectNoSecret(JSON.stringify(stack.stafd.logs), 'stafd log');
    expectNoSecret(JSON.stringify(stack.stacdLogs), 'stacd log');

    await app.stop();
    stack.stafd.app = undefined;
    const cache = await readFile(stack.stafd.cacheFile, 'utf8');
    expectNoSecret(cache, 'the cache');
    expect((await stat(stack.stafd.cacheFile)).mode & 0o777).toBe(0o600);
  });

  it('skips log page entries carrying connect-string syntax, with a reason, and never writes them', async () => {
    const good = 'nqn.2024-01.io.s:good';
    const hostile = [
      { traddr: '127.0.0.2,nqn=nqn.evil:one', subnqn: 'nqn.2024-01.io.s:h1' },
      { traddr: '127.0.0.3', subnqn: 'nqn.2024-01.io.s:h2,host_iface=evil0' },
      { traddr: '127.0.0.4\nnqn=nqn.evil:two', subnqn: 'nqn.2024-01.io.s:h3' },
      { traddr: '127.0.0.5', subnqn: 'nqn.2024-01.io.s:h4\nhostnqn=evil' },
      { traddr: '127.0.0.6', subnqn: 'nqn.2024-01.io.s:h5=x' },
      { traddr: '127.0.0.7', subnqn: 'nqn.2024-01.io.s:h6', trsvcid: '4420,ctrl_loss_tmo=-1' },
    ];
    const dc = await DcSimulator.start({
      entries: [nvmeEntry({ traddr: '127.0.0.1', subnqn: good }), ...hostile.map((e) => nvmeEntry(e))],
    });
    sims.push(dc);
    await stack.stafd.writeConf(
      `[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=${dc.port}\n`,
    );
    await stack.stafd.start();
    await stack.startStacd();
    await waitFor(() => stack.fabrics.live.length === 1, {
      timeoutMs: 10_000,
      what: 'the good subsystem connected',
    });
    const daemon = stack.stacd;
    await daemon?.settled();

    // Nothing hostile reached the fabrics device.
    expect(stack.fabrics.connects.map((c) => c.tokens.get('nqn'))).toEqual([good]);
    for (const c of stack.fabrics.connects) {
      expect(c.text).not.toMatch(/evil|ctrl_loss_tmo=-1|\n.*\n/);
      expect(c.text.split(',').filter((t) => t.startsWith('nqn='))).toHaveLength(1);
    }
    // Each hostile entry stafd published was skipped by stacd with a reason.
    const published = JSON.parse(
      await client.callMethod(STAF_API, STAF_INTERFACE, 'get_all_log_pages', { detailed: false }),
    ) as { 'log-pages': { subnqn: string }[] }[];
    const publishedNqns = new Set(published.flatMap((p) => p['log-pages'].map((e) => e.subnqn)));
    const explain = JSON.parse(await stacctl('explain', '--json')) as {
      actions: { action: string; reason: string; subsysnqn?: string; tid?: string }[];
    };
    const skips = explain.actions.filter((a) => a.action === 'skip');
    const reachedStacd = hostile.filter((e) => publishedNqns.has(e.subnqn));
    expect(reachedStacd.length).toBeGreaterThan(0);
    // Entries with a control character are unreadable to stacd's page reader: dropped, with a warning.
    const unreadable = reachedStacd.filter((e) => /\n/.test(e.traddr + e.subnqn));
    expect(unreadable.length).toBeGreaterThan(0);
    expect(stack.stacdLogs.some((l) => l.msg.includes('unreadable entries'))).toBe(true);
    expect(skips.map((s) => s.subsysnqn).sort()).toEqual(
      reachedStacd
        .filter((e) => !unreadable.includes(e))
        .map((e) => e.subnqn)
        .sort(),
    );
    for (const s of skips) expect(s.reason).toBe('invalid-address');
    const skipLines = stack.stacdLogs.filter(
      (l) => l['action'] === 'skip' && l['reason'] === 'invalid-address',
    );
    expect(skipLines.length).toBe(skips.length);
  });

  it('runs no shell: no child_process exec*/shell:true in packages/*/src', async () => {
    const root = fileURLToPath(new URL('../../packages/', import.meta.url));
    // Test support (simulators, namespaces, avahi for tests and benchmarks) is exempt: it is not installed,
    // which the second check below enforces (no other source file imports it).
    const testSupport = join(root, 'common/src/testing');
    const offenders: string[] = [];
    let scanned = 0;
    async function walk(dir: string): Promise<void> {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (!['node_modules', 'dist'].includes(entry.name) && path !== testSupport) await walk(path);
        } else if (
          /\.(ts|js|mjs)$/.test(entry.name) &&
          !/\.test\.ts$/.test(entry.name) &&
          !/test-support\.ts$/.test(entry.name) &&
          path.includes('/src/')
        ) {
          scanned++;
          const text = await readFile(path, 'utf8');
          if (/from '[^']*\/testing\//.test(text)) offenders.push(`${path}: imports test support`);
          if (!/child_process/.test(text)) continue;
          const bad = [
            /shell\s*:\s*(true|['"`])/,
            /(^|[^.\w])(exec|execSync)\s*\(/m,
            /\bspawn(Sync)?\s*\(\s*['"`](\/bin\/|\/usr\/bin\/)?(ba|da)?sh['"`]/,
            /['"`]-c['"`]\s*,\s*`/,
          ];
          for (const re of bad) if (re.test(text)) offenders.push(`${path}: ${re.source}`);
        }
      }
    }
    await walk(root);
    expect(scanned).toBeGreaterThan(100);
    expect(offenders).toEqual([]);
  });
});
