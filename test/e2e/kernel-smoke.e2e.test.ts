/**
 * Proves the e2e harness against the real kernel in the guest: nvmet set up
 * from a description, nvme-cli discovery, the /dev/nvme-fabrics interface,
 * controller sysfs, block I/O over NVMe/TCP, the discovery-log-change AEN
 * uevent, and the optional dbus/avahi services.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';

import {
  controllerAttr,
  deleteController,
  fabricsConnect,
  hostIdentity,
  listControllers,
  namespaceDevices,
} from './lib/fabrics.js';
import { run } from './lib/run.js';
import {
  applyTarget,
  linkSubsystem,
  namespaceBackingFile,
  nvmet,
  resetTarget,
  type TargetSpec,
} from './lib/target.js';
import { monitorNvmeUevents } from './lib/uevents.js';
import { waitFor } from './lib/wait-for.js';

const NQN_ONE = 'nqn.2024-01.io.stas.e2e:one';
const NQN_TWO = 'nqn.2024-01.io.stas.e2e:two';
const NQN_LATE = 'nqn.2024-01.io.stas.e2e:late';
const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';
const LOCALHOST = '127.0.0.1';

// 8009 is the discovery entry point; a discovery controller lists only the
// subsystems linked to the port it was reached through, so both are linked there too.
const TWO_SUBSYSTEMS: TargetSpec = {
  subsystems: [
    { nqn: NQN_ONE, serial: 'e2e0001', model: 'stas-e2e-one', namespaces: [{ nsid: 1, size: '16M' }] },
    { nqn: NQN_TWO, serial: 'e2e0002', namespaces: [{ nsid: 1, size: '16M' }] },
  ],
  ports: [
    {
      id: 1,
      traddr: LOCALHOST,
      trsvcid: '8009',
      subsystems: [NQN_ONE, NQN_TWO],
      referrals: [{ name: 'io-port', traddr: LOCALHOST, trsvcid: '4420' }],
    },
    { id: 2, traddr: LOCALHOST, trsvcid: '4420', subsystems: [NQN_ONE, NQN_TWO] },
  ],
};

interface DiscoveryRecord {
  readonly subtype: string;
  readonly subnqn: string;
  readonly traddr: string;
  readonly trsvcid: string;
}

function parseDiscoveryJson(stdout: string): DiscoveryRecord[] {
  return (JSON.parse(stdout) as { records: DiscoveryRecord[] }).records;
}

async function connectString(nqn: string, trsvcid: string, extra = ''): Promise<string> {
  const { hostnqn, hostid } = await hostIdentity();
  return `nqn=${nqn},transport=tcp,traddr=${LOCALHOST},trsvcid=${trsvcid},hostnqn=${hostnqn},hostid=${hostid}${extra}`;
}

describe('kernel NVMe/TCP host against kernel nvmet', () => {
  beforeEach(async () => {
    await resetTarget();
    await applyTarget(TWO_SUBSYSTEMS);
  });

  afterAll(async () => {
    await resetTarget();
  });

  it('nvme discover on the discovery port lists both subsystems and the referral', async () => {
    const { stdout } = await run('nvme', [
      'discover',
      '-t',
      'tcp',
      '-a',
      LOCALHOST,
      '-s',
      '8009',
      '-o',
      'json',
    ]);
    const records = parseDiscoveryJson(stdout);

    const subsystems = records.filter((r) => r.subtype === 'nvme subsystem').map((r) => r.subnqn);
    expect(subsystems.sort()).toEqual([NQN_ONE, NQN_TWO]);
    expect(records).toContainEqual(
      expect.objectContaining({ subtype: 'discovery subsystem referral', trsvcid: '4420' }),
    );
  });

  it('/dev/nvme-fabrics lists the connect options, host_iface included', async () => {
    const { stdout } = await run('cat', ['/dev/nvme-fabrics']);
    const options = stdout.trim().split(',');

    expect(options).toEqual(
      expect.arrayContaining(['traddr=%s', 'trsvcid=%s', 'hostnqn=%s', 'hostid=%s', 'host_iface=%s']),
    );
  });

  it('a raw connect creates a live controller for the subsystem, and delete_controller removes it', async () => {
    const reply = await fabricsConnect(await connectString(NQN_TWO, '4420'));

    expect(await controllerAttr(reply.instance, 'subsysnqn')).toBe(NQN_TWO);
    expect(await controllerAttr(reply.instance, 'transport')).toBe('tcp');
    expect(await controllerAttr(reply.instance, 'cntlid')).toBe(String(reply.cntlid));
    expect(await controllerAttr(reply.instance, 'address')).toMatch(/^traddr=127\.0\.0\.1,trsvcid=4420\b/);
    await waitFor(async () => (await controllerAttr(reply.instance, 'state')) === 'live', {
      timeoutMs: 10_000,
      what: `nvme${reply.instance} live`,
    });

    await deleteController(reply.instance);
    await waitFor(async () => !(await listControllers()).includes(reply.instance), {
      timeoutMs: 10_000,
      what: `nvme${reply.instance} removed`,
    });
    expect(existsSync(`/sys/class/nvme/nvme${reply.instance}`)).toBe(false);
  });

  it('data written to the namespace block device reaches the target and reads back', async () => {
    await fabricsConnect(await connectString(NQN_ONE, '4420'));
    const device = await waitFor(
      async () => (await namespaceDevices(NQN_ONE)).find((path) => existsSync(path)),
      { timeoutMs: 10_000, what: `block device of ${NQN_ONE}` },
    );
    const pattern = randomBytes(1024 * 1024);
    await writeFile('/tmp/e2e-pattern', pattern);

    await run('dd', [
      'if=/tmp/e2e-pattern',
      `of=${device}`,
      'bs=1M',
      'oflag=direct',
      'conv=fsync',
      'status=none',
    ]);
    await run('dd', [
      `if=${device}`,
      'of=/tmp/e2e-readback',
      'bs=1M',
      'count=1',
      'iflag=direct',
      'status=none',
    ]);

    const backing = await readFile(await namespaceBackingFile(NQN_ONE, 1));
    expect(backing.subarray(0, pattern.length).equals(pattern)).toBe(true);
    expect((await readFile('/tmp/e2e-readback')).equals(pattern)).toBe(true);
  });

  it('linking a subsystem to the port of a persistent discovery controller raises the change AEN uevent', async () => {
    const dc = await fabricsConnect(await connectString(DISCOVERY_NQN, '8009', ',keep_alive_tmo=30'));
    expect(await controllerAttr(dc.instance, 'cntrltype')).toBe('discovery');
    const monitor = monitorNvmeUevents();
    try {
      await monitor.ready;
      await nvmet('subsystem', NQN_LATE);
      await linkSubsystem(1, NQN_LATE);

      const aen = await waitFor(() => monitor.events.find((e) => e.properties.NVME_AEN !== undefined), {
        timeoutMs: 15_000,
        what: 'an NVME_AEN uevent',
      });
      expect(aen.action).toBe('change');
      expect(aen.properties.NVME_AEN).toBe('0x70f002');
      expect(aen.devpath).toMatch(new RegExp(`/nvme${dc.instance}$`));
    } finally {
      monitor.stop();
    }
    const { stdout } = await run('nvme', ['discover', `--device=nvme${dc.instance}`, '-o', 'json']);
    expect(parseDiscoveryJson(stdout).map((r) => r.subnqn)).toContain(NQN_LATE);
  });
});

describe('guest services', () => {
  const services = (process.env.STAS_E2E_SERVICES ?? '').split(',');

  it.skipIf(!services.includes('avahi'))(
    'the system bus and a running avahi-daemon are available',
    async () => {
      const { stdout } = await run('dbus-send', [
        '--system',
        '--print-reply',
        '--dest=org.freedesktop.Avahi',
        '/',
        'org.freedesktop.Avahi.Server.GetState',
      ]);
      expect(stdout).toContain('int32 2');
    },
  );
});
