// Generated-input test of the typed configuration layer: thousands of random
// and mutated stafd.conf / stacd.conf / sys.conf texts, with hostile values in
// every key (controller= grammar, numbers, durations, secrets), go through the
// same parsers the daemons use. Nothing may throw, every problem must come back
// as a well-formed diagnostic on a real line, and every controller produced must
// carry a usable transport ID.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from './diagnostic.js';
import { parseStacdConf } from './stacd-conf.js';
import { parseStafdConf } from './stafd-conf.js';
import { parseSysConf } from './sys-conf.js';
import { SAMPLES } from './testing/ini-samples.js';

const FILE = '/etc/stas/x.conf';

const KEYS = [
  'tron',
  'kato',
  'queue-size',
  'ctrl-loss-tmo',
  'ip-family',
  'pleo',
  'zeroconf',
  'zeroconf-connections-persistence',
  'persistent-connections',
  'max-discovery-controllers',
  'max-log-page-entries',
  'disconnect-scope',
  'disconnect-trtypes',
  'connect-attempts-on-ncc',
  'nr-io-queues',
  'controller',
  'exclude',
  'blacklist',
  'nqn',
  'id',
  'key',
  'symname',
];
const SECTIONS = [
  'Global',
  'Controllers',
  'Host',
  'Service Discovery',
  'Discovery controller connection management',
  'I/O controller connection management',
  'Limits',
];
const FIELD_NAMES = [
  'transport',
  'traddr',
  'trsvcid',
  'nqn',
  'subsysnqn',
  'host-iface',
  'host-traddr',
  'host-nqn',
  'kato',
  'dhchap-secret',
  'Transport',
  '',
];
const FIELD_VALUES = [
  'tcp',
  'rdma',
  'fc',
  'loop',
  'TCP',
  '1.1.1.1',
  '::ffff:1.2.3.4',
  'fe80::1%eth0',
  '0.0.0.0',
  'host.example',
  '8009',
  '99999',
  '-1',
  'abc',
  'DHHC-1:01:abc==:',
  'nqn.2014-08.org.x:y',
  'a,b',
  '',
  '=',
  ';',
  '\0',
  '😀',
];

const controllerValue = fc
  .tuple(
    fc.array(
      fc.tuple(
        fc.constantFrom(...FIELD_NAMES),
        fc.constantFrom(...FIELD_VALUES),
        fc.constantFrom('=', ' = ', '', '=='),
      ),
      { maxLength: 8 },
    ),
    fc.constantFrom(';', ' ; ', ';;', ','),
  )
  .map(([pairs, separator]) => pairs.map(([k, v, eq]) => `${k}${eq}${v}`).join(separator));

const scalarValue = fc.oneof(
  fc.constantFrom(
    'true',
    'false',
    'yes',
    '0',
    '1',
    '-1',
    '16',
    '1024',
    '65536',
    'enabled',
    'ipv6+ipv4',
    'tcp+rdma',
    '72h',
    '1:30',
    'nan',
    'inf',
    '1..5h',
    '',
    '# c',
  ),
  fc.string({ maxLength: 12 }),
);

const line = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...SECTIONS).map((s) => `[${s}]`) },
  {
    weight: 5,
    arbitrary: fc
      .tuple(fc.constantFrom(...KEYS), fc.oneof(controllerValue, scalarValue))
      .map(([k, v]) => `${k} = ${v}`),
  },
  { weight: 1, arbitrary: fc.constantFrom(...KEYS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);

const generatedFile = fc.oneof(
  fc.array(line, { maxLength: 30 }).map((lines) => lines.join('\n')),
  fc
    .tuple(fc.constantFrom(...SAMPLES), fc.array(fc.tuple(fc.nat(), line), { maxLength: 10 }))
    .map(([sample, inserts]) => {
      const lines = sample.split('\n');
      for (const [at, text] of inserts) lines.splice(at % (lines.length + 1), 0, text);
      return lines.join('\n');
    }),
);

function diagnosticProblem(text: string, diagnostics: readonly Diagnostic[]): string | undefined {
  const lineCount = text.split(/\r\n|\n|\r/).length;
  for (const d of diagnostics) {
    if (!['error', 'warning'].includes(d.severity)) return `bad severity ${d.severity}`;
    if (d.file !== FILE) return `bad file ${d.file}`;
    if (!Number.isInteger(d.line) || d.line < 0 || d.line > lineCount)
      return `line ${d.line} outside 0..${lineCount}`;
    if (d.message.trim() === '') return 'empty message';
  }
  return undefined;
}

describe('typed configuration on generated input', () => {
  it('never throws and reports every problem as a diagnostic on a real line', () => {
    let checked = 0;
    fc.assert(
      fc.property(generatedFile, (text) => {
        const stafd = parseStafdConf(text, FILE);
        const stacd = parseStacdConf(text, FILE);
        const sys = parseSysConf(text, FILE);
        for (const parsed of [stafd, stacd, sys]) {
          const problem = diagnosticProblem(text, parsed.diagnostics);
          if (problem !== undefined) throw new Error(`${problem} in:\n${text}`);
        }
        for (const c of [...stafd.config.controllers, ...stacd.config.controllers]) {
          if (c.tid.traddr === '' && c.tid.transport !== 'loop')
            throw new Error(`controller without traddr:\n${text}`);
        }
        for (const e of [...stafd.config.exclusions, ...stacd.config.exclusions]) {
          if (e.filter.size === 0) throw new Error(`empty exclusion kept:\n${text}`);
        }
        checked += 1;
      }),
      { seed: 20261121, numRuns: 4000 },
    );
    expect(checked).toBe(4000);
  });
});
