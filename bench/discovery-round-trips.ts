/**
 * Round trips of a fresh discovery of N entries (10 / 100 / 1000) from a
 * controller without an MDTS limit: the userspace host against the DC
 * simulator on loopback. Target ≤ 8 for each N. Round trips are counted by the
 * host session (ICReq through shutdown) and cross-checked with the commands
 * the simulator received.
 */
import { discover } from '@stas/common/nvme/session/discover';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { DcSimulator } from '@stas/common/testing/dc-sim/dc-simulator';
import type { Row } from './report.js';
import { median } from './report.js';

const HOST = {
  hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:3da64a01-16c5-4e10-ac46-397e2372b964',
  hostid: '3da64a01-16c5-4e10-ac46-397e2372b964',
};

export async function discoveryRoundTrips(runs: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of [10, 100, 1000]) {
    const entries = Array.from({ length: n }, (_, i) =>
      nvmeEntry({ subnqn: `nqn.2014-08.org.example:bench-${i}`, traddr: `10.0.${i >> 8}.${i & 255}` }),
    );
    const sim = await DcSimulator.start({ entries });
    try {
      const counts: number[] = [];
      const times: number[] = [];
      let commands = 0;
      for (let r = 0; r < runs; r += 1) {
        sim.resetRoundTrips();
        const started = performance.now();
        const result = await discover({ traddr: sim.host, trsvcid: String(sim.port), ...HOST });
        times.push(performance.now() - started);
        if (result.entries.length !== n)
          throw new Error(`expected ${n} entries, got ${result.entries.length}`);
        counts.push(result.roundTrips);
        commands = sim.roundTrips.total;
      }
      const value = median(counts);
      rows.push({
        figure: `round trips, fresh discovery of ${n} entries`,
        how: 'userspace host vs DC simulator on loopback, no MDTS limit',
        value,
        unit: 'RTT',
        target: '≤ 8',
        pass: value <= 8,
        runs,
        detail: `${commands} commands seen by the DC; ${median(times).toFixed(1)} ms wall`,
      });
    } finally {
      await sim.close();
    }
  }
  return rows;
}
