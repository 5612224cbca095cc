import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseStafdConf } from './stafd-conf.js';

const FILE = '/etc/stas/stafd.conf';
const parse = (text: string) => parseStafdConf(text, FILE);
const messages = (text: string) => parse(text).diagnostics.map((d) => `${d.line}:${d.severity}:${d.message}`);

describe('parseStafdConf defaults', () => {
  const { config, diagnostics } = parse('');

  it('applies every documented default to an empty file, without diagnostics', () => {
    expect(diagnostics).toEqual([]);
    expect(config.Global).toEqual({
      tron: false,
      'hdr-digest': false,
      'data-digest': false,
      kato: 30,
      'queue-size': null,
      'reconnect-delay': null,
      'ctrl-loss-tmo': null,
      'disable-sqflow': false,
      'ignore-iface': false,
      'ip-family': [4, 6],
      pleo: true,
    });
    expect(config['Service Discovery']).toEqual({ zeroconf: true });
    expect(config['Discovery controller connection management']).toEqual({
      'persistent-connections': true,
      'zeroconf-connections-persistence': 259200,
    });
    expect(config.Limits).toEqual({ 'max-discovery-controllers': 1024, 'max-log-page-entries': 65536 });
    expect(config.controllers).toEqual([]);
    expect(config.exclusions).toEqual([]);
  });

  it('gives the shipped stafd.conf exactly the defaults, without diagnostics', () => {
    const shipped = readFileSync(new URL('../../../../etc/stas/stafd.conf', import.meta.url), 'utf8');
    const parsed = parse(shipped);
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.config).toEqual(config);
  });
});

describe('parseStafdConf values', () => {
  it('reads valid values of every key', () => {
    const { config, diagnostics } = parse(`[Global]
tron = true
hdr-digest = true
data-digest = TRUE
kato = 10
queue-size = 64
reconnect-delay = 5
ctrl-loss-tmo = -1
disable-sqflow = yes
ignore-iface = true
ip-family = ipv6
pleo = disabled
[Service Discovery]
zeroconf = disabled
[Discovery controller connection management]
persistent-connections = false
zeroconf-connections-persistence = 10 seconds
`);
    expect(diagnostics).toEqual([]);
    expect(config.Global).toMatchObject({
      tron: true,
      'hdr-digest': true,
      'data-digest': true,
      kato: 10,
      'queue-size': 64,
      'reconnect-delay': 5,
      'ctrl-loss-tmo': -1,
      'disable-sqflow': true,
      'ignore-iface': true,
      'ip-family': [6],
      pleo: false,
    });
    expect(config['Service Discovery'].zeroconf).toBe(false);
    expect(config['Discovery controller connection management']).toEqual({
      'persistent-connections': false,
      'zeroconf-connections-persistence': 10,
    });
  });

  it.each([
    ['kato = abc', 'kato', 30],
    ['kato = -5', 'kato', 30],
    ['queue-size = 5', 'queue-size', null],
    ['queue-size = 2000', 'queue-size', null],
    ['ctrl-loss-tmo = -2', 'ctrl-loss-tmo', null],
    ['reconnect-delay = 0', 'reconnect-delay', null],
    ['hdr-digest = maybe', 'hdr-digest', false],
    ['ip-family = ipv4+ipv4', 'ip-family', [4, 6]],
    ['pleo = true', 'pleo', true],
    ['tron', 'tron', false],
  ])('falls back to the default for "%s", with an error naming the line', (line, key, expected) => {
    const { config, diagnostics } = parse(`# comment\n[Global]\n${line}\n`);
    expect((config.Global as Record<string, unknown>)[key]).toEqual(expected);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatchObject({ severity: 'error', file: FILE, line: 3 });
    expect(diagnostics[0]?.message).toContain(key);
    expect(diagnostics[0]?.message).toContain('using the default');
  });

  it('reads the [Limits] keys, at both ends of their ranges', () => {
    const low = parse('[Limits]\nmax-discovery-controllers = 1\nmax-log-page-entries = 1\n');
    expect(low.diagnostics).toEqual([]);
    expect(low.config.Limits).toEqual({ 'max-discovery-controllers': 1, 'max-log-page-entries': 1 });
    const high = parse('[Limits]\nMAX-DISCOVERY-CONTROLLERS = 65536\nmax-log-page-entries = 262144\n');
    expect(high.diagnostics).toEqual([]);
    expect(high.config.Limits).toEqual({
      'max-discovery-controllers': 65536,
      'max-log-page-entries': 262144,
    });
  });

  it.each([
    ['max-discovery-controllers = 0', 'max-discovery-controllers', 1024, '0 is not within 1..65536'],
    ['max-discovery-controllers = 65537', 'max-discovery-controllers', 1024, 'not within 1..65536'],
    ['max-discovery-controllers = lots', 'max-discovery-controllers', 1024, 'expected an integer'],
    ['max-log-page-entries = 262145', 'max-log-page-entries', 65536, 'not within 1..262144'],
    ['max-log-page-entries = -1', 'max-log-page-entries', 65536, 'not within 1..262144'],
    ['max-log-page-entries = 0x100', 'max-log-page-entries', 65536, 'expected an integer'],
    ['max-log-page-entries', 'max-log-page-entries', 65536, 'max-log-page-entries'],
  ])(
    'falls back to the [Limits] default for "%s", with an error naming the line',
    (line, key, expected, says) => {
      const { config, diagnostics } = parse(`[Global]\n[Limits]\n${line}\n`);
      expect((config.Limits as Record<string, unknown>)[key]).toBe(expected);
      expect(diagnostics).toHaveLength(1);
      expect(diagnostics[0]).toMatchObject({ severity: 'error', file: FILE, line: 3 });
      expect(diagnostics[0]?.message).toContain(`[Limits] ${key}`);
      expect(diagnostics[0]?.message).toContain(says);
      expect(diagnostics[0]?.message).toContain('using the default');
    },
  );

  it('warns about an unknown key in [Limits] and about limits put in [Global]', () => {
    expect(messages('[Limits]\nmax-dcs = 5\n[Global]\nmax-log-page-entries = 5\n')).toEqual([
      '2:warning:unknown key "max-dcs" in [Limits] ignored',
      '4:warning:unknown key "max-log-page-entries" in [Global] ignored (it belongs in [Limits])',
    ]);
  });

  it('rejects an unparsable or non-finite persistence and keeps 72 h', () => {
    for (const bad of ['forever', 'nan', 'inf', '1..5h', '']) {
      const { config, diagnostics } = parse(
        `[Discovery controller connection management]\nzeroconf-connections-persistence = ${bad}\n`,
      );
      expect(config['Discovery controller connection management']['zeroconf-connections-persistence']).toBe(
        259200,
      );
      expect(diagnostics.map((d) => d.severity)).toEqual(['error']);
    }
  });

  it('lets the last of repeated scalar keys win, with a warning', () => {
    const { config, diagnostics } = parse('[Global]\nkato = 10\nkato = 20\n');
    expect(config.Global.kato).toBe(20);
    expect(messages('[Global]\nkato = 10\nkato = 20\n')).toEqual([
      '3:warning:[Global] kato is set more than once; this line wins over line(s) 2',
    ]);
    expect(diagnostics).toHaveLength(1);
  });

  it('strips inline comments introduced by a blank and #', () => {
    const { config, diagnostics } = parse('[Global]\nkato = 7  # seven seconds\n');
    expect(diagnostics).toEqual([]);
    expect(config.Global.kato).toBe(7);
  });

  it('warns about unknown sections, keys, misplaced and retired keys', () => {
    expect(
      messages(`[global]
kato = 1
[Global]
nr-io-queues = 4
udev-rule = enabled
bogus = 1
[Nope]
`),
    ).toEqual([
      '1:warning:unknown section [global] ignored (did you mean [Global]? section names are case-sensitive)',
      '4:warning:unknown key "nr-io-queues" in [Global] ignored',
      `5:warning:"udev-rule" is no longer used: stas does not override nvme-cli's udev rules; it records ownership in /run/nvme/registry instead`,
      '6:warning:unknown key "bogus" in [Global] ignored',
      '7:warning:unknown section [Nope] ignored',
    ]);
  });

  it('honours the pre-2.1 [Global] persistent-connections with a warning', () => {
    const { config, diagnostics } = parse('[Global]\npersistent-connections = false\n');
    expect(config['Discovery controller connection management']['persistent-connections']).toBe(false);
    expect(diagnostics.every((d) => d.severity === 'warning')).toBe(true);
    expect(diagnostics.map((d) => d.message).join('\n')).toContain('move it there');
  });

  it('never throws on text before the first section', () => {
    const { config, diagnostics } = parse('kato = 5\n[Global]\n');
    expect(config.Global.kato).toBe(30);
    expect(diagnostics[0]).toMatchObject({ severity: 'warning', line: 1 });
  });
});

describe('parseStafdConf [Controllers]', () => {
  it('reads controllers with defaults and overrides', () => {
    const { config, diagnostics } = parse(`[Controllers]
controller = transport=tcp;traddr=192.168.1.20
controller = transport=tcp;traddr=FE80::1%eth1;trsvcid=8010;kato=60;hdr-digest=true
`);
    expect(diagnostics).toEqual([]);
    expect(config.controllers).toHaveLength(2);
    const [first, second] = config.controllers;
    expect(first?.tid).toMatchObject({
      transport: 'tcp',
      traddr: '192.168.1.20',
      trsvcid: '8009',
      subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery',
    });
    expect(first?.options).toEqual({});
    expect(first?.line).toBe(2);
    expect(second?.tid).toMatchObject({ traddr: 'fe80::1%eth1', trsvcid: '8010' });
    expect(second?.options).toEqual({ kato: 60, 'hdr-digest': true });
  });

  it('keeps DH-HMAC-CHAP secrets containing = as redacted secrets', () => {
    const secret = 'DHHC-1:01:dGVzdHNlY3JldHRlc3RzZWNyZXQ=:';
    const { config, diagnostics } = parse(
      `[Controllers]\ncontroller = transport=tcp;traddr=1.1.1.1;dhchap-secret=${secret}\n`,
    );
    expect(diagnostics).toEqual([]);
    expect(config.controllers[0]?.dhchapSecret?.reveal()).toBe(secret);
    expect(JSON.stringify(config.controllers[0])).not.toContain('dGVzdHNl');
  });

  it('reports an invalid override and lets the [Global] value apply', () => {
    const { config, diagnostics } = parse(
      '[Controllers]\ncontroller = transport=tcp;traddr=2.2.2.2;kato=abc;queue-size=5;nr-io-queues=4\n',
    );
    expect(config.controllers[0]?.options).toEqual({});
    expect(diagnostics.map((d) => [d.severity, d.line])).toEqual([
      ['error', 2],
      ['error', 2],
      ['warning', 2],
    ]);
  });

  it('skips a controller line it cannot use, naming the line, and keeps the others', () => {
    const { config, diagnostics } = parse(
      '[Controllers]\ncontroller = traddr=1.1.1.1\ncontroller\ncontroller = transport=tcp;traddr=3.3.3.3\n',
    );
    expect(config.controllers.map((c) => c.tid.traddr)).toEqual(['3.3.3.3']);
    expect(diagnostics.filter((d) => d.severity === 'error').map((d) => d.line)).toEqual([2, 3]);
  });

  it('ignores an empty exclude= instead of excluding everything', () => {
    const { config, diagnostics } = parse('[Controllers]\nexclude =\n\nexclude = traddr=10.10.10.10\n');
    expect(config.exclusions).toHaveLength(1);
    expect(Object.fromEntries(config.exclusions[0]?.filter ?? [])).toEqual({ traddr: '10.10.10.10' });
    expect(diagnostics).toMatchObject([{ severity: 'warning', line: 2 }]);
  });

  it('reads exclude lines with inline comments, and blacklist= as exclude=', () => {
    const { config, diagnostics } = parse(
      '[Controllers]\nexclude = host-iface=enp0s8  # lab network\nblacklist = traddr=1.2.3.4\n',
    );
    expect(config.exclusions.map((e) => Object.fromEntries(e.filter))).toEqual([
      { 'host-iface': 'enp0s8' },
      { traddr: '1.2.3.4' },
    ]);
    expect(diagnostics).toMatchObject([{ severity: 'warning', line: 3 }]);
  });
});
