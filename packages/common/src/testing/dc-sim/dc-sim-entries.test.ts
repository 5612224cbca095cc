import { describe, expect, it } from 'vitest';
import { Adrfam, Subtype } from '../../nvme/wire/discovery-log.js';
import { adrfamOf, currentDiscoveryEntry, nvmeEntry, referralEntry, sameEntry } from './dc-sim-entries.js';

describe('entry builders', () => {
  it('fill an NVM subsystem entry with nvmet values', () => {
    expect(nvmeEntry({ traddr: '10.0.0.1', subnqn: 'nqn.2024-01.io.example:a' })).toEqual({
      trtype: 3,
      adrfam: Adrfam.Ipv4,
      subtype: Subtype.Nvme,
      treq: 0,
      portid: 1,
      cntlid: 0xffff,
      asqsz: 32,
      eflags: 0,
      trsvcid: '4420',
      subnqn: 'nqn.2024-01.io.example:a',
      traddr: '10.0.0.1',
      tsas: { kind: 'tcp', sectype: 0 },
    });
  });

  it('point a referral at another DC by address, port and NQN', () => {
    const r = referralEntry({ host: '::1', port: 8010, subnqn: 'nqn.2024-01.io.example:dc2' }, { eflags: 2 });
    expect(r).toMatchObject({ subtype: 1, adrfam: Adrfam.Ipv6, traddr: '::1', trsvcid: '8010', eflags: 2 });
    expect(r.subnqn).toBe('nqn.2024-01.io.example:dc2');
    expect(referralEntry({ host: '10.0.0.2', port: 8009 }).subnqn).toBe(
      'nqn.2014-08.org.nvmexpress.discovery',
    );
  });

  it('describe the DC itself with SUBTYPE 3', () => {
    expect(currentDiscoveryEntry({ host: '10.0.0.3', port: 8009 })).toMatchObject({
      subtype: 3,
      trsvcid: '8009',
    });
  });

  it('compare entries by address and NQN', () => {
    const a = nvmeEntry({ traddr: '10.0.0.1', subnqn: 'nqn.2024-01.io.example:a' });
    expect(sameEntry(a, { ...a, eflags: 4 })).toBe(true);
    expect(sameEntry(a, { ...a, trsvcid: '4421' })).toBe(false);
    expect(adrfamOf('fe80::1%eth0')).toBe(Adrfam.Ipv6);
  });
});
