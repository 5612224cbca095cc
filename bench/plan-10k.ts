/**
 * Planning 10,000 desired × 10,000 existing controllers: planIocs alone (pure)
 * on a stafd page of 10,000 entries against a kernel holding 10,000 stas
 * controllers, 9,000 of them wanted (keep) and 1,000 not (disconnect), so
 * 1,000 entries are new (connect). Target < 50 ms, steady state (the cold
 * first round is reported in the detail).
 */
import { countActions, planIocs } from '@stas/stacd/dist/plan.js';
import { controllerFor, entry, ioTid, page, planInput } from '@stas/stacd/dist/plan-test-support.js';
import { observed } from '@stas/common/util/observation';
import type { Row } from './report.js';
import { median } from './report.js';

const N = 10_000;

export function planning(runs: number): Promise<Row[]> {
  const addr = (i: number): string => `10.0.${i >> 8}.${i & 255}`;
  const entries = Array.from({ length: N }, (_, i) => entry(addr(i), `nqn.2014-08.org.example:plan-${i}`));
  const kernel = Array.from({ length: N }, (_, i) => {
    const j = i < N - 1000 ? i : i + N; // the last 1,000 are not in the page
    return controllerFor(ioTid(addr(j % 65536), `nqn.2014-08.org.example:plan-${j}`), i);
  });
  const input = planInput({ discovered: observed([page(entries)]), kernel });
  // A daemon plans every round, so the figure is the steady state: three warm-up rounds let V8 compile
  // the planner's loops first. The very first (cold) round is reported beside it.
  const cold0 = performance.now();
  planIocs(input);
  const cold = performance.now() - cold0;
  planIocs(input);
  planIocs(input);
  const times: number[] = [];
  let counts = '';
  for (let r = 0; r < Math.max(runs, 5); r += 1) {
    const t = performance.now();
    const actions = planIocs(input);
    times.push(performance.now() - t);
    counts = Object.entries(countActions(actions))
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
  }
  const value = median(times);
  return Promise.resolve([
    {
      figure: 'planning 10,000 desired × 10,000 existing',
      how: 'planIocs alone, steady state (after 3 warm-up rounds)',
      value,
      unit: 'ms',
      target: '< 50 ms',
      pass: value < 50,
      runs: times.length,
      detail:
        `${counts}. Was 57-90 s (quadratic scans), then ~110 ms (allocation: TIDs built per controller, ` +
        `a 1.5 KB object spread per action, GC ~40 %). Now (packages/stacd/src/plan.ts): each listed entry ` +
        `builds one TID, its frozen object and flat key (~25 % of the profile); kernel controllers are ` +
        `matched by subsystem NQN and field comparison, no TID built for those a candidate takes (~20 %); ` +
        `entry checks ~10 %; GC ~10 %. The first, cold round (JIT compiling): ${cold.toFixed(0)} ms`,
    },
  ]);
}
