/**
 * Interoperability of stas's userspace NVMe/TCP discovery host with the Linux
 * target (nvmet): `stafctl discover --json` must return the same entries as
 * nvme-cli's `nvme discover -o json` (which goes through the kernel host) on
 * the same target, field by field; and a persistent userspace session must
 * receive the discovery-change AEN when a subsystem is linked to the port, then
 * read the new entry.
 */
import { openDiscoverySession } from '@stas/common/nvme/session/discovery-session';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';

import { hostIdentity } from './lib/fabrics.js';
import { run } from './lib/run.js';
import { applyTarget, linkSubsystem, resetTarget, type TargetSpec } from './lib/target.js';

const NQN_ONE = 'nqn.2024-01.io.stas.e2e:dh-one';
const NQN_TWO = 'nqn.2024-01.io.stas.e2e:dh-two';
const NQN_LATE = 'nqn.2024-01.io.stas.e2e:dh-late';
const LOCALHOST = '127.0.0.1';
const STAFCTL = 'packages/stafd/bin/stafctl.js';

const TARGET: TargetSpec = {
  subsystems: [
    { nqn: NQN_ONE, namespaces: [{ nsid: 1, size: '8M' }] },
    { nqn: NQN_TWO, namespaces: [{ nsid: 1, size: '8M' }] },
    { nqn: NQN_LATE, namespaces: [{ nsid: 1, size: '8M' }] },
  ],
  ports: [
    {
      id: 1,
      traddr: LOCALHOST,
      trsvcid: '8009',
      subsystems: [NQN_ONE, NQN_TWO],
      referrals: [{ name: 'io-port', traddr: LOCALHOST, trsvcid: '4420' }],
    },
    { id: 2, traddr: LOCALHOST, trsvcid: '4420', subsystems: [NQN_ONE, NQN_TWO, NQN_LATE] },
  ],
};

/** The fields both tools report, as nvme-cli 2.x names and words them. */
const COMPARED = [
  'trtype',
  'adrfam',
  'subtype',
  'treq',
  'portid',
  'trsvcid',
  'subnqn',
  'traddr',
  'eflags',
  'sectype',
];

type JsonRecord = Record<string, unknown>;

function pick(record: JsonRecord): Record<string, string> {
  return Object.fromEntries(COMPARED.map((key) => [key, String(record[key]).trim()]));
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(message));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const byNqnAndPort = (a: Record<string, string>, b: Record<string, string>): number =>
  `${a['subnqn']}|${a['trsvcid']}`.localeCompare(`${b['subnqn']}|${b['trsvcid']}`);

describe('userspace discovery host against nvmet', () => {
  beforeEach(async () => {
    await resetTarget();
    await applyTarget(TARGET);
  });

  afterAll(async () => {
    await resetTarget();
  });

  it('stafctl discover --json returns the same entries as nvme discover -o json', async () => {
    const { hostnqn, hostid } = await hostIdentity();
    const kernel = await run('nvme', [
      'discover',
      '-t',
      'tcp',
      '-a',
      LOCALHOST,
      '-s',
      '8009',
      '-q',
      hostnqn,
      '-I',
      hostid,
      '-o',
      'json',
    ]);
    const ours = await run('node', [
      STAFCTL,
      'discover',
      '-t',
      'tcp',
      '-a',
      LOCALHOST,
      '-s',
      '8009',
      '-q',
      hostnqn,
      '-I',
      hostid,
      '--json',
    ]);

    const kernelRecords = (JSON.parse(kernel.stdout) as { records: JsonRecord[] }).records
      .map(pick)
      .sort(byNqnAndPort);
    const ourRecords = (JSON.parse(ours.stdout) as { records: JsonRecord[] }).records
      .map(pick)
      .sort(byNqnAndPort);

    // Both subsystems and the referral are there (nvmet may add entries of its own, e.g. for itself).
    const listed = kernelRecords.map((r) => `${r['subtype']} ${r['subnqn']} ${r['trsvcid']}`);
    expect(listed).toEqual(
      expect.arrayContaining([
        expect.stringContaining(NQN_ONE),
        expect.stringContaining(NQN_TWO),
        expect.stringMatching(/referral.* 4420$/),
      ]),
    );
    expect(ourRecords).toEqual(kernelRecords);
  });

  it('a persistent session receives the AEN when a subsystem is linked, and reads the new entry', async () => {
    const { hostnqn, hostid } = await hostIdentity();
    const session = await openDiscoverySession({
      traddr: LOCALHOST,
      trsvcid: '8009',
      hostnqn,
      hostid,
      katoMs: 30_000,
      aen: true,
    });
    try {
      expect(session.aenEnabled).toBe(true);
      const before = await session.readDiscoveryLog();
      expect(before.entries.map((e) => e.subnqn)).not.toContain(NQN_LATE);

      const events = session.events[Symbol.asyncIterator]();
      await linkSubsystem(1, NQN_LATE);
      const first = await withTimeout(events.next(), 20_000, 'no AEN within 20 s of linking the subsystem');
      expect(first.done).toBe(false);
      expect(first.value).toMatchObject({ kind: 'aen', logChanged: true });

      const after = await session.readDiscoveryLog();
      expect(after.entries.map((e) => e.subnqn)).toContain(NQN_LATE);
      expect(after.genctr).not.toBe(before.genctr);
    } finally {
      await session.close();
    }
  });
});
