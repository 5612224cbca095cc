/**
 * `npm run bench`: runs every benchmark, prints the table (each figure beside
 * its target, with a pass/MISS mark) and writes the same as JSON to
 * bench/results/latest.json. Not part of the test command: benchmarks print
 * numbers, tests assert behaviour. A benchmark that throws becomes a
 * 'not measured' row with the reason; nothing is dropped silently.
 *
 * Usage: npm run bench [-- --runs N] [--only NAME[,NAME]] [--skip-qemu] [--idle-seconds N]
 * Names: round-trips, qemu, log-page-10k, planning, connects, aen, mdns, idle, startup.
 */
import { parseArgs } from 'node:util';
import { discoveryRoundTrips } from './discovery-round-trips.js';
import { connects200 } from './connect-200.js';
import { planning } from './plan-10k.js';
import { logPage10k } from './log-page-10k.js';
import { aenLatency } from './aen-latency.js';
import { mdnsToConnect } from './mdns-connect.js';
import { idleFootprint, startupTimes } from './daemons.js';
import { qemuFigures } from './qemu.js';
import type { Row } from './report.js';
import { formatTable, writeReport } from './report.js';
import { notMeasured } from './support.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    only: { type: 'string' },
    'skip-qemu': { type: 'boolean', default: false },
    'idle-seconds': { type: 'string', default: '60' },
  },
});
const runs = Math.max(1, Number.parseInt(values.runs, 10) || 5);
const idleSeconds = Math.max(1, Number.parseInt(values['idle-seconds'], 10) || 60);
const only = values.only === undefined ? null : new Set(values.only.split(','));

interface Bench {
  readonly name: string;
  /** Figure and target of the row printed when the benchmark throws. */
  readonly figure: string;
  readonly target: string;
  readonly run: () => Promise<Row[]>;
}

const benches: Bench[] = [
  {
    name: 'round-trips',
    figure: 'round trips, fresh discovery',
    target: '≤ 8',
    run: () => discoveryRoundTrips(runs),
  },
  {
    name: 'qemu',
    figure: 'real kernel: discovery and connect ratios vs nvme-cli',
    target: '≤ 1.0 / ≤ 0.5',
    run: () => qemuFigures(runs),
  },
  {
    name: 'mdns',
    figure: 'mDNS announce → connect string written',
    target: 'report',
    run: () => mdnsToConnect(runs),
  },
  {
    name: 'log-page-10k',
    figure: '10,000-entry log page over D-Bus',
    target: '< 250 ms',
    run: () => logPage10k(runs),
  },
  { name: 'planning', figure: 'planning 10,000 × 10,000', target: '< 50 ms', run: () => planning(runs) },
  {
    name: 'connects',
    figure: '200 connects (fake, 100 ms each)',
    target: '< 2000 ms',
    run: () => connects200(runs),
  },
  { name: 'aen', figure: 'AEN → connect string written', target: '< 50 ms', run: () => aenLatency(runs) },
  {
    name: 'idle',
    figure: 'idle footprint, 10 DCs / 100 controllers',
    target: 'RSS < 60 MB, CPU < 0.1 %',
    run: () => idleFootprint(idleSeconds),
  },
  { name: 'startup', figure: 'start → READY', target: '< 300 ms', run: () => startupTimes(runs) },
];

const rows: Row[] = [];
for (const b of benches) {
  if (only !== null && !only.has(b.name)) continue;
  if (b.name === 'qemu' && values['skip-qemu']) {
    rows.push(notMeasured(b.figure, 'QEMU guest', b.target, '--skip-qemu'));
    continue;
  }
  process.stderr.write(`bench: ${b.name}…\n`);
  try {
    rows.push(...(await b.run()));
  } catch (err) {
    rows.push(notMeasured(b.figure, b.name, b.target, err instanceof Error ? err.message : String(err)));
  }
}

process.stdout.write(formatTable(rows));
const out = new URL('results/latest.json', import.meta.url.replace('/dist/', '/')).pathname;
await writeReport(rows, out);
process.stdout.write(
  `\n${rows.filter((r) => r.pass).length}/${rows.length} figures meet their target; JSON: ${out}\n`,
);
