import { describe, expect, it } from 'vitest';
import { createTid } from '@stas/common/nvme/tid';
import { observed, unknown } from '@stas/common/util/observation';
import { Secret } from '@stas/common/util/secret';
import type { IocAction } from './plan.js';
import { countActions, planIocs } from './plan.js';
import {
  DEFAULT_POLICY,
  HOST,
  actionFor,
  configured,
  controllerFor,
  decision,
  entry,
  ioTid,
  kernelController,
  page,
  planInput,
} from './plan-test-support.js';

const S1 = 'nqn.2019-08.org.example:s1';
const S2 = 'nqn.2019-08.org.example:s2';

function only<K extends IocAction['kind']>(
  actions: readonly IocAction[],
  kind: K,
): Extract<IocAction, { kind: K }>[] {
  return actions.filter((a): a is Extract<IocAction, { kind: K }> => a.kind === kind);
}

describe('planIocs: what to connect', () => {
  it('connects a discovered entry that the kernel does not have, inheriting the DC host fields', () => {
    const actions = planIocs(
      planInput({
        discovered: observed([
          page([entry('10.0.0.1', S1)], {
            hostTraddr: '10.0.0.100',
            hostIface: 'eth0',
            hostNqn: 'nqn.host:other',
          }),
        ]),
      }),
    );
    const [connect] = only(actions, 'connect');
    expect(actions).toHaveLength(1);
    expect(connect).toMatchObject({
      reason: 'discovered',
      origin: 'discovered',
      ncc: false,
      tid: {
        transport: 'tcp',
        traddr: '10.0.0.1',
        trsvcid: '4420',
        subsysnqn: S1,
        hostTraddr: '10.0.0.100',
        hostIface: 'eth0',
        hostNqn: 'nqn.host:other',
        hostId: HOST.hostid,
      },
    });
    expect(connect?.detail).toMatch(/listed by DC .*connecting/);
  });

  it('fills empty host NQN and host ID from the host identity', () => {
    const actions = planIocs(planInput({ discovered: observed([page([entry('10.0.0.1', S1)])]) }));
    expect(only(actions, 'connect')[0]?.tid).toMatchObject({ hostNqn: HOST.hostnqn, hostId: HOST.hostid });
  });

  it('drops host-iface under ignore-iface, for discovered and configured controllers', () => {
    const cfg = configured(ioTid('10.0.0.2', S2, { hostIface: 'eth1' }));
    const actions = planIocs(
      planInput({
        policy: { ...DEFAULT_POLICY, ignoreIface: true },
        configured: [cfg],
        discovered: observed([page([entry('10.0.0.1', S1)], { hostIface: 'eth0' })]),
      }),
    );
    expect(only(actions, 'connect').map((a) => a.tid.hostIface)).toEqual(['', '']);
  });

  it('inherits host-traddr and host-iface only for entries of the DC transport', () => {
    const actions = planIocs(
      planInput({
        discovered: observed([
          page([entry('10.0.0.1', S1, { trtype: 'rdma' })], { hostTraddr: '10.0.0.100', hostIface: 'eth0' }),
        ]),
      }),
    );
    expect(only(actions, 'connect')[0]?.tid).toMatchObject({
      transport: 'rdma',
      hostTraddr: '',
      hostIface: '',
    });
  });

  it('connects a configured controller with [Global] options overridden by its own, and its secrets', () => {
    const secret = new Secret('DHHC-1:00:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0:');
    const actions = planIocs(
      planInput({
        policy: { ...DEFAULT_POLICY, options: { kato: 30, 'hdr-digest': true, 'nr-io-queues': 4 } },
        configured: [configured(ioTid('10.0.0.2', S2), 7, { options: { kato: 60 }, dhchapSecret: secret })],
      }),
    );
    const [connect] = only(actions, 'connect');
    expect(connect).toMatchObject({ reason: 'configured', line: 7 });
    expect(connect?.params.options).toEqual({ kato: 60, 'hdr-digest': true, 'nr-io-queues': 4 });
    expect(connect?.params.dhchapSecret).toBe(secret);
    expect(connect?.detail).toContain('stacd.conf line 7');
  });

  it('turns the TREQ "disable sqflow" bit into the disable-sqflow flag unless configured', () => {
    const sq = entry('10.0.0.1', S1, { treq: 4 });
    const plain = planIocs(planInput({ discovered: observed([page([sq])]) }));
    expect(only(plain, 'connect')[0]?.params.options['disable-sqflow']).toBe(true);
    const cfg = configured(ioTid('10.0.0.1', S1), 3, { options: { 'disable-sqflow': false } });
    const overridden = planIocs(planInput({ configured: [cfg], discovered: observed([page([sq])]) }));
    expect(only(overridden, 'connect')[0]?.params.options['disable-sqflow']).toBe(false);
  });

  it('lets a configured controller win over the same discovered one, listing the DCs', () => {
    const cfg = configured(ioTid('10.0.0.1', S1), 4, { options: { kato: 99 } });
    const actions = planIocs(
      planInput({
        configured: [cfg],
        discovered: observed([page([entry('10.0.0.1', S1)]), page([entry('10.0.0.1', S1)], { dc: 'dc2' })]),
      }),
    );
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({ kind: 'connect', origin: 'configured', dcs: [page([]).dc, 'dc2'] });
  });

  it('merges one subsystem listed by two DCs into one controller', () => {
    const actions = planIocs(
      planInput({
        discovered: observed([page([entry('10.0.0.1', S1)]), page([entry('10.0.0.1', S1)], { dc: 'dc2' })]),
      }),
    );
    expect(only(actions, 'connect')).toHaveLength(1);
    expect(only(actions, 'connect')[0]?.dcs).toHaveLength(2);
  });

  it('ignores referral and current-discovery entries (stafd follows those)', () => {
    const actions = planIocs(
      planInput({
        discovered: observed([
          page([
            entry('10.0.0.9', 'nqn.2014-08.org.nvmexpress.discovery', { subtype: 'referral' }),
            entry('10.0.0.1', 'x', { subtype: 'discovery' }),
          ]),
        ]),
      }),
    );
    expect(actions).toEqual([]);
  });

  it('connects configured controllers even while stafd is unavailable', () => {
    const actions = planIocs(
      planInput({ configured: [configured(ioTid('10.0.0.2', S2))], discovered: unknown('not-running') }),
    );
    expect(countActions(actions)).toMatchObject({ connect: 1 });
  });
});

describe('planIocs: what is already there', () => {
  it('adopts an unowned kernel controller that matches, instead of reconnecting', () => {
    const tid = ioTid('10.0.0.1', S1);
    const actions = planIocs(
      planInput({
        discovered: observed([page([entry('10.0.0.1', S1)])]),
        kernel: [controllerFor(tid, 3, null)],
      }),
    );
    expect(actions).toEqual([
      expect.objectContaining({ kind: 'adopt', reason: 'discovered', device: 'nvme3' }),
    ]);
  });

  it('keeps a controller stas owns as connected', () => {
    const tid = ioTid('10.0.0.1', S1);
    const actions = planIocs(
      planInput({ discovered: observed([page([entry('10.0.0.1', S1)])]), kernel: [controllerFor(tid, 0)] }),
    );
    expect(actions).toEqual([
      expect.objectContaining({ kind: 'keep', reason: 'connected', device: 'nvme0' }),
    ]);
  });

  it('never claims a matching controller of another owner (nvme-cli autoconnect) and does not duplicate it', () => {
    const tid = ioTid('10.0.0.1', S1);
    const actions = planIocs(
      planInput({
        discovered: observed([page([entry('10.0.0.1', S1)])]),
        kernel: [controllerFor(tid, 2, 'autoconnect')],
      }),
    );
    expect(actions).toEqual([
      expect.objectContaining({
        kind: 'keep',
        reason: 'owned-by-other',
        device: 'nvme2',
        owner: 'autoconnect',
      }),
    ]);
  });

  it('leaves a wanted boot controller alone (owner nbft, or listed in the NBFT)', () => {
    const tid = ioTid('10.0.0.1', S1);
    for (const k of [controllerFor(tid, 1, 'nbft'), { ...controllerFor(tid, 1, null), boot: true }]) {
      const actions = planIocs(
        planInput({ discovered: observed([page([entry('10.0.0.1', S1)])]), kernel: [k] }),
      );
      expect(decision(actions, 'nvme1')).toBe('keep:boot-controller');
    }
  });

  it('matches a desired TID with host-iface to a controller through its source address', () => {
    const k = kernelController({
      instance: 5,
      traddr: '10.0.0.1',
      subsysnqn: S1,
      srcAddr: '10.0.0.100',
      owner: 'stas',
    });
    const actions = planIocs(
      planInput({
        discovered: observed([page([entry('10.0.0.1', S1)], { hostIface: 'eth0' })]),
        kernel: [k],
      }),
    );
    expect(decision(actions, 'nvme5')).toBe('keep:connected');
    const other = planIocs(
      planInput({
        discovered: observed([page([entry('10.0.0.1', S1)], { hostIface: 'eth1' })]),
        kernel: [k],
      }),
    );
    expect(countActions(other)).toMatchObject({ connect: 1, disconnect: 1 });
  });

  it('prefers the exact controller, and keeps a second connection to the same subsystem', () => {
    const wanted = ioTid('10.0.0.1', S1, { hostIface: 'eth0' });
    const loose = kernelController({ instance: 1, traddr: '10.0.0.1', subsysnqn: S1, owner: 'stas' });
    const exact = controllerFor(wanted, 4);
    const actions = planIocs(
      planInput({
        discovered: observed([page([entry('10.0.0.1', S1)], { hostIface: 'eth0' })]),
        kernel: [loose, exact],
      }),
    );
    expect(decision(actions, 'nvme4')).toBe('keep:connected');
    expect(decision(actions, 'nvme1')).toBe('keep:matches-desired');
  });

  it('gives two kernel controllers with the same TID one action each', () => {
    const tid = ioTid('10.0.0.7', S2);
    const actions = planIocs(planInput({ kernel: [controllerFor(tid, 0), controllerFor(tid, 1)] }));
    expect(actions.map((a) => a.key)).toEqual([tid.key, `${tid.key}@nvme1`]);
    expect(actions.map((a) => `${a.kind}:${a.reason}`)).toEqual([
      'disconnect:not-discovered',
      'disconnect:not-discovered',
    ]);
  });

  it('never touches PCIe controllers or discovery controllers', () => {
    const pcie = kernelController({
      instance: 0,
      transport: 'pcie',
      subsysnqn: 'nqn.2014.08.org.nvmexpress:1b36',
      owner: 'stas',
    });
    const dc = kernelController({
      instance: 1,
      subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery',
      cntrltype: 'discovery',
      trsvcid: '8009',
      owner: 'stas',
    });
    const actions = planIocs(planInput({ kernel: [pcie, dc] }));
    expect(decision(actions, 'nvme0')).toBe('keep:not-fabrics');
    expect(actions.find((a) => 'device' in a && a.device === 'nvme0')?.tid).toBeNull();
    expect(decision(actions, 'nvme1')).toBe('keep:discovery-controller');
  });
});

describe('planIocs: what to disconnect, and when not', () => {
  const gone = (owner: string | null = 'stas', instance = 0) =>
    controllerFor(ioTid('10.0.0.3', S2), instance, owner);

  it('disconnects a stas controller that no log page and no controller= line lists', () => {
    const actions = planIocs(planInput({ discovered: observed([page([])]), kernel: [gone()] }));
    expect(actions).toEqual([
      expect.objectContaining({
        kind: 'disconnect',
        reason: 'not-discovered',
        device: 'nvme0',
        owner: 'stas',
      }),
    ]);
  });

  it('keeps it when stafd did not answer (no answer is not an empty answer)', () => {
    for (const reason of ['not-running', 'timeout', 'error'] as const) {
      const actions = planIocs(planInput({ discovered: unknown(reason), kernel: [gone()] }));
      expect(decision(actions, 'nvme0')).toBe('keep:stafd-unavailable');
      expect(actions[0]?.detail).toContain(reason);
    }
  });

  it('keeps it while any DC page has never been read; a stale page counts as knowledge', () => {
    const incomplete = planIocs(
      planInput({
        discovered: observed([page([]), page([], { dc: 'dc2', state: 'unknown' })]),
        kernel: [gone()],
      }),
    );
    expect(decision(incomplete, 'nvme0')).toBe('keep:discovery-incomplete');
    const stale = planIocs(
      planInput({ discovered: observed([page([], { state: 'stale' })]), kernel: [gone()] }),
    );
    expect(decision(stale, 'nvme0')).toBe('disconnect:not-discovered');
  });

  it('connects entries of a page in state unknown but still blocks disconnects', () => {
    const actions = planIocs(
      planInput({
        discovered: observed([page([entry('10.0.0.1', S1)], { state: 'unknown' })]),
        kernel: [gone()],
      }),
    );
    expect(countActions(actions)).toMatchObject({ connect: 1, keep: 1, disconnect: 0 });
  });

  it('disconnects an excluded stas controller even while stafd is unavailable', () => {
    const actions = planIocs(
      planInput({
        discovered: unknown('not-running'),
        exclusions: [{ filter: new Map([['traddr', '10.0.0.3']]), line: 9 }],
        kernel: [gone()],
      }),
    );
    expect(actions[0]).toMatchObject({ kind: 'disconnect', reason: 'excluded' });
    expect(actions[0]?.detail).toContain('line 9');
  });

  it('applies the host exclusion list (exclusions.conf) like exclude=', () => {
    const hostExclusions = [
      {
        list: 'exclusions',
        file: '/etc/nvme/exclusions.conf',
        line: 2,
        text: `nqn=${S1}`,
        filter: new Map([['nqn', S1]] as const),
      },
      { list: 'exclusions', file: '/etc/nvme/exclusions.conf', line: 3, text: 'bogus', filter: null },
    ];
    const actions = planIocs(
      planInput({
        hostExclusions,
        discovered: observed([page([entry('10.0.0.1', S1)])]),
        kernel: [controllerFor(ioTid('10.0.0.9', S1), 0)],
      }),
    );
    expect(decision(actions, ioTid('10.0.0.1', S1))).toBe('skip:excluded');
    expect(decision(actions, 'nvme0')).toBe('disconnect:excluded');
  });

  it('disconnects a controller that matches an excluded candidate by host-iface', () => {
    const k = kernelController({
      instance: 2,
      traddr: '10.0.0.1',
      subsysnqn: S1,
      srcAddr: '10.0.0.100',
      owner: 'stas',
    });
    const actions = planIocs(
      planInput({
        exclusions: [{ filter: new Map([['host-iface', 'eth0']]), line: 1 }],
        discovered: observed([page([entry('10.0.0.1', S1)], { hostIface: 'eth0' })]),
        kernel: [k],
      }),
    );
    expect(decision(actions, 'nvme2')).toBe('disconnect:excluded');
  });

  it('never disconnects what is not stas-owned under only-stas-connections', () => {
    const actions = planIocs(planInput({ discovered: observed([page([])]), kernel: [gone(null)] }));
    expect(decision(actions, 'nvme0')).toBe('keep:not-owned');
  });

  it('disconnects unowned controllers on disconnect-trtypes under all-connections-matching-disconnect-trtypes', () => {
    const policy = {
      ...DEFAULT_POLICY,
      disconnectScope: 'all-connections-matching-disconnect-trtypes' as const,
    };
    const rdma = controllerFor(
      createTid(
        { transport: 'rdma', traddr: '10.0.0.4', subsysnqn: S2, hostNqn: HOST.hostnqn, hostId: HOST.hostid },
        { role: 'io' },
      ),
      1,
      null,
    );
    const actions = planIocs(
      planInput({ policy, discovered: observed([page([])]), kernel: [gone(null), rdma] }),
    );
    expect(decision(actions, 'nvme0')).toBe('disconnect:not-discovered');
    expect(decision(actions, 'nvme1')).toBe('keep:trtype-out-of-scope');
  });

  it('never disconnects under no-disconnect, even when excluded', () => {
    const actions = planIocs(
      planInput({
        policy: { ...DEFAULT_POLICY, disconnectScope: 'no-disconnect' },
        exclusions: [{ filter: new Map([['traddr', '10.0.0.3']]), line: 1 }],
        discovered: observed([page([])]),
        kernel: [gone()],
      }),
    );
    expect(decision(actions, 'nvme0')).toBe('keep:scope-no-disconnect');
  });

  it('never disconnects another owner, a boot controller, a discovery controller or a PCIe one', () => {
    const kernel = [
      gone('autoconnect', 0),
      gone('nbft', 1),
      { ...gone(null, 2), boot: true },
      kernelController({
        instance: 3,
        subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery',
        cntrltype: 'discovery',
        owner: 'stas',
      }),
      kernelController({ instance: 4, transport: 'pcie', subsysnqn: 'nqn.pcie', owner: 'stas' }),
    ];
    const actions = planIocs(
      planInput({
        policy: { ...DEFAULT_POLICY, disconnectScope: 'all-connections-matching-disconnect-trtypes' },
        exclusions: [{ filter: new Map([['transport', 'tcp']]), line: 1 }],
        discovered: observed([page([])]),
        kernel,
      }),
    );
    expect(only(actions, 'disconnect')).toEqual([]);
    expect(actions.map((a) => a.reason)).toEqual(
      expect.arrayContaining(['owned-by-other', 'boot-controller', 'discovery-controller', 'not-fabrics']),
    );
  });

  it('disconnects a controller whose address family ip-family now disables', () => {
    const v6 = ioTid('fd00::1', S1);
    const actions = planIocs(
      planInput({
        policy: { ...DEFAULT_POLICY, ipFamily: [4] },
        discovered: observed([page([entry('fd00::1', S1)])]),
        kernel: [controllerFor(v6, 0)],
      }),
    );
    expect(decision(actions, 'nvme0')).toBe('disconnect:ip-family');
  });
});

describe('planIocs: what to skip', () => {
  it('skips entries on a disabled address family (IPv4-mapped IPv6 counts as IPv4)', () => {
    const actions = planIocs(
      planInput({
        policy: { ...DEFAULT_POLICY, ipFamily: [6] },
        discovered: observed([page([entry('::ffff:10.0.0.1', S1), entry('fd00::2', S2)])]),
      }),
    );
    expect(actions.map((a) => `${a.kind}:${a.reason}`).sort()).toEqual([
      'connect:discovered',
      'skip:ip-family',
    ]);
    expect(only(actions, 'skip')[0]?.tid?.traddr).toBe('10.0.0.1');
  });

  it('skips unusable addresses and transports the kernel host does not have', () => {
    const actions = planIocs(
      planInput({
        discovered: observed([
          page([
            entry('storage.example', S1),
            entry('0.0.0.0', S1),
            entry('10.0.0.1', S1, { trsvcid: '99999' }),
            entry('10.0.0.1', ''),
            entry('10.0.0.1', S2, { trtype: 'unspecified' }),
            entry('10.0.0.1', S2, { trtype: '7' }),
          ]),
        ]),
      }),
    );
    expect(actions.map((a) => `${a.kind}:${a.reason}`).sort()).toEqual([
      'skip:invalid-address',
      'skip:invalid-address',
      'skip:invalid-address',
      'skip:invalid-address',
      'skip:unsupported-transport',
      'skip:unsupported-transport',
    ]);
    expect(actions.filter((a) => a.reason === 'unsupported-transport').map((a) => a.tid)).toEqual([
      null,
      null,
    ]);
  });

  it('gives up an NCC entry after connect-attempts-on-ncc failed connects, and only then', () => {
    const ncc = entry('10.0.0.1', S1, { eflags: 4 });
    const tid = ioTid('10.0.0.1', S1);
    const at = (budget: number, attempts: number, entries = [ncc]) =>
      decision(
        planIocs(
          planInput({
            policy: { ...DEFAULT_POLICY, connectAttemptsOnNcc: budget },
            attempts: new Map([[tid.key, attempts]]),
            discovered: observed([page(entries)]),
          }),
        ),
        tid,
      );
    expect(at(3, 2)).toBe('connect:discovered');
    expect(at(3, 3)).toBe('skip:ncc-gave-up');
    expect(at(0, 100)).toBe('connect:discovered');
    expect(at(3, 3, [entry('10.0.0.1', S1)])).toBe('connect:discovered');
  });

  it('keeps an NCC entry that is still listed without NCC by another DC', () => {
    const tid = ioTid('10.0.0.1', S1);
    const actions = planIocs(
      planInput({
        policy: { ...DEFAULT_POLICY, connectAttemptsOnNcc: 2 },
        attempts: new Map([[tid.key, 5]]),
        discovered: observed([
          page([entry('10.0.0.1', S1, { eflags: 4 })]),
          page([entry('10.0.0.1', S1)], { dc: 'dc2' }),
        ]),
      }),
    );
    expect(decision(actions, tid)).toBe('connect:discovered');
  });

  it('skips a configured host name that does not resolve, and keeps what it might name', () => {
    const byName = createTid({ transport: 'tcp', traddr: 'array.example', subsysnqn: S2 }, { role: 'io' });
    const actions = planIocs(
      planInput({
        configured: [configured(byName, 5, { resolved: null })],
        discovered: observed([page([])]),
        kernel: [controllerFor(ioTid('10.0.0.3', S2), 0)],
      }),
    );
    expect(actions.map((a) => `${a.kind}:${a.reason}`).sort()).toEqual([
      'keep:name-unresolved',
      'skip:name-unresolved',
    ]);
  });

  it('checks exclusions on a configured host name before resolving it, and on the address after', () => {
    const byName = createTid({ transport: 'tcp', traddr: 'array.example', subsysnqn: S2 }, { role: 'io' });
    const resolved = createTid({ transport: 'tcp', traddr: '10.0.0.5', subsysnqn: S2 }, { role: 'io' });
    const byNameExcluded = planIocs(
      planInput({
        configured: [configured(byName, 5, { resolved })],
        exclusions: [{ filter: new Map([['traddr', 'array.example']]), line: 2 }],
      }),
    );
    expect(byNameExcluded.map((a) => `${a.kind}:${a.reason}`)).toEqual(['skip:excluded']);
    const byAddress = planIocs(
      planInput({
        configured: [configured(byName, 5, { resolved })],
        exclusions: [{ filter: new Map([['traddr', '10.0.0.5']]), line: 2 }],
      }),
    );
    expect(byAddress.map((a) => `${a.kind}:${a.reason}`)).toEqual(['skip:excluded']);
    expect(byAddress[0]?.tid?.traddr).toBe('10.0.0.5');
  });
});

describe('planIocs: output shape', () => {
  it('sorts actions by key and gives each key one action', () => {
    const actions = planIocs(
      planInput({
        configured: [configured(ioTid('10.0.0.9', S2))],
        discovered: observed([page([entry('10.0.0.1', S1), entry('10.0.0.2', S1), entry('10.0.0.1', S1)])]),
        kernel: [
          controllerFor(ioTid('10.0.0.3', S1), 0),
          kernelController({ instance: 1, transport: 'pcie', subsysnqn: 'p' }),
        ],
      }),
    );
    const keys = actions.map((a) => a.key);
    expect(keys).toEqual([...keys].sort());
    expect(new Set(keys).size).toBe(keys.length);
    expect(actionFor(actions, 'nvme1')?.key).toBe('~device|nvme1');
    expect(countActions(actions)).toEqual({ connect: 3, adopt: 0, keep: 1, disconnect: 1, skip: 0 });
  });

  it('never puts a secret value into a detail sentence', () => {
    const secret = new Secret('DHHC-1:00:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0:');
    const actions = planIocs(
      planInput({ configured: [configured(ioTid('10.0.0.9', S2), 1, { dhchapSecret: secret })] }),
    );
    expect(JSON.stringify(actions)).not.toContain('c2VjcmV0');
  });
});
