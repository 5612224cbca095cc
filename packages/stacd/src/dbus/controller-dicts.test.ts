import { describe, expect, it } from 'vitest';
import { createTid } from '@stas/common/nvme/tid';
import { observed, unknown } from '@stas/common/util/observation';
import { Secret } from '@stas/common/util/secret';
import type { IocRecord } from '../execute.js';
import { planIocs } from '../plan.js';
import {
  DEFAULT_POLICY,
  HOST,
  configured,
  controllerFor,
  entry,
  ioTid,
  page,
  planInput,
} from '../plan-test-support.js';
import type { StacView, TidQuery } from './controller-dicts.js';
import { controllerInfo, explain, listControllers, managedIocs } from './controller-dicts.js';

const S1 = 'nqn.x:1';
const wanted = ioTid('10.0.0.1', S1);
const gone = ioTid('10.0.0.3', 'nqn.x:3');
const foreign = ioTid('10.0.0.4', 'nqn.x:4');
const secret = new Secret('DHHC-1:00:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0:');

function view(records: IocRecord[] = []): StacView {
  const kernel = [controllerFor(wanted, 0), controllerFor(gone, 1), controllerFor(foreign, 2, 'autoconnect')];
  const actions = planIocs(
    planInput({
      configured: [configured(ioTid('10.0.0.2', S1), 3, { dhchapSecret: secret }), configured(wanted, 4)],
      discovered: unknown('not-running'),
      kernel,
    }),
  );
  return {
    actions,
    records: new Map(records.map((r) => [r.key, r])),
    controllers: new Map(kernel.map((k) => [k.controller.device as string, k.controller])),
    now: 10_000,
  };
}

describe('managedIocs / listControllers', () => {
  it('lists wanted controllers and the ones stas owns, not other owners', () => {
    const v = view();
    expect(managedIocs(v).map((m) => `${m.action.kind}:${m.action.reason}:${m.device ?? '-'}`)).toEqual([
      'keep:connected:nvme0',
      'connect:configured:-',
      'keep:stafd-unavailable:nvme1',
    ]);
    expect(listControllers(v, false)[1]).toEqual({
      traddr: '10.0.0.2',
      trsvcid: '4420',
      transport: 'tcp',
      subsysnqn: S1,
      'host-iface': '',
      'host-traddr': '',
      'host-nqn': HOST.hostnqn,
      device: 'nvme?',
    });
  });

  it('gives details as clean strings, with executor state and no secret', () => {
    const key = createTid(
      { transport: 'tcp', traddr: '10.0.0.2', subsysnqn: S1, hostNqn: HOST.hostnqn, hostId: HOST.hostid },
      { role: 'io' },
    ).key;
    const v = view([
      {
        key,
        tid: ioTid('10.0.0.2', S1),
        phase: 'failed',
        device: undefined,
        attempts: 3,
        lastError: 'connection refused',
        nextRetryAt: 14_500,
        connectArgs: 'nqn=nqn.x:1,dhchap_secret=[redacted]',
        since: 0,
      },
    ]);
    const dicts = listControllers(v, true);
    expect(dicts[1]).toMatchObject({
      state: 'failed',
      connected: 'false',
      decision: 'connect',
      reason: 'configured',
      origin: 'configured',
      'connect attempts': '3',
      'last error': 'connection refused',
      'retry in': '4.5',
    });
    expect(dicts[0]).toMatchObject({
      state: 'connected',
      connected: 'true',
      owner: 'stas',
      model: '',
      cntrltype: 'io',
    });
    for (const d of dicts) for (const value of Object.values(d)) expect(typeof value).toBe('string');
    expect(JSON.stringify(dicts)).not.toContain('c2VjcmV0');
  });
});

describe('controllerInfo', () => {
  const canonical = (q: TidQuery) =>
    createTid(
      { transport: 'tcp', traddr: q.traddr, trsvcid: q.trsvcid, subsysnqn: q.subsysnqn, hostNqn: q.host_nqn },
      { role: 'io' },
    );
  const q = {
    transport: 'tcp',
    traddr: '10.0.0.1',
    trsvcid: '',
    subsysnqn: S1,
    host_traddr: '',
    host_iface: '',
    host_nqn: '',
  };

  it('finds a controller by its address with empty fields matching anything', () => {
    expect(JSON.parse(controllerInfo(view(), q, canonical))).toMatchObject({
      device: 'nvme0',
      traddr: '10.0.0.1',
    });
  });

  it('answers {} for an unknown controller or a query it cannot read', () => {
    expect(controllerInfo(view(), { ...q, traddr: '10.9.9.9' }, canonical)).toBe('{}');
    expect(controllerInfo(view(), q, () => null)).toBe('{}');
  });
});

describe('explain', () => {
  it('lists every action with its reason, stafd state and policy', () => {
    const v = view();
    const json = explain(v, {
      time: 0,
      fresh: true,
      discovered: unknown('not-running', 'nobody owns org.nvmexpress.staf'),
      policy: DEFAULT_POLICY,
      dryRun: false,
    });
    expect(json.stafd).toEqual({
      state: 'not-running',
      detail: 'nobody owns org.nvmexpress.staf',
      pages: [],
    });
    expect(json.actions.map((a) => `${a.action}:${a.reason}:${a.device}`)).toEqual([
      'keep:connected:nvme0',
      'connect:configured:',
      'keep:stafd-unavailable:nvme1',
      'keep:owned-by-other:nvme2',
    ]);
    expect(json.summary).toEqual({ connect: 1, adopt: 0, keep: 3, disconnect: 0, skip: 0 });
    expect(json.actions[1]?.line).toBe(3);
    expect(JSON.stringify(json)).not.toContain('c2VjcmV0');
  });

  it('summarises the pages of a stafd that answered', () => {
    const json = explain(
      {
        actions: planIocs(planInput({ discovered: observed([page([entry('10.0.0.9', S1)])]) })),
        records: new Map(),
        controllers: new Map(),
        now: 0,
      },
      {
        time: 0,
        fresh: false,
        discovered: observed([page([entry('10.0.0.9', S1)], { state: 'stale' })]),
        policy: DEFAULT_POLICY,
        dryRun: true,
      },
    );
    expect(json.stafd.pages).toEqual([{ dc: page([]).dc, state: 'stale', entries: 1 }]);
    expect(json.actions[0]?.['discovered-by']).toEqual([page([]).dc]);
    expect(json['dry-run']).toBe(true);
  });
});
