import { describe, expect, it } from 'vitest';
import { FaultPlan } from './dc-sim-fault-plan.js';

const LOG = { name: 'get-log-page', lid: 0x70 } as const;
const KA = { name: 'keep-alive' } as const;

describe('FaultPlan', () => {
  it('skips `skip` matching commands and fires on the next `times`', () => {
    const plan = new FaultPlan({ disconnect: { skip: 1, times: 2 } });
    expect([LOG, KA, LOG, LOG, LOG].map((c) => plan.hits('disconnect', c))).toEqual([
      false,
      false,
      true,
      true,
      false,
    ]);
    expect(plan.fired('disconnect')).toBe(2);
  });

  it('aims disconnect and dataLength at discovery log reads by default, the others at any command', () => {
    const plan = new FaultPlan({ dataLength: { delta: 4 }, stall: {} });
    expect(plan.hits('dataLength', { name: 'get-log-page', lid: 0 })).toBe(false);
    expect(plan.hits('dataLength', LOG)).toBe(true);
    expect(plan.hits('stall', KA)).toBe(true);
    expect(plan.hits('malformed', KA)).toBe(false);
  });

  it('counts down the one-shot faults', () => {
    const plan = new FaultPlan({
      genctrRace: { times: 1 },
      aenFlood: { count: 1 },
      refuseConnect: { status: 0x4184, times: 1 },
    });
    expect([plan.takeGenctrRace(), plan.takeGenctrRace()]).toEqual([true, false]);
    expect([plan.takeAenFlood(), plan.takeAenFlood()]).toEqual([true, false]);
    plan.addAenFlood(1);
    expect(plan.takeAenFlood()).toBe(true);
    expect(plan.takeRefusal()).toEqual({ status: 0x4184, dw0: 0 });
    expect(plan.takeRefusal()).toBeUndefined();
  });

  it('refuses every Connect when no count is given', () => {
    const plan = new FaultPlan({ refuseConnect: { status: 0x4181 } });
    expect([1, 2, 3].map(() => plan.takeRefusal()?.status)).toEqual([0x4181, 0x4181, 0x4181]);
  });

  it('gives the same answers for the same plan and commands', () => {
    const run = (): boolean[] => {
      const plan = new FaultPlan({ malformed: { kind: 'bad-type', skip: 2, times: 3 } });
      return Array.from({ length: 8 }, () => plan.hits('malformed', KA));
    };
    expect(run()).toEqual(run());
  });
});
