import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ConnectOptions } from '../config/connect-options.js';
import type { TidInput, TidRole } from '../nvme/tid.js';
import { createTid } from '../nvme/tid.js';
import { Secret } from '../util/secret.js';
import type { ConnectArgsInput } from './connect-args.js';
import {
  ConnectArgsError,
  MAX_CONNECT_STRING_BYTES,
  buildConnectArgs,
  redactConnectString,
} from './connect-args.js';
import { parseFabricsOptions } from './fabrics-options.js';

const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:ab493302-0738-4961-9973-2c6bc2c93697';
const HOSTID = '99b2aca3-bd1c-49ac-9884-a8c3eaccc265';
const WK = 'nqn.2014-08.org.nvmexpress.discovery';
const KERNEL_6_1 = parseFabricsOptions(
  'instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,queue_size=%d,nr_io_queues=%d,reconnect_delay=%d,' +
    'ctrl_loss_tmo=%d,keep_alive_tmo=%d,hostnqn=%s,host_traddr=%s,host_iface=%s,hostid=%s,duplicate_connect,' +
    'disable_sqflow,hdr_digest,data_digest,nr_write_queues=%d,nr_poll_queues=%d,tos=%d,fast_io_fail_tmo=%d,' +
    'discovery,dhchap_secret=%s,dhchap_ctrl_secret=%s\n',
);
const SECRET = 'DHHC-1:01:c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0ISE=:';
const CTRL_SECRET = 'DHHC-1:01:Y3RybCBzZWNyZXQgY3RybCBzZWNyZXQgY3RybCEhISE=:';

function tid(fields: Partial<TidInput>, role: TidRole = 'io') {
  return createTid(
    { transport: 'tcp', traddr: '192.168.1.20', hostNqn: HOSTNQN, hostId: HOSTID, ...fields },
    { role },
  );
}

function build(
  partial: Partial<ConnectArgsInput> & Pick<ConnectArgsInput, 'tid'>,
  options: Partial<ConnectOptions> = {},
) {
  return buildConnectArgs({ role: 'io', options, supported: KERNEL_6_1, ...partial });
}

function expectRefused(fn: () => unknown, code: string, field: string): ConnectArgsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectArgsError);
    const e = err as ConnectArgsError;
    expect({ code: e.code, field: e.field }).toEqual({ code, field });
    return e;
  }
  throw new Error('expected a ConnectArgsError');
}

describe('buildConnectArgs token order and content', () => {
  it('writes every I/O option in the documented order', () => {
    const args = build(
      {
        tid: tid({
          subsysnqn: 'nqn.2024-01.io.example:vol1',
          trsvcid: '4420',
          hostTraddr: '192.168.1.5',
          hostIface: 'eth0',
        }),
      },
      {
        kato: 10,
        'queue-size': 64,
        'nr-io-queues': 4,
        'nr-write-queues': 2,
        'nr-poll-queues': 1,
        'reconnect-delay': 5,
        'ctrl-loss-tmo': -1,
        'disable-sqflow': true,
        'hdr-digest': true,
        'data-digest': true,
      },
    );
    expect(args.text).toBe(
      'nqn=nqn.2024-01.io.example:vol1,transport=tcp,traddr=192.168.1.20,trsvcid=4420,host_traddr=192.168.1.5,' +
        `host_iface=eth0,hostnqn=${HOSTNQN},hostid=${HOSTID},keep_alive_tmo=10,queue_size=64,nr_io_queues=4,` +
        'nr_write_queues=2,nr_poll_queues=1,reconnect_delay=5,ctrl_loss_tmo=-1,disable_sqflow,hdr_digest,data_digest',
    );
    expect(args.redacted).toBe(args.text);
    expect(args.omitted).toEqual([]);
  });

  it('matches the behaviour spec example for a stafd discovery controller (minus host_iface order)', () => {
    const args = build(
      { tid: tid({ trsvcid: '8009', hostIface: 'eth0' }, 'discovery'), role: 'discovery' },
      { kato: 30, 'ctrl-loss-tmo': 600 },
    );
    expect(args.text).toBe(
      `nqn=${WK},transport=tcp,traddr=192.168.1.20,trsvcid=8009,host_iface=eth0,hostnqn=${HOSTNQN},hostid=${HOSTID},` +
        'keep_alive_tmo=30,ctrl_loss_tmo=600',
    );
  });

  it('leaves the I/O queue counts out for a discovery controller', () => {
    const args = build(
      { tid: tid({}, 'discovery'), role: 'discovery' },
      { 'nr-io-queues': 4, 'nr-write-queues': 2, 'nr-poll-queues': 1 },
    );
    expect(args.text).not.toMatch(/nr_/);
  });

  it('marks a discovery controller with a unique NQN with the discovery flag, last', () => {
    const args = build({
      tid: tid({ subsysnqn: 'nqn.2024-01.io.example:cdc' }, 'discovery'),
      role: 'discovery',
    });
    expect(args.text.split(',').at(-1)).toBe('discovery');
    expect(build({ tid: tid({}, 'discovery'), role: 'discovery' }).text).not.toMatch(/discovery$/);
  });

  it('really sends queue_size (nvme-stas dropped it)', () => {
    expect(
      build({ tid: tid({ subsysnqn: 'nqn.2024-01.io.example:v' }) }, { 'queue-size': 128 }).text,
    ).toContain(',queue_size=128');
  });

  it('leaves kato, reconnect_delay and queue counts out when null or 0 (kernel defaults)', () => {
    const args = build(
      { tid: tid({ subsysnqn: 'nqn.2024-01.io.example:v' }) },
      { kato: 0, 'reconnect-delay': null, 'nr-io-queues': null, 'queue-size': null, 'ctrl-loss-tmo': null },
    );
    expect(args.text).toBe(
      `nqn=nqn.2024-01.io.example:v,transport=tcp,traddr=192.168.1.20,trsvcid=4420,hostnqn=${HOSTNQN},hostid=${HOSTID}`,
    );
  });

  it('sends digests for tcp only and ctrl_loss_tmo for every transport but loop', () => {
    const rdma = build(
      {
        tid: createTid(
          { transport: 'rdma', traddr: '10.0.0.1', subsysnqn: 'nqn.2024-01.io.example:v' },
          { role: 'io' },
        ),
      },
      { 'hdr-digest': true, 'data-digest': true, 'ctrl-loss-tmo': 60 },
    );
    expect(rdma.text).toBe(
      'nqn=nqn.2024-01.io.example:v,transport=rdma,traddr=10.0.0.1,trsvcid=4420,ctrl_loss_tmo=60',
    );
    const loop = build(
      {
        tid: createTid(
          { transport: 'loop', traddr: '', subsysnqn: 'nqn.2024-01.io.example:v' },
          { role: 'io' },
        ),
      },
      { 'ctrl-loss-tmo': 60 },
    );
    expect(loop.text).toBe('nqn=nqn.2024-01.io.example:v,transport=loop');
  });

  it('writes fc addresses without a trsvcid', () => {
    const fc = build({
      tid: createTid(
        {
          transport: 'fc',
          traddr: 'nn-0x20000090fa942779:pn-0x10000090fa942779',
          hostTraddr: 'nn-0x20000090fae0b5f5:pn-0x10000090fae0b5f5',
          subsysnqn: 'nqn.2024-01.io.example:v',
        },
        { role: 'io' },
      ),
    });
    expect(fc.text).toBe(
      'nqn=nqn.2024-01.io.example:v,transport=fc,traddr=nn-0x20000090fa942779:pn-0x10000090fa942779,' +
        'host_traddr=nn-0x20000090fae0b5f5:pn-0x10000090fae0b5f5',
    );
  });
});

describe('buildConnectArgs host identity', () => {
  it("uses the TID's own host NQN and ID over the host default (fixes F2)", () => {
    const args = build({
      tid: tid({
        subsysnqn: 'nqn.2024-01.io.example:v',
        hostNqn: 'nqn.2024-01.io.example:other-host',
        hostId: '0f0e0d0c-0b0a-0908-0706-050403020100',
      }),
      host: { hostnqn: HOSTNQN, hostid: HOSTID },
    });
    expect(args.text).toContain(
      ',hostnqn=nqn.2024-01.io.example:other-host,hostid=0f0e0d0c-0b0a-0908-0706-050403020100',
    );
  });

  it('falls back to the host identity when the TID has none', () => {
    const args = build({
      tid: tid({ subsysnqn: 'nqn.2024-01.io.example:v', hostNqn: '', hostId: '' }),
      host: { hostnqn: HOSTNQN, hostid: HOSTID },
    });
    expect(args.text).toContain(`,hostnqn=${HOSTNQN},hostid=${HOSTID}`);
  });

  it('sends neither when there is no host identity at all (kernel default)', () => {
    const args = build({ tid: tid({ subsysnqn: 'nqn.2024-01.io.example:v', hostNqn: '', hostId: '' }) });
    expect(args.text).not.toMatch(/host(nqn|id)=/);
  });

  it('refuses a host NQN without a host ID, and the reverse', () => {
    expectRefused(
      () => build({ tid: tid({ subsysnqn: 'nqn.2024-01.io.example:v', hostId: '' }) }),
      'KERNEL_CONNECT_HOST_IDENTITY',
      'host-id',
    );
    expectRefused(
      () => build({ tid: tid({ subsysnqn: 'nqn.2024-01.io.example:v', hostNqn: '' }) }),
      'KERNEL_CONNECT_HOST_IDENTITY',
      'host-nqn',
    );
  });
});

describe('buildConnectArgs options the kernel lacks', () => {
  it('leaves unsupported options out and names them, but keeps the required ones', () => {
    const supported = new Set(['trsvcid', 'hostnqn', 'hostid', 'keep_alive_tmo']);
    const args = build(
      {
        tid: tid({ subsysnqn: 'nqn.2024-01.io.example:cdc', hostIface: 'eth0' }, 'discovery'),
        role: 'discovery',
        supported,
        secrets: { dhchapSecret: new Secret(SECRET) },
      },
      { kato: 30, 'hdr-digest': true },
    );
    expect(args.text).toBe(
      `nqn=nqn.2024-01.io.example:cdc,transport=tcp,traddr=192.168.1.20,trsvcid=8009,hostnqn=${HOSTNQN},hostid=${HOSTID},keep_alive_tmo=30`,
    );
    expect(args.omitted).toEqual(['host_iface', 'hdr_digest', 'dhchap_secret', 'discovery']);
  });
});

describe('buildConnectArgs secrets', () => {
  const secrets = { dhchapSecret: new Secret(SECRET), dhchapCtrlSecret: new Secret(CTRL_SECRET) };
  const args = build({ tid: tid({ subsysnqn: 'nqn.2024-01.io.example:v' }), secrets });

  it('writes both secrets (with their = padding) in the text', () => {
    expect(args.text).toMatch(new RegExp(`,dhchap_secret=${SECRET},dhchap_ctrl_secret=${CTRL_SECRET}$`));
  });

  it('redacts them in the log form', () => {
    expect(args.redacted).toMatch(/,dhchap_secret=\[redacted\],dhchap_ctrl_secret=\[redacted\]$/);
    expect(args.redacted).not.toContain('DHHC');
  });

  it('keeps the text out of JSON and inspect output of the result', () => {
    expect(JSON.stringify(args)).not.toContain('DHHC');
    expect(inspect(args, { depth: 5 })).not.toContain('DHHC');
    expect(Object.keys(args)).toEqual(['redacted', 'omitted']);
  });

  it('refuses a controller secret without a host secret', () => {
    expectRefused(
      () =>
        build({
          tid: tid({ subsysnqn: 'nqn.2024-01.io.example:v' }),
          secrets: { dhchapCtrlSecret: new Secret(CTRL_SECRET) },
        }),
      'KERNEL_CONNECT_CTRL_SECRET_ALONE',
      'dhchap-ctrl-secret',
    );
  });

  it('refuses an empty secret', () => {
    expectRefused(
      () =>
        build({
          tid: tid({ subsysnqn: 'nqn.2024-01.io.example:v' }),
          secrets: { dhchapSecret: new Secret('') },
        }),
      'KERNEL_CONNECT_ARG_MISSING',
      'dhchap-secret',
    );
  });

  it('never repeats a refused secret in the error message', () => {
    const bad = 'DHHC-1:01:abc,hostnqn=nqn.2024-01.evil:x:';
    const err = expectRefused(
      () =>
        build({
          tid: tid({ subsysnqn: 'nqn.2024-01.io.example:v' }),
          secrets: { dhchapSecret: new Secret(bad) },
        }),
      'KERNEL_CONNECT_ARG_UNSAFE',
      'dhchap-secret',
    );
    expect(err.message).not.toContain('abc');
  });
});

describe('buildConnectArgs refuses option injection', () => {
  const cases: [string, () => unknown, string][] = [
    [
      'a comma in traddr',
      () => build({ tid: tid({ subsysnqn: 'nqn.x:v', traddr: 'host1,hostnqn=evil' }) }),
      'traddr',
    ],
    [
      'a newline in the NQN',
      () => build({ tid: tid({ subsysnqn: 'nqn.x:v\nduplicate_connect' }) }),
      'subsysnqn',
    ],
    ['a NUL in the NQN', () => build({ tid: tid({ subsysnqn: 'nqn.x:v\u0000' }) }), 'subsysnqn'],
    [
      'a comma in trsvcid',
      () => build({ tid: tid({ subsysnqn: 'nqn.x:v', trsvcid: '4420,tos=1' }) }),
      'trsvcid',
    ],
    [
      'an = in host-iface',
      () => build({ tid: tid({ subsysnqn: 'nqn.x:v', hostIface: 'eth0=x' }) }),
      'host-iface',
    ],
    [
      'a tab in host-traddr',
      () => build({ tid: tid({ subsysnqn: 'nqn.x:v', hostTraddr: 'a\tb' }) }),
      'host-traddr',
    ],
    ['an = in the NQN', () => build({ tid: tid({ subsysnqn: 'nqn.x:v=1' }) }), 'subsysnqn'],
    [
      'a DEL in the host NQN',
      () => build({ tid: tid({ subsysnqn: 'nqn.x:v', hostNqn: 'nqn.x:h\u007f' }) }),
      'host-nqn',
    ],
    [
      'a comma in the fallback host ID',
      () =>
        build({
          tid: tid({ subsysnqn: 'nqn.x:v', hostNqn: '', hostId: '' }),
          host: { hostnqn: HOSTNQN, hostid: 'x,duplicate_connect' },
        }),
      'host-id',
    ],
    ['a space in traddr', () => build({ tid: tid({ subsysnqn: 'nqn.x:v', traddr: 'a b' }) }), 'traddr'],
  ];
  it.each(cases)('refuses %s', (_what, fn, field) => {
    expectRefused(fn, 'KERNEL_CONNECT_ARG_UNSAFE', field);
  });

  it('refuses a missing NQN or traddr', () => {
    expectRefused(
      () => build({ tid: createTid({ transport: 'tcp', traddr: '1.2.3.4' }, { role: 'io' }) }),
      'KERNEL_CONNECT_ARG_MISSING',
      'subsysnqn',
    );
    expectRefused(
      () => build({ tid: tid({ subsysnqn: 'nqn.x:v', traddr: '' }) }),
      'KERNEL_CONNECT_ARG_MISSING',
      'traddr',
    );
  });

  it('refuses numbers that are not integers or negative counts', () => {
    expectRefused(
      () => build({ tid: tid({ subsysnqn: 'nqn.x:v' }) }, { kato: 1.5 }),
      'KERNEL_CONNECT_ARG_BAD_NUMBER',
      'kato',
    );
    expectRefused(
      () => build({ tid: tid({ subsysnqn: 'nqn.x:v' }) }, { 'nr-io-queues': -2 }),
      'KERNEL_CONNECT_ARG_BAD_NUMBER',
      'nr-io-queues',
    );
    expectRefused(
      () => build({ tid: tid({ subsysnqn: 'nqn.x:v' }) }, { 'ctrl-loss-tmo': Number.NaN }),
      'KERNEL_CONNECT_ARG_BAD_NUMBER',
      'ctrl-loss-tmo',
    );
  });

  it('refuses a string longer than one page', () => {
    const nqn = `nqn.2024-01.io.example:${'v'.repeat(MAX_CONNECT_STRING_BYTES)}`;
    expectRefused(() => build({ tid: tid({ subsysnqn: nqn }) }), 'KERNEL_CONNECT_TOO_LONG', 'connect-string');
  });
});

describe('redactConnectString', () => {
  it('hides secret values anywhere in a connect string', () => {
    expect(
      redactConnectString(`nqn=a,dhchap_secret=${SECRET},dhchap_ctrl_secret=${CTRL_SECRET}\nhostnqn=x`),
    ).toBe('nqn=a,dhchap_secret=[redacted],dhchap_ctrl_secret=[redacted]\nhostnqn=x');
    expect(redactConnectString(`dhchap_secret=${SECRET}`)).toBe('dhchap_secret=[redacted]');
  });
});
