import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StasError } from '../../errors.js';
import { parseDcSimArgs, parseEntries, runDcSim } from './dc-sim-main.js';
import type { DcSimulator } from './dc-simulator.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('parseDcSimArgs', () => {
  it('maps flags to simulator options', () => {
    expect(
      parseDcSimArgs(['--port', '0', '--dctype', 'cdc', '--pleo', '--mdts', '2', '--entries', 'x.json']),
    ).toEqual({
      options: { host: '127.0.0.1', port: 0, dctype: 'cdc', logPages: { pleo: true }, mdts: 2 },
      entriesFile: 'x.json',
    });
    expect(parseDcSimArgs([]).options.port).toBe(8009);
  });

  it.each([[['--dctype', 'x']], [['--port', 'abc']], [['--bogus']]])('refuses %o', (argv) => {
    expect(() => parseDcSimArgs(argv)).toThrow(StasError);
  });
});

describe('parseEntries', () => {
  it('reads nvme, referral and discovery entries with defaults', () => {
    const entries = parseEntries(
      JSON.stringify([
        { traddr: '10.0.0.1', subnqn: 'nqn.2024-01.io.example:a', sectype: 2, treq: 1 },
        {
          subtype: 'referral',
          traddr: '10.0.0.9',
          trsvcid: '8010',
          subnqn: 'nqn.2014-08.org.nvmexpress.discovery',
        },
        { subtype: 3, traddr: '10.0.0.8', subnqn: 'nqn.2024-01.io.example:dc' },
      ]),
    );
    expect(entries.map((e) => [e.subtype, e.trsvcid])).toEqual([
      [2, '4420'],
      [1, '8010'],
      [3, '8009'],
    ]);
    expect(entries[0]).toMatchObject({ treq: 1, tsas: { kind: 'tcp', sectype: 2 } });
  });

  it.each([
    ['not json', /entries/],
    ['{}', /JSON array/],
    ['[{"traddr":"1.2.3.4"}]', /subnqn is required/],
    ['[{"traddr":"1.2.3.4","subnqn":"n","subtype":"x"}]', /subtype/],
    ['[{"traddr":"1.2.3.4","subnqn":"n","portid":-1}]', /portid/],
  ])('refuses %s', (text, message) => {
    expect(() => parseEntries(text)).toThrow(message);
  });
});

describe('runDcSim', () => {
  it('starts a simulator with the entries of a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dcsim-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'log.json');
    await writeFile(file, JSON.stringify([{ traddr: '10.0.0.1', subnqn: 'nqn.2024-01.io.example:a' }]));
    const sim: DcSimulator = await runDcSim(['--port', '0', '--entries', file]);
    cleanups.push(() => sim.close());
    expect(sim.port).toBeGreaterThan(0);
    expect(sim.entries.map((e) => e.subnqn)).toEqual(['nqn.2024-01.io.example:a']);
  });
});
