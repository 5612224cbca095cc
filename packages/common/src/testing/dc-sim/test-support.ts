/**
 * Shared fixtures of the simulator tests: resources that are released after each test, a few log
 * entries, and the consistent discovery-log read (libnvme's algorithm) driven through RawHost.
 *
 * Test-only; touches sockets and the simulator through RawHost/DcSimulator. Throws plain Errors.
 *
 * Used by: dc-simulator.test.ts, dc-sim-faults.test.ts
 * Tests:   exercised by those tests.
 */
import {
  DLP_ENTRY_SIZE,
  DLP_HEADER_READ_LENGTH,
  decodeDiscoveryLogEntries,
  decodeDiscoveryLogHeader,
  type DiscoveryLogEntry,
} from '../../nvme/wire/discovery-log.js';
import { nvmeEntry } from './dc-sim-entries.js';
import type { DcSimOptions } from './dc-sim-options.js';
import { DcSimulator } from './dc-simulator.js';
import { RawHost } from './raw-host.js';

export const ENTRIES: readonly DiscoveryLogEntry[] = [
  nvmeEntry({ traddr: '192.168.1.10', subnqn: 'nqn.2024-01.io.example:sub1' }),
  nvmeEntry({ traddr: '192.168.1.11', subnqn: 'nqn.2024-01.io.example:sub2', portid: 2 }),
  nvmeEntry({ traddr: 'fd00::12', subnqn: 'nqn.2024-01.io.example:sub3', trsvcid: '4421' }),
];

/** Things to release after a test, last first. */
export class Resources {
  readonly #cleanups: (() => Promise<void>)[] = [];

  async sim(options: DcSimOptions = {}): Promise<DcSimulator> {
    const sim = await DcSimulator.start(options);
    this.#cleanups.push(() => sim.close());
    return sim;
  }

  async host(sim: { host: string; port: number }): Promise<RawHost> {
    const host = await RawHost.connect(sim.port, sim.host);
    this.#cleanups.push(() => host.close());
    return host;
  }

  async release(): Promise<void> {
    for (const c of this.#cleanups.splice(0).reverse()) await c();
  }
}

export interface LogRead {
  readonly genctr: bigint;
  readonly entries: DiscoveryLogEntry[];
  /** Passes of header → entries → header. */
  readonly passes: number;
}

/** libnvme's consistent read: header, entries in chunks (RAE=1 but the last), header; retry on GENCTR change. */
export async function readDiscoveryLog(
  host: RawHost,
  opts: { chunk?: number; lsp?: number; maxPasses?: number } = {},
): Promise<LogRead> {
  const chunk = opts.chunk ?? 4096;
  const lsp = opts.lsp ?? 0;
  const header = async (): Promise<{ genctr: bigint; numrec: bigint }> => {
    const r = await host.getLogPage({ length: DLP_HEADER_READ_LENGTH, lsp });
    if (r.status !== 0) throw new Error(`header read failed: 0x${r.status.toString(16)}`);
    return decodeDiscoveryLogHeader(r.data);
  };
  let first = await header();
  for (let pass = 1; pass <= (opts.maxPasses ?? 10); pass++) {
    const total = Number(first.numrec) * DLP_ENTRY_SIZE;
    const bytes = new Uint8Array(total);
    for (let off = 0; off < total; off += chunk) {
      const length = Math.min(chunk, total - off);
      const r = await host.getLogPage({ offset: 1024 + off, length, lsp, rae: off + length < total });
      if (r.status !== 0) throw new Error(`entries read failed: 0x${r.status.toString(16)}`);
      bytes.set(r.data, off);
    }
    const second = await header();
    if (second.genctr === first.genctr) {
      return { genctr: first.genctr, entries: decodeDiscoveryLogEntries(bytes, first.numrec), passes: pass };
    }
    first = second;
  }
  throw new Error('GENCTR kept changing');
}
