/**
 * `npm run bench`: runs every benchmark, prints the table (each figure beside
 * its target, with a pass/MISS mark) and writes the same as JSON to
 * bench/results/latest.json. Not part of the test command: benchmarks print
 * numbers, tests assert behaviour.
 *
 * Usage: npm run bench [-- --runs N]
 */
import { parseArgs } from 'node:util';
import { discoveryRoundTrips } from './discovery-round-trips.js';
import type { Row } from './report.js';
import { formatTable, writeReport } from './report.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Math.max(1, Number.parseInt(values.runs, 10) || 5);

const rows: Row[] = [];
rows.push(...(await discoveryRoundTrips(runs)));

process.stdout.write(formatTable(rows));
const out = new URL('results/latest.json', import.meta.url.replace('/dist/', '/')).pathname;
await writeReport(rows, out);
process.stdout.write(
  `\n${rows.filter((r) => r.pass).length}/${rows.length} figures meet their target; JSON: ${out}\n`,
);
