/**
 * Command line for a standalone simulator (for `stafd --demo` and benchmarks):
 *
 *   node dc-sim-main.js [--host 127.0.0.1] [--port 8009] [--entries log.json] [--nqn NQN]
 *                       [--dctype none|ddc|cdc] [--pleo] [--mdts N]
 *
 * The entries file is a JSON array of objects with at least `traddr` and `subnqn`; `subtype` is 'nvme'
 * (default), 'referral' or 'discovery' (or 1..3), other DiscoveryLogEntry fields are optional, and
 * `sectype` sets the TCP SECTYPE. It prints one line "listening <host> <port>" and runs until SIGINT or
 * SIGTERM.
 *
 * parseDcSimArgs()/parseEntries() are pure and throw StasError DCSIM_BAD_ARGS / DCSIM_BAD_ENTRIES;
 * runDcSim() reads the file and starts the simulator. Only the bottom block (when run as a script)
 * prints, handles signals and sets the exit code.
 *
 * Used by: stafd --demo (later), benchmarks
 * Tests:   dc-sim-main.test.ts
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { StasError, describeError } from '../../errors.js';
import { Subtype, type DiscoveryLogEntry } from '../../nvme/wire/discovery-log.js';
import { currentDiscoveryEntry, nvmeEntry, referralEntry } from './dc-sim-entries.js';
import type { DcSimOptions } from './dc-sim-options.js';
import { DcSimulator } from './dc-simulator.js';

export interface DcSimArgs {
  readonly options: DcSimOptions;
  readonly entriesFile: string | undefined;
}

function badArgs(message: string): never {
  throw new StasError('DCSIM_BAD_ARGS', message);
}

/** Parse the command line (without node and script). */
export function parseDcSimArgs(argv: readonly string[]): DcSimArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        entries: { type: 'string' },
        nqn: { type: 'string' },
        dctype: { type: 'string' },
        pleo: { type: 'boolean' },
        mdts: { type: 'string' },
      },
      strict: true,
    }));
  } catch (err) {
    return badArgs(describeError(err));
  }
  const number = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text)) badArgs(`--${name} ${text}: not a number`);
    return Number(text);
  };
  const dctype = values.dctype;
  if (dctype !== undefined && dctype !== 'none' && dctype !== 'ddc' && dctype !== 'cdc') {
    badArgs(`--dctype ${dctype}: expected none, ddc or cdc`);
  }
  const options: DcSimOptions = {
    host: values.host ?? '127.0.0.1',
    port: number('port', values.port) ?? 8009,
    ...(values.nqn !== undefined && { subnqn: values.nqn }),
    ...(dctype !== undefined && { dctype }),
    ...(values.pleo === true && { logPages: { pleo: true } }),
    ...(values.mdts !== undefined && { mdts: number('mdts', values.mdts) }),
  };
  return { options, entriesFile: values.entries };
}

const SUBTYPES: Readonly<Record<string, number>> = {
  referral: Subtype.Referral,
  nvme: Subtype.Nvme,
  discovery: Subtype.CurrentDiscovery,
};

/** Parse the JSON text of an entries file. */
export function parseEntries(text: string, file = 'entries'): DiscoveryLogEntry[] {
  const bad = (message: string): never => {
    throw new StasError('DCSIM_BAD_ENTRIES', `${file}: ${message}`);
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return bad(describeError(err));
  }
  if (!Array.isArray(json)) return bad('expected a JSON array of entries');
  return json.map((item: unknown, i): DiscoveryLogEntry => {
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      return bad(`entry ${i}: not an object`);
    const o = item as Record<string, unknown>;
    const text = (key: string): string | undefined => {
      const v = o[key];
      if (v === undefined) return undefined;
      if (typeof v !== 'string') return bad(`entry ${i}: ${key} must be a string`);
      return v;
    };
    const int = (key: string): number | undefined => {
      const v = o[key];
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) {
        return bad(`entry ${i}: ${key} must be an integer in 0..65535`);
      }
      return v;
    };
    const traddr = text('traddr') ?? bad(`entry ${i}: traddr is required`);
    const subnqn = text('subnqn') ?? bad(`entry ${i}: subnqn is required`);
    const rawSubtype = o.subtype ?? 'nvme';
    const subtype = typeof rawSubtype === 'string' ? SUBTYPES[rawSubtype] : rawSubtype;
    if (subtype !== Subtype.Referral && subtype !== Subtype.Nvme && subtype !== Subtype.CurrentDiscovery) {
      return bad(`entry ${i}: subtype must be nvme, referral or discovery`);
    }
    const sectype = int('sectype');
    const fields: Partial<DiscoveryLogEntry> = {
      traddr,
      subnqn,
      ...(text('trsvcid') !== undefined && { trsvcid: text('trsvcid') }),
      ...(int('trtype') !== undefined && { trtype: int('trtype') }),
      ...(int('adrfam') !== undefined && { adrfam: int('adrfam') }),
      ...(int('treq') !== undefined && { treq: int('treq') }),
      ...(int('portid') !== undefined && { portid: int('portid') }),
      ...(int('cntlid') !== undefined && { cntlid: int('cntlid') }),
      ...(int('asqsz') !== undefined && { asqsz: int('asqsz') }),
      ...(int('eflags') !== undefined && { eflags: int('eflags') }),
      ...(sectype !== undefined && { tsas: { kind: 'tcp', sectype } }),
    };
    if (subtype === Subtype.Nvme) return nvmeEntry({ ...fields, traddr, subnqn });
    const port = Number(fields.trsvcid ?? '8009');
    const dc = { host: traddr, port, subnqn };
    return subtype === Subtype.Referral ? referralEntry(dc, fields) : currentDiscoveryEntry(dc, fields);
  });
}

/** Start a simulator from command-line arguments. */
export async function runDcSim(argv: readonly string[]): Promise<DcSimulator> {
  const args = parseDcSimArgs(argv);
  const entries =
    args.entriesFile === undefined
      ? []
      : parseEntries(await readFile(args.entriesFile, 'utf8'), args.entriesFile);
  return DcSimulator.start({ ...args.options, entries });
}

const script = process.argv[1];
if (script !== undefined && import.meta.url === pathToFileURL(script).href) {
  runDcSim(process.argv.slice(2)).then(
    (sim) => {
      process.stdout.write(`listening ${sim.host} ${sim.port}\n`);
      const stop = (): void => {
        void sim.close();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err: unknown) => {
      process.stderr.write(`dc-sim: ${describeError(err)}\n`);
      process.exitCode = 1;
    },
  );
}
