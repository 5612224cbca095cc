import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseStacdConf } from './stacd-conf.js';

const FILE = '/etc/stas/stacd.conf';
const parse = (text: string) => parseStacdConf(text, FILE);
const IOC = 'I/O controller connection management';

describe('parseStacdConf defaults', () => {
  const { config, diagnostics } = parse('');

  it('applies every documented default to an empty file, without diagnostics', () => {
    expect(diagnostics).toEqual([]);
    expect(config.Global).toEqual({
      tron: false,
      'hdr-digest': false,
      'data-digest': false,
      kato: null,
      'queue-size': null,
      'reconnect-delay': null,
      'ctrl-loss-tmo': null,
      'disable-sqflow': false,
      'nr-io-queues': null,
      'nr-write-queues': null,
      'nr-poll-queues': null,
      'ignore-iface': false,
      'ip-family': [4, 6],
    });
    expect(config[IOC]).toEqual({
      'disconnect-scope': 'only-stas-connections',
      'disconnect-trtypes': ['tcp'],
      'connect-attempts-on-ncc': 0,
    });
  });

  it('gives the shipped stacd.conf exactly the defaults, without diagnostics', () => {
    const shipped = readFileSync(new URL('../../../../etc/stas/stacd.conf', import.meta.url), 'utf8');
    const parsed = parse(shipped);
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.config).toEqual(config);
  });
});

describe('parseStacdConf values', () => {
  it('reads valid values of the stacd-only keys', () => {
    const { config, diagnostics } = parse(`[Global]
kato = 120
nr-io-queues = 8
nr-write-queues = 6
nr-poll-queues = 4
[${IOC}]
disconnect-scope = all-connections-matching-disconnect-trtypes
disconnect-trtypes = tcp+rdma
connect-attempts-on-ncc = 5
`);
    expect(diagnostics).toEqual([]);
    expect(config.Global).toMatchObject({
      kato: 120,
      'nr-io-queues': 8,
      'nr-write-queues': 6,
      'nr-poll-queues': 4,
    });
    expect(config[IOC]).toEqual({
      'disconnect-scope': 'all-connections-matching-disconnect-trtypes',
      'disconnect-trtypes': ['tcp', 'rdma'],
      'connect-attempts-on-ncc': 5,
    });
  });

  it.each([
    ['disconnect-scope = everything', 'disconnect-scope', 'only-stas-connections'],
    ['disconnect-trtypes = pcie', 'disconnect-trtypes', ['tcp']],
    ['disconnect-trtypes', 'disconnect-trtypes', ['tcp']],
    ['connect-attempts-on-ncc = -1', 'connect-attempts-on-ncc', 0],
    ['connect-attempts-on-ncc = x', 'connect-attempts-on-ncc', 0],
  ])('falls back to the default for "%s" with an error', (line, key, expected) => {
    const { config, diagnostics } = parse(`[${IOC}]\n${line}\n`);
    expect((config[IOC] as Record<string, unknown>)[key]).toEqual(expected);
    expect(diagnostics).toMatchObject([{ severity: 'error', line: 2 }]);
  });

  it('raises connect-attempts-on-ncc = 1 to 2 with a warning', () => {
    const { config, diagnostics } = parse(`[${IOC}]\nconnect-attempts-on-ncc = 1\n`);
    expect(config[IOC]['connect-attempts-on-ncc']).toBe(2);
    expect(diagnostics).toMatchObject([{ severity: 'warning', line: 2 }]);
  });

  it('warns about stafd-only keys', () => {
    const { diagnostics } = parse('[Global]\npleo = enabled\n');
    expect(diagnostics).toMatchObject([{ severity: 'warning', line: 2 }]);
  });

  it('requires a subsystem NQN on controller lines and defaults the I/O port to 4420', () => {
    const { config, diagnostics } = parse(`[Controllers]
controller = transport=tcp;traddr=10.0.0.1
controller = transport=tcp;traddr=10.0.0.1;nqn=nqn.2014-08.com.example:s1;nr-io-queues=4
`);
    expect(diagnostics).toMatchObject([{ severity: 'error', line: 2 }]);
    expect(config.controllers).toHaveLength(1);
    expect(config.controllers[0]?.tid).toMatchObject({
      trsvcid: '4420',
      subsysnqn: 'nqn.2014-08.com.example:s1',
    });
    expect(config.controllers[0]?.options).toEqual({ 'nr-io-queues': 4 });
  });
});
