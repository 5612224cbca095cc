import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { DcSimulator } from '@stas/common/testing/dc-sim/dc-simulator';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runStafctl } from './stafctl.js';

const HOSTID = '3da64a01-16c5-4e10-ac46-397e2372b964';
const HOSTNQN = `nqn.2014-08.org.nvmexpress:uuid:${HOSTID}`;
const ENTRIES = [
  nvmeEntry({ traddr: '10.0.0.1', subnqn: 'nqn.2014-08.org.example:subsys-a', trsvcid: '4420' }),
  nvmeEntry({ traddr: '10.0.0.2', subnqn: 'nqn.2014-08.org.example:subsys-b', trsvcid: '4420', portid: 2 }),
];

let root: string;
const sims: DcSimulator[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'stafctl-'));
});

afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
  await rm(root, { recursive: true, force: true });
});

async function sim(options: Parameters<typeof DcSimulator.start>[0] = {}): Promise<DcSimulator> {
  const s = await DcSimulator.start({ entries: ENTRIES, genctr: 9, ...options });
  sims.push(s);
  return s;
}

async function stafctl(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await runStafctl(argv, {
    env: { STAS_ROOT: root },
    out: (t) => (out += t),
    err: (t) => (err += t),
  });
  return { status, out, err };
}

const ids = ['-q', HOSTNQN, '-I', HOSTID];

describe('stafctl discover', () => {
  it('prints the log as a table', async () => {
    const dc = await sim();
    const r = await stafctl('discover', '-t', 'tcp', '-a', '127.0.0.1', '-s', String(dc.port), ...ids);
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toBe(
      `Discovery log of nqn.2014-08.org.nvmexpress.discovery at 127.0.0.1:${dc.port}: genctr 9, 2 records`,
    );
    expect(lines[1]).toMatch(
      /^trtype\s+adrfam\s+subtype\s+traddr\s+trsvcid\s+subnqn\s+portid\s+cntlid\s+treq\s+eflags\s+sectype$/,
    );
    expect(lines[2]?.split(/\s+/)).toEqual([
      'tcp',
      'ipv4',
      'nvme',
      '10.0.0.1',
      '4420',
      'nqn.2014-08.org.example:subsys-a',
      '1',
      'dynamic',
      'none',
      'none',
      'none',
    ]);
    expect(lines[3]?.split(/\s+/).slice(3, 7)).toEqual([
      '10.0.0.2',
      '4420',
      'nqn.2014-08.org.example:subsys-b',
      '2',
    ]);
    expect(lines).toHaveLength(4);
  });

  it('prints the documented JSON with --json', async () => {
    const dc = await sim({ digests: { hdgst: true, ddgst: true } });
    const r = await stafctl(
      'discover',
      '-a',
      '127.0.0.1',
      '-s',
      String(dc.port),
      ...ids,
      '--json',
      '--hdr-digest',
      '--data-digest',
    );
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.out) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(['genctr', 'numrec', 'records', 'controller']);
    expect(doc).toMatchObject({
      genctr: 9,
      numrec: 2,
      controller: {
        address: `127.0.0.1:${dc.port}`,
        subnqn: 'nqn.2014-08.org.nvmexpress.discovery',
        cntlid: 1,
        dctype: 'none',
      },
    });
    expect((doc.records as unknown[])[0]).toEqual({
      trtype: 'tcp',
      adrfam: 'ipv4',
      subtype: 'nvme subsystem',
      treq: 'not specified',
      portid: 1,
      trsvcid: '4420',
      subnqn: 'nqn.2014-08.org.example:subsys-a',
      traddr: '10.0.0.1',
      eflags: 'none',
      sectype: 'none',
      cntlid: 65535,
      asqsz: 32,
      tsas: { sectype: 'none' },
      codes: { trtype: 3, adrfam: 1, subtype: 2, treq: 0, eflags: 0 },
    });
  });

  it('takes the host NQN and host ID from /etc/nvme when -q/-I are not given, and sends them', async () => {
    await mkdir(join(root, 'etc/nvme'), { recursive: true });
    await writeFile(join(root, 'etc/nvme/hostnqn'), `${HOSTNQN}\n`);
    await writeFile(join(root, 'etc/nvme/hostid'), `${HOSTID}\n`);
    const dc = await sim();
    const connected = dc.waitFor('connected');
    const r = await stafctl(
      'discover',
      '-a',
      '127.0.0.1',
      '-s',
      String(dc.port),
      '-k',
      '5',
      '-n',
      'nqn.2014-08.org.nvmexpress.discovery',
    );
    expect(r.status).toBe(0);
    expect(await connected).toMatchObject({ hostnqn: HOSTNQN, hostid: HOSTID, katoMs: 5000 });
  });

  it('fails with one line when no host NQN is configured', async () => {
    const r = await stafctl('discover', '-a', '192.0.2.1', '-I', HOSTID);
    expect(r.status).toBe(1);
    expect(r.err).toMatch(
      /^stafctl: cannot discover at 192\.0\.2\.1:8009: no host NQN \(give -q, or create .*\)\n$/,
    );
    expect(r.out).toBe('');
  });

  it('exits 1 with ONE line when the DC refuses the connection', async () => {
    const dc = await sim();
    const port = dc.port;
    await dc.close();
    const r = await stafctl('discover', '-a', '127.0.0.1', '-s', String(port), ...ids);
    expect(r).toEqual({
      status: 1,
      out: '',
      err: `stafctl: cannot discover at 127.0.0.1:${port}: connection refused\n`,
    });
  });

  it('exits 1 with ONE line when the DC does not answer within --timeout', async () => {
    const dc = await sim({ faults: { stall: { on: { command: 'connect' } } } });
    const r = await stafctl('discover', '-a', '127.0.0.1', '-s', String(dc.port), ...ids, '--timeout', '0.2');
    expect(r.status).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      `stafctl: cannot discover at 127.0.0.1:${dc.port}: timed out (no result within 0.2 s)\n`,
    );
  });

  it('exits 1 with ONE line naming the NVMe status when the DC refuses the host', async () => {
    const dc = await sim({ faults: { refuseConnect: { status: 0x4184 } } });
    const r = await stafctl('discover', '-a', '127.0.0.1', '-s', String(dc.port), ...ids);
    expect(r.status).toBe(1);
    expect(r.err.split('\n')).toHaveLength(2);
    expect(r.err).toMatch(
      /^stafctl: cannot discover at 127\.0\.0\.1:\d+: Connect failed: Connect Invalid Host \(0x4184/,
    );
  });

  it('is a usage error (2) for bad arguments', async () => {
    for (const argv of [
      ['discover'],
      ['discover', '-a', 'dc.example.com'],
      ['discover', '-a', '192.0.2.1', '-t', 'rdma'],
      ['discover', '-a', '192.0.2.1', '-s', 'http'],
      ['discover', '-a', '192.0.2.1', '-k', '-3'],
      ['discover', '-a', '192.0.2.1', '--timeout', '0'],
      ['discover', '-a', '192.0.2.1', '--frob'],
      ['discover', '-a', '192.0.2.1', 'extra'],
    ]) {
      const r = await stafctl(...argv);
      expect([argv.join(' '), r.status]).toEqual([argv.join(' '), 2]);
      expect(r.err).toMatch(/\nTry 'stafctl discover --help'\.\n$/);
    }
  });
});
