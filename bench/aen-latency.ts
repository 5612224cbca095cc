/**
 * AEN → new log page on D-Bus → connect string written: a DC simulator, stafd
 * in-process (persistent session), stacd's daemon in-process with a
 * FakeFabricsDevice (no delay) on the same private dbus-daemon. Measured from
 * the simulator adding an entry (which sends the discovery-change AEN) until
 * the fake device has received the connect string for it. Target < 50 ms
 * beyond the network (loopback here, so the whole figure counts).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolvePaths } from '@stas/common/paths';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { DcSimulator } from '@stas/common/testing/dc-sim/dc-simulator';
import { FakeFabricsDevice } from '@stas/common/testing/fake-fabrics';
import { StacDaemon } from '@stas/stacd/dist/daemon.js';
import { IFACES } from '@stas/stacd/dist/plan-test-support.js';
import { startStafd } from '@stas/stafd/dist/stafd-app.js';
import type { Row } from './report.js';
import { median } from './report.js';
import { HOST_ID, HOST_NQN, makeRoot, quietLogger, startBus, waitFor } from './support.js';

export async function aenLatency(runs: number): Promise<Row[]> {
  const bus = await startBus();
  const root = await makeRoot('aen');
  const sim = await DcSimulator.start({
    entries: [nvmeEntry({ subnqn: 'nqn.2014-08.org.example:aen-0', traddr: '10.0.0.1' })],
  });
  await writeFile(
    join(root.etcStas, 'stafd.conf'),
    `[Service Discovery]\nzeroconf = disabled\n[Controllers]\ncontroller = transport=tcp;traddr=${sim.host};trsvcid=${sim.port}\n`,
  );
  await writeFile(join(root.etcStas, 'stacd.conf'), `[Global]\n`);
  const fake = new FakeFabricsDevice({ sysRoot: join(root.root, 'sys') });
  const paths = resolvePaths({ STAS_ROOT: root.root });
  const stafd = await startStafd({
    env: { STAS_ROOT: root.root },
    log: quietLogger('stafd'),
    busAddress: bus.address,
    createBrowser: () => null,
  });
  const stacd = new StacDaemon({
    confFile: join(paths.etcStas, 'stacd.conf'),
    sysConfFile: join(paths.etcStas, 'sys.conf'),
    paths,
    log: quietLogger('stacd'),
    fabrics: fake,
    busAddress: bus.address,
    uevents: null,
    identity: { hostnqn: HOST_NQN, hostid: HOST_ID, hostkey: null, symname: null },
    interfaces: () => IFACES,
    resolve: () => Promise.reject(new Error('no DNS in the benchmark')),
  });
  const times: number[] = [];
  try {
    await stacd.start();
    await waitFor(() => (fake.connects.length >= 1 ? true : undefined), 'first connect', 30_000, 2);
    await stacd.settled();
    for (let r = 0; r < Math.max(runs, 5); r += 1) {
      const nqn = `nqn.2014-08.org.example:aen-${r + 1}`;
      const seen = (): true | undefined =>
        fake.connects.some((c) => c.tokens.get('nqn') === nqn) ? true : undefined;
      const t = performance.now();
      sim.addEntry(nvmeEntry({ subnqn: nqn, traddr: `10.0.1.${r + 1}` }));
      await waitFor(seen, 'connect string', 10_000, 0);
      times.push(performance.now() - t);
      await stacd.settled();
    }
  } finally {
    await stacd.stop();
    await stafd.stop();
    await sim.close();
    await bus.close();
    await root.close();
  }
  const value = median(times);
  return [
    {
      figure: 'AEN → log page on D-Bus → connect string written',
      how: 'DC simulator + stafd + stacd in-process, FakeFabricsDevice, private dbus-daemon',
      value,
      unit: 'ms',
      target: '< 50 ms',
      pass: value < 50,
      runs: times.length,
      detail: `min ${Math.min(...times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms; loopback network; includes stacd's 20 ms coalescing delay`,
    },
  ];
}
