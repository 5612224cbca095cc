// Log page entries whose subsystem NQN (or FC address) carries connect-string syntax are skipped by
// the planner with reason invalid-address, instead of being planned as connects that connect-args.ts
// then refuses on every retry. (End to end: test/integration/security.test.ts.)
import { describe, expect, it } from 'vitest';
import { observed } from '@stas/common/util/observation';
import { planIocs } from './plan.js';
import { entry, page, planInput } from './plan-test-support.js';

describe('planIocs and connect-string syntax in log page entries', () => {
  it.each([
    ['a comma', 'nqn.2024-01.io.s:a,host_iface=evil0'],
    ['an equals sign', 'nqn.2024-01.io.s:a=b'],
    ['a newline', 'nqn.2024-01.io.s:a\nhostnqn=evil'],
    ['a space', 'nqn.2024-01.io.s:a b'],
    ['a control character', 'nqn.2024-01.io.s:a\u0001'],
  ])('skips a subsystem NQN with %s as invalid-address, saying why', (_what, subnqn) => {
    const actions = planIocs(planInput({ discovered: observed([page([entry('10.0.0.1', subnqn)])]) }));
    expect(actions.map((a) => `${a.kind}:${a.reason}`)).toEqual(['skip:invalid-address']);
    expect(actions[0]?.detail).toContain('subsystem NQN');
  });

  it('still connects an ordinary NQN next to a hostile one', () => {
    const actions = planIocs(
      planInput({
        discovered: observed([
          page([entry('10.0.0.1', 'nqn.2024-01.io.s:ok'), entry('10.0.0.1', 'nqn.x,y')]),
        ]),
      }),
    );
    expect(actions.map((a) => `${a.kind}:${a.reason}`).sort()).toEqual([
      'connect:discovered',
      'skip:invalid-address',
    ]);
  });

  it('skips an FC address with a comma', () => {
    const actions = planIocs(
      planInput({
        discovered: observed([
          page([entry('nn-0x1:pn-0x2,nqn=evil', 'nqn.2024-01.io.s:fc', { trtype: 'fc' })]),
        ]),
      }),
    );
    expect(actions.map((a) => `${a.kind}:${a.reason}`)).toEqual(['skip:invalid-address']);
  });
});
