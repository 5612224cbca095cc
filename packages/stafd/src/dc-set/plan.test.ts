import type { Exclusion } from '@stas/common/config/controllers-section';
import type { Tid, TidInput } from '@stas/common/nvme/tid';
import { createTid } from '@stas/common/nvme/tid';
import { observed, unknown } from '@stas/common/util/observation';
import { describe, expect, it } from 'vitest';
import type { CurrentDc, DcAction, DcSetInput } from './plan.js';
import { formatDcAction, planDcSet } from './plan.js';

const HOST = {
  hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:3da64a01-16c5-4e10-ac46-397e2372b964',
  hostId: '3da64a01-16c5-4e10-ac46-397e2372b964',
};
const dc = (traddr: string, extra: Partial<TidInput> = {}): Tid =>
  createTid({ transport: 'tcp', traddr, ...HOST, ...extra }, { role: 'discovery' });

const A = dc('10.0.0.1');
const B = dc('10.0.0.2');
const C = dc('10.0.0.3');
const M = dc('10.0.0.9', { hostIface: 'eth1' });
const V6 = dc('fd00::1');

const NOW = 1_000_000;

function input(over: Partial<DcSetInput>): DcSetInput {
  return {
    configured: [],
    announced: observed([]),
    referrals: [],
    current: [],
    exclusions: [],
    policy: { ipFamily: [4, 6], persistenceSec: 60, maxReferralDepth: 3 },
    now: NOW,
    ...over,
  };
}

const current = (tid: Tid, over: Partial<CurrentDc> = {}): CurrentDc => ({
  tid,
  origin: 'configured',
  depth: 0,
  connected: true,
  lostSince: null,
  configuredAddress: tid.traddr,
  ...over,
});

const exclude = (filter: Record<string, string>, line = 9): Exclusion => ({
  filter: new Map(Object.entries(filter)),
  line,
});

/** `kind:reason` per TID address, the shape most tests assert on. */
const summary = (actions: readonly DcAction[]): Record<string, string> =>
  Object.fromEntries(actions.map((a) => [a.tid.traddr, `${a.kind}:${a.reason}`]));

describe('planDcSet: sources', () => {
  it('adds configured, announced and referred DCs with their origins', () => {
    const actions = planDcSet(
      input({
        configured: [{ tid: A, configuredAddress: '10.0.0.1', line: 3 }],
        announced: observed([M]),
        current: [current(A)],
        referrals: [{ referrer: A.key, tids: [B] }],
      }),
    );
    expect(summary(actions)).toEqual({
      '10.0.0.1': 'keep:configured',
      '10.0.0.2': 'add:referred',
      '10.0.0.9': 'add:announced',
    });
    const referred = actions.find((a) => a.tid.traddr === '10.0.0.2');
    expect(referred).toMatchObject({ kind: 'add', origin: 'referral', depth: 1, referrer: A.key });
  });

  it('prefers configured over referral over mDNS for the same DC', () => {
    const both = planDcSet(
      input({
        configured: [{ tid: B, configuredAddress: '10.0.0.2', line: 1 }],
        announced: observed([B]),
        current: [current(A)],
        referrals: [{ referrer: A.key, tids: [B] }],
      }),
    );
    expect(both.find((a) => a.tid.key === B.key)).toMatchObject({ kind: 'add', origin: 'configured' });
    // (A itself stays configured: referrals of a DC on its way out are not followed.)
    const noConfig = planDcSet(
      input({
        configured: [{ tid: A, configuredAddress: '10.0.0.1', line: 2 }],
        announced: observed([B]),
        current: [current(A)],
        referrals: [{ referrer: A.key, tids: [B] }],
      }),
    );
    expect(noConfig.find((a) => a.tid.key === B.key)).toMatchObject({ origin: 'referral' });
  });

  it('gives every TID exactly one action, sorted by key', () => {
    const actions = planDcSet(
      input({
        configured: [
          { tid: C, configuredAddress: 'c', line: 1 },
          { tid: A, configuredAddress: 'a', line: 2 },
        ],
        announced: observed([A, M]),
        current: [current(B)],
      }),
    );
    const keys = actions.map((a) => a.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toEqual([...keys].sort());
    expect(keys).toHaveLength(4);
  });

  it('is stable: applying a plan and planning again yields only keeps', () => {
    const first = input({
      configured: [{ tid: A, configuredAddress: '10.0.0.1', line: 1 }],
      announced: observed([M]),
    });
    const applied = planDcSet(first).flatMap((a) =>
      a.kind === 'add' ? [current(a.tid, { origin: a.origin, configuredAddress: a.configuredAddress })] : [],
    );
    const again = planDcSet({ ...first, current: applied });
    expect(again.every((a) => a.kind === 'keep')).toBe(true);
  });
});

describe('planDcSet: filters', () => {
  it('skips excluded candidates and removes excluded current DCs', () => {
    const actions = planDcSet(
      input({
        configured: [{ tid: A, configuredAddress: 'a', line: 1 }],
        announced: observed([M]),
        current: [current(B, { origin: 'discovered' })],
        exclusions: [
          exclude({ traddr: '10.0.0.1' }, 4),
          exclude({ 'host-iface': 'eth1' }),
          exclude({ traddr: '10.0.0.2' }),
        ],
      }),
    );
    expect(summary(actions)).toEqual({
      '10.0.0.1': 'skip:excluded',
      '10.0.0.9': 'skip:excluded',
      '10.0.0.2': 'remove:excluded',
    });
    expect(actions[0]?.detail).toContain('line 4');
  });

  it('skips disabled address families, non-IP addresses and non-TCP transports', () => {
    const rdma = createTid({ transport: 'rdma', traddr: '10.0.0.5', ...HOST }, { role: 'discovery' });
    const named = dc('dc.example.com');
    const actions = planDcSet(
      input({
        configured: [
          { tid: V6, configuredAddress: 'fd00::1', line: 1 },
          { tid: named, configuredAddress: 'dc.example.com', line: 2 },
          { tid: rdma, configuredAddress: '10.0.0.5', line: 3 },
        ],
        policy: { ipFamily: [4], persistenceSec: 60, maxReferralDepth: 3 },
      }),
    );
    expect(summary(actions)).toEqual({
      'fd00::1': 'skip:ip-family',
      'dc.example.com': 'skip:not-an-ip',
      '10.0.0.5': 'skip:unsupported-transport',
    });
  });

  it('removes a current DC whose family was disabled by a reload', () => {
    const actions = planDcSet(
      input({
        current: [current(V6)],
        configured: [{ tid: V6, configuredAddress: 'fd00::1', line: 1 }],
        policy: { ipFamily: [4], persistenceSec: 60, maxReferralDepth: 3 },
      }),
    );
    expect(summary(actions)).toEqual({ 'fd00::1': 'remove:not-usable' });
  });
});

describe('planDcSet: configured DCs', () => {
  it('removes a DC whose controller= line is gone', () => {
    expect(summary(planDcSet(input({ current: [current(A)] })))).toEqual({
      '10.0.0.1': 'remove:unconfigured',
    });
  });

  it('keeps a configured DC whose host name does not resolve right now', () => {
    const actions = planDcSet(
      input({
        configured: [{ tid: null, configuredAddress: 'dc.example.com', line: 7 }],
        current: [current(A, { configuredAddress: 'dc.example.com' })],
      }),
    );
    expect(summary(actions)).toEqual({ '10.0.0.1': 'keep:name-unresolved' });
    expect(actions[0]?.detail).toContain('line 7');
  });
});

describe('planDcSet: mDNS DCs', () => {
  const lost = (over: Partial<CurrentDc> = {}): CurrentDc =>
    current(M, { origin: 'discovered', connected: false, configuredAddress: undefined, ...over });

  it('keeps an announced DC and clears its lost mark', () => {
    const [action] = planDcSet(
      input({ announced: observed([M]), current: [lost({ lostSince: NOW - 5_000 })] }),
    );
    expect(action).toMatchObject({ kind: 'keep', reason: 'announced', lostSince: null });
  });

  it('keeps a withdrawn DC while it is connected', () => {
    const [action] = planDcSet(input({ current: [lost({ connected: true })] }));
    expect(action).toMatchObject({ kind: 'keep', reason: 'connected' });
  });

  it('marks a withdrawn, unconnected DC lost, then removes it after the persistence', () => {
    const [first] = planDcSet(input({ current: [lost()] }));
    expect(first).toMatchObject({ kind: 'keep', reason: 'lost-waiting', lostSince: NOW });
    expect(first?.detail).toContain('60 s');
    const [waiting] = planDcSet(input({ current: [lost({ lostSince: NOW - 59_000 })] }));
    expect(waiting).toMatchObject({ kind: 'keep', reason: 'lost-waiting' });
    expect(waiting).not.toHaveProperty('lostSince');
    const [expired] = planDcSet(input({ current: [lost({ lostSince: NOW - 60_000 })] }));
    expect(expired).toMatchObject({ kind: 'remove', reason: 'lost-expired' });
  });

  it('removes a lost DC at once with persistence 0 and never with a negative one', () => {
    const zero = { ipFamily: [4, 6] as const, persistenceSec: 0, maxReferralDepth: 3 };
    expect(planDcSet(input({ current: [lost()], policy: zero }))[0]).toMatchObject({ kind: 'remove' });
    const never = { ...zero, persistenceSec: -1 };
    expect(planDcSet(input({ current: [lost({ lostSince: 0 })], policy: never }))[0]).toMatchObject({
      kind: 'keep',
      reason: 'lost-forever',
    });
  });

  it('keeps mDNS DCs when the browser is not available (unknown is not empty)', () => {
    const [action] = planDcSet(
      input({ announced: unknown('not-running'), current: [lost({ lostSince: 0 })] }),
    );
    expect(action).toMatchObject({ kind: 'keep', reason: 'mdns-unknown' });
  });
});

describe('planDcSet: referrals', () => {
  it('removes a referral no DC makes any more', () => {
    const actions = planDcSet(
      input({
        configured: [{ tid: A, configuredAddress: '10.0.0.1', line: 1 }],
        current: [current(A), current(B, { origin: 'referral', depth: 1, referrer: A.key })],
        referrals: [{ referrer: A.key, tids: [] }],
      }),
    );
    expect(summary(actions)).toMatchObject({ '10.0.0.2': 'remove:referral-withdrawn' });
  });

  it("keeps a referral while the referrer's log page is unknown", () => {
    const actions = planDcSet(
      input({
        configured: [{ tid: A, configuredAddress: '10.0.0.1', line: 1 }],
        current: [current(A), current(B, { origin: 'referral', depth: 1, referrer: A.key })],
        referrals: [{ referrer: A.key, tids: null }],
      }),
    );
    expect(summary(actions)).toMatchObject({ '10.0.0.2': 'keep:referrer-log-unknown' });
  });

  it('stops following referrals past the depth limit, so loops end', () => {
    const policy = { ipFamily: [4, 6] as const, persistenceSec: 60, maxReferralDepth: 1 };
    const actions = planDcSet(
      input({
        current: [current(A), current(B, { origin: 'referral', depth: 1, referrer: A.key })],
        configured: [{ tid: A, configuredAddress: '10.0.0.1', line: 1 }],
        referrals: [
          { referrer: A.key, tids: [B] },
          { referrer: B.key, tids: [C, A] },
        ],
        policy,
      }),
    );
    expect(summary(actions)).toEqual({
      '10.0.0.1': 'keep:configured',
      '10.0.0.2': 'keep:referred',
      '10.0.0.3': 'skip:referral-too-deep',
    });
  });

  it('takes the shortest referral path', () => {
    const actions = planDcSet(
      input({
        current: [
          current(A),
          current(B, { origin: 'referral', depth: 2, referrer: C.key }),
          current(C, { origin: 'referral', depth: 1, referrer: A.key }),
        ],
        configured: [{ tid: A, configuredAddress: '10.0.0.1', line: 1 }],
        referrals: [
          { referrer: C.key, tids: [B] },
          { referrer: A.key, tids: [C, B] },
        ],
      }),
    );
    expect(actions.find((a) => a.key === B.key)).toMatchObject({ kind: 'keep', depth: 1, referrer: A.key });
  });
});

describe('planDcSet: referral cycles', () => {
  it('removes DCs that only refer to each other once their root is gone', () => {
    const actions = planDcSet(
      input({
        current: [
          current(B, { origin: 'referral', depth: 1, referrer: A.key }),
          current(C, { origin: 'referral', depth: 2, referrer: B.key }),
        ],
        referrals: [
          { referrer: B.key, tids: [C, B] },
          { referrer: C.key, tids: [B] },
        ],
      }),
    );
    expect(summary(actions)).toEqual({
      '10.0.0.2': 'remove:referral-withdrawn',
      '10.0.0.3': 'remove:referral-withdrawn',
    });
  });

  it('does not let a DC listing itself keep itself once its referrer drops it', () => {
    const actions = planDcSet(
      input({
        configured: [{ tid: A, configuredAddress: '10.0.0.1', line: 1 }],
        current: [current(A), current(B, { origin: 'referral', depth: 1, referrer: A.key })],
        referrals: [
          { referrer: A.key, tids: [] },
          { referrer: B.key, tids: [B] },
        ],
      }),
    );
    expect(summary(actions)).toMatchObject({ '10.0.0.2': 'remove:referral-withdrawn' });
  });

  it('follows referrals from a DC kept while its name does not resolve', () => {
    const actions = planDcSet(
      input({
        configured: [{ tid: null, configuredAddress: 'dc.example', line: 1 }],
        current: [
          current(A, { configuredAddress: 'dc.example' }),
          current(B, { origin: 'referral', depth: 1, referrer: A.key }),
        ],
        referrals: [{ referrer: A.key, tids: [B] }],
      }),
    );
    expect(summary(actions)).toEqual({ '10.0.0.1': 'keep:name-unresolved', '10.0.0.2': 'keep:referred' });
  });
});

describe('formatDcAction', () => {
  it('renders the TID, the decision and its reason', () => {
    const [action] = planDcSet(input({ configured: [{ tid: A, configuredAddress: '10.0.0.1', line: 1 }] }));
    expect(action && formatDcAction(action)).toBe(
      '(tcp, 10.0.0.1, 8009, nqn.2014-08.org.nvmexpress.discovery) add (configured): named by a controller= line; connecting',
    );
  });
});
