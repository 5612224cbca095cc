import type { DiscoverResult } from '@stas/common/nvme/session/discover';
import type { DiscoveryLogEntry } from '@stas/common/nvme/wire/discovery-log';
import { describe, expect, it } from 'vitest';
import { discoveryJson, discoveryTable, eflagsText, nvmeCliNames, recordJson } from './discover-format.js';

function entry(fields: Partial<DiscoveryLogEntry> = {}): DiscoveryLogEntry {
  return {
    trtype: 3,
    adrfam: 1,
    subtype: 2,
    treq: 0,
    portid: 1,
    cntlid: 0xffff,
    asqsz: 32,
    eflags: 0,
    trsvcid: '4420',
    subnqn: 'nqn.2014-08.org.example:subsys-0',
    traddr: '10.0.0.1',
    tsas: { kind: 'tcp', sectype: 0 },
    ...fields,
  };
}

function result(entries: DiscoveryLogEntry[], genctr = 5n): DiscoverResult {
  return {
    peer: '192.0.2.1:8009',
    identify: {
      cntlid: 1,
      cntrltype: 2,
      dctype: 0,
      subnqn: 'nqn.2014-08.org.nvmexpress.discovery',
      mn: 'Linux',
      sn: '1',
      fr: '6.9',
      ver: 0x10300,
      mdts: 0,
      oaes: 0x80000000,
      lpa: 4,
      kas: 0,
      maxcmd: 0,
    },
    genctr,
    entries,
    roundTrips: 7,
    logRoundTrips: 2,
  };
}

/** What `nvme discover -o json` (nvme-cli 2.x) prints for these two entries, written out by hand. */
const NVME_CLI_JSON = {
  genctr: 5,
  records: [
    {
      trtype: 'tcp',
      adrfam: 'ipv4',
      subtype: 'nvme subsystem',
      treq: 'not specified',
      portid: 1,
      trsvcid: '4420',
      subnqn: 'nqn.2014-08.org.example:subsys-0',
      traddr: '10.0.0.1',
      eflags: 'none',
      sectype: 'none',
    },
    {
      trtype: 'tcp',
      adrfam: 'ipv6',
      subtype: 'discovery subsystem referral',
      treq: 'required, sq flow control disable supported',
      portid: 7,
      trsvcid: '8009',
      subnqn: 'nqn.2014-08.org.nvmexpress.discovery',
      traddr: '2001:db8::7',
      eflags: 'explicit discovery connections, duplicate discovery information',
      sectype: 'tls13',
    },
  ],
};

const TWO = [
  entry(),
  entry({
    adrfam: 2,
    subtype: 1,
    treq: 5,
    portid: 7,
    trsvcid: '8009',
    subnqn: 'nqn.2014-08.org.nvmexpress.discovery',
    traddr: '2001:db8::7',
    eflags: 3,
    tsas: { kind: 'tcp', sectype: 2 },
  }),
];

describe('discoveryJson', () => {
  it('matches nvme discover -o json field by field for every field nvme-cli prints', () => {
    const ours = discoveryJson(result(TWO));
    expect(ours.genctr).toBe(NVME_CLI_JSON.genctr);
    expect(ours.records).toHaveLength(NVME_CLI_JSON.records.length);
    NVME_CLI_JSON.records.forEach((theirs, i) => {
      const record = ours.records[i] as unknown as Record<string, unknown>;
      for (const [key, value] of Object.entries(theirs)) expect([key, record[key]]).toEqual([key, value]);
    });
  });

  it('adds numrec, the controller, and stas-only record fields under their own names', () => {
    const ours = discoveryJson(result(TWO));
    expect(ours.numrec).toBe(2);
    expect(ours.controller).toEqual({
      address: '192.0.2.1:8009',
      subnqn: 'nqn.2014-08.org.nvmexpress.discovery',
      cntlid: 1,
      dctype: 'none',
    });
    expect(ours.records[1]).toMatchObject({
      cntlid: 65535,
      asqsz: 32,
      tsas: { sectype: 'tls13' },
      codes: { trtype: 3, adrfam: 2, subtype: 1, treq: 5, eflags: 3 },
    });
  });

  it('prints RDMA TSAS as nvme-cli does and no sectype', () => {
    const r = recordJson(
      entry({ trtype: 1, tsas: { kind: 'rdma', qptype: 1, prtype: 4, cms: 1, pkey: 0x1234 } }),
    );
    expect(r).toMatchObject({
      trtype: 'rdma',
      rdma_prtype: 'roce-v2',
      rdma_qptype: 'connected',
      rdma_cms: 'rdma-cm',
      rdma_pkey: 0x1234,
    });
    expect(r.sectype).toBeUndefined();
  });

  it('keeps GENCTR exact above 2^53 as decimal text', () => {
    expect(discoveryJson(result([], 2n ** 60n)).genctr).toBe('1152921504606846976');
  });
});

describe('nvme-cli value names', () => {
  it('names every EFLAGS combination as libnvme does', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map(eflagsText)).toEqual([
      'none',
      'duplicate discovery information',
      'explicit discovery connections',
      'explicit discovery connections, duplicate discovery information',
      'no cdc connectivity',
      'duplicate discovery information, no cdc connectivity',
      'explicit discovery connections, no cdc connectivity',
      'explicit discovery connections, duplicate discovery information, no cdc connectivity',
      'unrecognized',
    ]);
  });

  it('says "unrecognized" for values outside the tables', () => {
    expect(nvmeCliNames.trtype(0)).toBe('unrecognized');
    expect(nvmeCliNames.adrfam(4)).toBe('fibre-channel');
    expect(nvmeCliNames.subtype(3)).toBe('current discovery subsystem');
    expect(nvmeCliNames.treq(3)).toBe('unrecognized');
    expect(nvmeCliNames.sectype(1)).toBe('tls');
  });
});

describe('discoveryTable', () => {
  it('prints a summary, a header and one aligned row per entry', () => {
    const text = discoveryTable(result(TWO));
    const lines = text.split('\n');
    expect(lines[0]).toBe(
      'Discovery log of nqn.2014-08.org.nvmexpress.discovery at 192.0.2.1:8009: genctr 5, 2 records',
    );
    expect(lines[1]?.split(/\s+/)).toEqual([
      'trtype',
      'adrfam',
      'subtype',
      'traddr',
      'trsvcid',
      'subnqn',
      'portid',
      'cntlid',
      'treq',
      'eflags',
      'sectype',
    ]);
    expect(lines[2]?.split(/\s+/)).toEqual([
      'tcp',
      'ipv4',
      'nvme',
      '10.0.0.1',
      '4420',
      'nqn.2014-08.org.example:subsys-0',
      '1',
      'dynamic',
      'none',
      'none',
      'none',
    ]);
    expect(lines[3]?.split(/\s+/)).toEqual([
      'tcp',
      'ipv6',
      'referral',
      '2001:db8::7',
      '8009',
      'nqn.2014-08.org.nvmexpress.discovery',
      '7',
      'dynamic',
      'required,sqflow',
      'dupretinfo,epcsd',
      'tls1.3',
    ]);
    const col = (line: string | undefined): number => line?.indexOf('nqn.') ?? -1;
    expect(col(lines[2])).toBe(col(lines[3]));
    expect(text.endsWith('\n')).toBe(true);
  });

  it('prints the header alone for an empty log', () => {
    expect(discoveryTable(result([], 1n)).split('\n')).toHaveLength(3);
  });
});
