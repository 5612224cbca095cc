import { describe, expect, it } from 'vitest';
import { entryFromDict, parseAllLogPages } from './stafd-pages.js';

const DC = {
  traddr: '10.0.0.1',
  trsvcid: '8009',
  transport: 'tcp',
  subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery',
  'host-iface': 'eth0',
  'host-traddr': '10.0.0.100',
  'host-nqn': 'nqn.host:a',
  device: 'nvme0',
  'log-pages-state': 'fresh',
};
const ENTRY = {
  trtype: 'tcp',
  adrfam: 'ipv4',
  traddr: '10.0.0.2 ',
  trsvcid: '4420',
  subnqn: 'nqn.s:1',
  subtype: 'nvme',
  treq: 'not specified',
  tsas: '{"sectype":"none"}',
  portid: '1',
  cntlid: '65535',
  asqsz: '32',
  eflags: '4',
};

describe('parseAllLogPages', () => {
  it('reads DCs with their host fields, state and entries', () => {
    const parsed = parseAllLogPages(JSON.stringify([{ 'discovery-controller': DC, 'log-pages': [ENTRY] }]));
    expect(parsed?.problems).toEqual([]);
    expect(parsed?.pages).toEqual([
      {
        dc: '(tcp, 10.0.0.1, 8009, nqn.2014-08.org.nvmexpress.discovery, eth0, 10.0.0.100)',
        transport: 'tcp',
        hostTraddr: '10.0.0.100',
        hostIface: 'eth0',
        hostNqn: 'nqn.host:a',
        hostId: '',
        state: 'fresh',
        entries: [
          {
            subtype: 'nvme',
            trtype: 'tcp',
            traddr: '10.0.0.2',
            trsvcid: '4420',
            subnqn: 'nqn.s:1',
            eflags: 4,
            treq: 0,
          },
        ],
      },
    ]);
  });

  it('is null for text that is not a JSON list (stafd answer unknown)', () => {
    for (const text of ['', 'nope', '{}', '"x"', 'null']) expect(parseAllLogPages(text)).toBeNull();
  });

  it('reads an empty list as "no DC at all" (positive knowledge)', () => {
    expect(parseAllLogPages('[]')).toEqual({ pages: [], problems: [] });
  });

  it('without log-pages-state: entries make a page stale, no entries make it unknown', () => {
    const { 'log-pages-state': _state, ...old } = DC;
    const parsed = parseAllLogPages(
      JSON.stringify([
        { 'discovery-controller': old, 'log-pages': [ENTRY] },
        { 'discovery-controller': old, 'log-pages': [] },
      ]),
    );
    expect(parsed?.pages.map((p) => p.state)).toEqual(['stale', 'unknown']);
  });

  it('marks a page with an unreadable entry, or a DC it cannot read, as unknown', () => {
    const parsed = parseAllLogPages(
      JSON.stringify([
        { 'discovery-controller': DC, 'log-pages': [ENTRY, { ...ENTRY, eflags: 'many' }] },
        { 'discovery-controller': { ...DC, traddr: 5 }, 'log-pages': [ENTRY] },
        { 'discovery-controller': { ...DC, 'log-pages-state': 'bogus' }, 'log-pages': [] },
        { 'discovery-controller': DC, 'log-pages': 'nope' },
        42,
      ]),
    );
    expect(parsed?.pages.map((p) => p.state)).toEqual([
      'unknown',
      'unknown',
      'unknown',
      'unknown',
      'unknown',
    ]);
    expect(parsed?.pages[0]?.entries).toHaveLength(1);
    expect(parsed?.problems).toHaveLength(5);
  });
});

describe('entryFromDict', () => {
  it('reads TREQ names and numbers, and defaults a missing eflags/treq/trsvcid', () => {
    expect(entryFromDict({ ...ENTRY, treq: 'disable sqflow' })?.treq).toBe(4);
    expect(entryFromDict({ ...ENTRY, treq: '6' })?.treq).toBe(6);
    const { eflags: _e, treq: _t, trsvcid: _s, ...bare } = ENTRY;
    expect(entryFromDict(bare)).toMatchObject({ eflags: 0, treq: 0, trsvcid: '' });
  });

  it('refuses non-strings, control characters, huge values and bad numbers', () => {
    for (const bad of [
      null,
      [],
      { ...ENTRY, traddr: 7 },
      { ...ENTRY, subnqn: 'a\nb' },
      { ...ENTRY, subnqn: 'x'.repeat(300) },
      { ...ENTRY, eflags: '70000' },
      { ...ENTRY, treq: 'sometimes' },
      { ...ENTRY, subtype: undefined },
    ])
      expect(entryFromDict(bad)).toBeNull();
  });
});
