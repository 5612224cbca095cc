import { describe, expect, it } from 'vitest';
import type { ResolvedService } from './dc-candidate.js';
import { dcCandidate } from './dc-candidate.js';

const OPTS = {
  ignoreIface: false,
  hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:3da64a01-16c5-4e10-ac46-397e2372b964',
  hostId: '3da64a01-16c5-4e10-ac46-397e2372b964',
};
const service = (over: Partial<ResolvedService> = {}): ResolvedService => ({
  iface: 'eth1',
  address: '10.99.0.1',
  port: 8009,
  txt: new Map([['p', 'tcp']]),
  ...over,
});

describe('dcCandidate', () => {
  it('pins a TCP DC to the interface it was seen on, with the well-known NQN', () => {
    const r = dcCandidate(service(), OPTS);
    expect(r).toMatchObject({
      ok: true,
      tid: {
        transport: 'tcp',
        traddr: '10.99.0.1',
        trsvcid: '8009',
        hostIface: 'eth1',
        subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery',
        hostNqn: OPTS.hostNqn,
      },
      warnings: [],
    });
  });

  it('uses a valid unique DC NQN from TXT and ignores an invalid one with a warning', () => {
    const unique = dcCandidate(
      service({
        txt: new Map([
          ['p', 'tcp'],
          ['nqn', 'nqn.2014-08.com.example:dc1'],
        ]),
      }),
      OPTS,
    );
    expect(unique.ok && unique.tid.subsysnqn).toBe('nqn.2014-08.com.example:dc1');
    const bad = dcCandidate(
      service({
        txt: new Map([
          ['p', 'tcp'],
          ['nqn', 'Starfleet'],
        ]),
      }),
      OPTS,
    );
    expect(bad.ok && bad.tid.subsysnqn).toBe('nqn.2014-08.org.nvmexpress.discovery');
    expect(bad.ok && bad.warnings[0]).toContain('TXT nqn ignored');
  });

  it('gives an IPv6 link-local address its interface as scope', () => {
    const r = dcCandidate(service({ address: 'FE80::1' }), OPTS);
    expect(r.ok && r.tid.traddr).toBe('fe80::1%eth1');
  });

  it('drops the interface with ignore-iface', () => {
    const r = dcCandidate(service(), { ...OPTS, ignoreIface: true });
    expect(r.ok && r.tid.hostIface).toBe('');
  });

  it.each([
    [{ txt: new Map([['p', 'roce']]) }, 'rdma-unsupported'],
    [{ txt: new Map([['p', 'IWARP']]) }, 'rdma-unsupported'],
    [{ txt: new Map([['p', 'udp']]) }, 'bad-protocol'],
    [{ txt: new Map() }, 'bad-protocol'],
    [{ address: 'dc.local' }, 'bad-address'],
    [{ address: 'fe80::1%eth9' }, 'bad-address'],
    [{ port: 0 }, 'bad-port'],
    [{ port: 70000 }, 'bad-port'],
    [{ iface: 'a/b' }, 'bad-iface'],
  ])('rejects %j as %s', (over, reason) => {
    expect(dcCandidate(service(over as Partial<ResolvedService>), OPTS)).toMatchObject({ ok: false, reason });
  });
});
