/**
 * Runs INSIDE the QEMU guest (test/e2e/harness run -- node bench/dist/guest-kernel.js), as root, against
 * the guest kernel's nvmet target: one TCP port (127.0.0.1:4420) with 32 subsystems linked. Prints one
 * line `BENCH-JSON {...}` that bench/qemu.ts parses; progress goes to stderr.
 *
 * Same run, interleaved, `--runs N` times each:
 * - `nvme discover` (kernel host, process) vs a log re-read on an already open userspace session
 *   (DiscoverySession.readDiscoveryLog, what stafd does on a refresh) and vs `stafctl discover` as a cold
 *   process;
 * - `nvme connect-all` vs stas: userspace discover() + 32 connect strings written through
 *   KernelFabricsDevice (stacd's kernel device, 4 worker threads); every controller is deleted between runs.
 *
 * Changes the guest kernel's target and controllers only (the guest is thrown away).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { KernelFabricsDevice } from '@stas/common/kernel/fabrics-device';
import { discover } from '@stas/common/nvme/session/discover';
import { openDiscoverySession } from '@stas/common/nvme/session/discovery-session';

const run = promisify(execFile);
const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:3da64a01-16c5-4e10-ac46-397e2372b964';
const HOSTID = '3da64a01-16c5-4e10-ac46-397e2372b964';
const N = 32;
const ADDR = '127.0.0.1';
const PORT = '4420';
const ROOT = new URL('../../', import.meta.url).pathname;

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Math.max(1, Number.parseInt(values.runs, 10) || 3);
const say = (m: string): void => void process.stderr.write(`guest-bench: ${m}\n`);

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function controllers(): Promise<string[]> {
  return (await readdir('/sys/class/nvme').catch(() => [])).filter((n) => /^nvme\d+$/.test(n));
}

async function deleteAll(): Promise<void> {
  for (const c of await controllers())
    await writeFile(`/sys/class/nvme/${c}/delete_controller`, '1').catch(() => undefined);
  const t = performance.now();
  while ((await controllers()).length > 0 && performance.now() - t < 30_000)
    await new Promise((r) => setTimeout(r, 50));
}

const dir = await mkdtemp(join(tmpdir(), 'guest-bench-'));
const target = join(dir, 'target');
const lines = [`port 1 ${ADDR} ${PORT}`];
for (let i = 0; i < N; i += 1) {
  lines.push(`subsystem nqn.2014-08.org.example:gb-${i} allow_any_host=1`);
  lines.push(`link 1 nqn.2014-08.org.example:gb-${i}`);
}
await writeFile(target, lines.join('\n') + '\n');
await run(join(ROOT, 'test/e2e/nvmet'), ['apply', target]);
say(`target: ${N} subsystems on ${ADDR}:${PORT}`);

const cliId = ['-q', HOSTNQN, '-I', HOSTID];
const nvmeDiscover: number[] = [];
const refresh: number[] = [];
const stafctlCold: number[] = [];
const connectAll: number[] = [];
const ours: number[] = [];

const session = await openDiscoverySession({ traddr: ADDR, trsvcid: PORT, hostnqn: HOSTNQN, hostid: HOSTID });
await session.readDiscoveryLog(); // warm-up
const fabrics = new KernelFabricsDevice({ fabricsDevice: '/dev/nvme-fabrics', sys: '/sys' });
await fabrics.probeOptions(); // warm-up: a running stacd has its worker threads started already
await discover({ traddr: ADDR, trsvcid: PORT, hostnqn: HOSTNQN, hostid: HOSTID }); // warm-up (JIT)
await run('nvme', ['discover', '-t', 'tcp', '-a', ADDR, '-s', PORT, ...cliId]); // warm-up (modules, caches)
let entries = 0;
for (let r = 0; r < runs; r += 1) {
  say(`run ${r + 1}/${runs}`);
  nvmeDiscover.push(
    await timed(() => run('nvme', ['discover', '-t', 'tcp', '-a', ADDR, '-s', PORT, ...cliId])),
  );
  refresh.push(
    await timed(async () => {
      entries = (await session.readDiscoveryLog()).entries.length;
    }),
  );
  stafctlCold.push(
    await timed(() =>
      run(process.execPath, [
        join(ROOT, 'packages/stafd/bin/stafctl.js'),
        'discover',
        '-t',
        'tcp',
        '-a',
        ADDR,
        '-s',
        PORT,
        ...cliId,
        '--json',
      ]),
    ),
  );

  await deleteAll();
  connectAll.push(
    await timed(() => run('nvme', ['connect-all', '-t', 'tcp', '-a', ADDR, '-s', PORT, ...cliId])),
  );
  const byCli = (await controllers()).length;
  await deleteAll();
  ours.push(
    await timed(async () => {
      const log = await discover({ traddr: ADDR, trsvcid: PORT, hostnqn: HOSTNQN, hostid: HOSTID });
      const outcomes = await Promise.all(
        log.entries
          .filter((e) => e.subnqn.startsWith('nqn.2014-08.org.example:gb-'))
          .map((e) =>
            fabrics.connect(
              `nqn=${e.subnqn},transport=tcp,traddr=${e.traddr},trsvcid=${e.trsvcid},hostnqn=${HOSTNQN},hostid=${HOSTID}`,
            ),
          ),
      );
      const failed = outcomes.filter((o) => !o.ok);
      if (failed.length > 0)
        throw new Error(`${failed.length} connects failed: ${JSON.stringify(failed[0])}`);
    }),
  );
  const byUs = (await controllers()).length;
  say(`connect-all made ${byCli} controllers, stas ${byUs}`);
  await deleteAll();
}
await session.close();
await fabrics.close();
process.stdout.write(
  `BENCH-JSON ${JSON.stringify({ runs, entries, nvmeDiscover, refresh, stafctlCold, connectAll, ours })}\n`,
);
