import { describe, expect, it } from 'vitest';
import { BusError } from '@stas/common/dbus/bus-error';
import type { ExplainJson } from '../dbus/controller-dicts.js';
import { renderExplain } from './explain-command.js';
import { failureText } from './stacd-client.js';
import { runStacctl } from './stacctl.js';

async function stacctl(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await runStacctl(argv, {
    env: { DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/stas-test-bus' },
    out: (t) => (out += t),
    err: (t) => (err += t),
  });
  return { status, out, err };
}

describe('stacctl', () => {
  it('prints help listing every verb, and the version, without any file or bus', async () => {
    const help = await stacctl('--help');
    expect(help.status).toBe(0);
    for (const verb of ['ls', 'status', 'explain', 'tron', 'troff']) expect(help.out).toContain(`  ${verb}`);
    expect(await stacctl('-v')).toEqual({ status: 0, out: 'stacctl (stas) 0.1.0\n', err: '' });
  });

  it('is a usage error (2) without a command, with an unknown command, option or verb option', async () => {
    for (const argv of [
      [],
      ['frobnicate'],
      ['--bogus'],
      ['ls', '--bogus'],
      ['tron', 'extra'],
      ['--bus-address'],
    ]) {
      const r = await stacctl(...argv);
      expect(r.status, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(/^stacctl: .*\nTry 'stacctl( \w+)? --help'\.\n$/);
    }
  });

  it('prints each verb its own help', async () => {
    for (const verb of ['ls', 'status', 'explain', 'tron', 'troff']) {
      const r = await stacctl(verb, '--help');
      expect(r.status, verb).toBe(0);
      expect(r.out).toMatch(new RegExp(`^usage: stacctl ${verb}`));
    }
  });

  it('fails with one clear line and status 1 when the bus cannot be reached', async () => {
    const r = await stacctl('--bus-address', 'unix:path=/nonexistent/other-bus', 'ls', '--json');
    expect(r.status).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^stacctl: cannot reach D-Bus: .*other-bus.*\n$/);
  });
});

describe('failureText', () => {
  it('tells "not running" from "access denied" from the rest', () => {
    const at = 'unix:path=/run/dbus/system_bus_socket';
    expect(failureText(new BusError('DBUS_SERVICE_UNKNOWN', 'x'), at)).toBe(
      `stacd is not running (nobody owns org.nvmexpress.stac on ${at})`,
    );
    expect(
      failureText(new BusError('DBUS_ACCESS_DENIED', 'x', { remoteText: 'Rejected send message' }), at),
    ).toMatch(/^access denied by the D-Bus policy: Rejected send message \(changing tron needs root\)$/);
    expect(failureText(new BusError('DBUS_TIMEOUT', 'x'), at)).toMatch(/did not answer/);
    expect(failureText(new BusError('DBUS_UNKNOWN_MEMBER', 'x'), at)).toMatch(/does not offer/);
    expect(failureText(new BusError('DBUS_REMOTE_ERROR', 'boom'), at)).toBe('D-Bus error: boom');
    expect(failureText(new Error('plain'), at)).toBe('plain');
  });
});

describe('renderExplain', () => {
  const plan: ExplainJson = {
    version: 1,
    time: '2026-11-21T10:00:00.000Z',
    fresh: true,
    'dry-run': false,
    stafd: { state: 'not-running', detail: 'no owner', pages: [] },
    policy: {
      'disconnect-scope': 'only-stas-connections',
      'disconnect-trtypes': ['tcp'],
      'ip-family': 'ipv4+ipv6',
      'ignore-iface': false,
      'connect-attempts-on-ncc': 0,
    },
    summary: { connect: 0, adopt: 0, keep: 1, disconnect: 0, skip: 0 },
    actions: [
      {
        action: 'keep',
        reason: 'stafd-unavailable',
        detail: 'nvme0 is not configured, and stafd cannot tell whether it is discovered (not-running): kept',
        key: 'k',
        origin: '',
        device: 'nvme0',
        owner: 'stas',
        transport: 'tcp',
        traddr: 'fd00::1',
        trsvcid: '4420',
        subsysnqn: 'nqn.x:1',
        'host-traddr': '',
        'host-iface': 'eth0',
        'host-nqn': 'nqn.h',
        'discovered-by': [],
        line: null,
        state: 'connected',
        attempts: 0,
        'last-error': '',
      },
    ],
  };

  it('shows stafd, the policy and one row per controller', () => {
    const text = renderExplain(plan);
    expect(text).toContain('stafd:  not-running (no owner): nothing is disconnected for want of information');
    expect(text).toContain(
      'disconnect-scope=only-stas-connections disconnect-trtypes=tcp ip-family=ipv4+ipv6',
    );
    expect(text).toMatch(
      /keep +stafd-unavailable +nvme0 +tcp \[fd00::1\]:4420 nqn\.x:1 via eth0 +nvme0 is not configured/,
    );
  });

  it('says so when there is nothing to decide', () => {
    expect(renderExplain({ ...plan, actions: [] })).toContain('nothing to decide');
  });
});
