import type { DiscoveryLogEntry } from '@stas/common/nvme/wire/discovery-log';
import { describe, expect, it } from 'vitest';
import { dlpeDict, entryFromDict } from './dlpe-dict.js';

const ENTRY: DiscoveryLogEntry = {
  trtype: 3,
  adrfam: 1,
  subtype: 2,
  treq: 2,
  portid: 2,
  cntlid: 65535,
  asqsz: 32,
  eflags: 4,
  trsvcid: '4420 ',
  subnqn: 'nqn.2014-08.org.example:subsys1',
  traddr: '10.0.0.1',
  tsas: { kind: 'tcp', sectype: 0 },
};

describe('dlpeDict', () => {
  it('uses nvme-stas keys and words, in its order, with JSON for tsas', () => {
    const dict = dlpeDict(ENTRY);
    expect(Object.entries(dict)).toEqual([
      ['trtype', 'tcp'],
      ['adrfam', 'ipv4'],
      ['traddr', '10.0.0.1'],
      ['trsvcid', '4420'],
      ['subnqn', 'nqn.2014-08.org.example:subsys1'],
      ['subtype', 'nvme'],
      ['treq', 'not required'],
      ['tsas', '{"sectype":"none"}'],
      ['portid', '2'],
      ['cntlid', '65535'],
      ['asqsz', '32'],
      ['eflags', '4'],
    ]);
  });

  it('describes rdma TSAS and omits it for other transports', () => {
    expect(
      dlpeDict({ ...ENTRY, trtype: 1, tsas: { kind: 'rdma', qptype: 1, prtype: 4, cms: 1, pkey: 0 } }).tsas,
    ).toBe('{"qptype":"connected","prtype":"rocev2","cms":"cm"}');
    expect(dlpeDict({ ...ENTRY, trtype: 254, tsas: { kind: 'none' } })).not.toHaveProperty('tsas');
  });

  it('shows unknown codes as numbers', () => {
    expect(dlpeDict({ ...ENTRY, trtype: 9, subtype: 7 })).toMatchObject({ trtype: '9', subtype: '7' });
  });
});

describe('entryFromDict', () => {
  it('reads back what dlpeDict writes', () => {
    expect(entryFromDict(dlpeDict(ENTRY))).toEqual({
      trtype: 'tcp',
      traddr: '10.0.0.1',
      trsvcid: '4420',
      subnqn: 'nqn.2014-08.org.example:subsys1',
      subtype: 'nvme',
      eflags: 4,
    });
  });

  it.each([
    [{ trtype: 'tcp' }],
    [{ ...dlpeDict(ENTRY), traddr: 5 }],
    [{ ...dlpeDict(ENTRY), subnqn: 'a\0b' }],
    [{ ...dlpeDict(ENTRY), eflags: '0x4' }],
    [{ ...dlpeDict(ENTRY), eflags: '70000' }],
    [{ ...dlpeDict(ENTRY), traddr: 'x'.repeat(300) }],
  ])('rejects a malformed dictionary %#', (dict) => {
    expect(entryFromDict(dict)).toBeNull();
  });

  it('treats a missing eflags as 0', () => {
    const { eflags: _unused, ...rest } = dlpeDict(ENTRY);
    expect(entryFromDict(rest)?.eflags).toBe(0);
  });
});
