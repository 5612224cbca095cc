import { describe, expect, it } from 'vitest';
import { formatTid, tidMatchesFilter, WELL_KNOWN_DISCOVERY_NQN } from '../nvme/tid.js';
import { controllerFromSpec, exclusionFromSpec, parseControllerSpec } from './controller-spec.js';

const fieldsOf = (value: string): Record<string, string> =>
  Object.fromEntries(parseControllerSpec(value).fields);

/** Tokenise and build, as a daemon does. */
const controller = (value: string, role: 'discovery' | 'io' = 'discovery') =>
  controllerFromSpec(parseControllerSpec(value).fields, role);

describe('parseControllerSpec: worked examples of §1.4', () => {
  it('splits a long entry into identity fields and overrides, values untouched', () => {
    const value =
      'transport=tcp;traddr=100.100.100.200;host-iface=enp0s7;dhchap-ctrl-secret=super-secret;hdr-digest=true;' +
      'data-digest=true;nr-io-queues=8;nr-write-queues=6;nr-poll-queues=4;queue-size=400;kato=71;' +
      'reconnect-delay=13;ctrl-loss-tmo=666;disable-sqflow=true';
    const { fields, problems } = parseControllerSpec(value);
    expect(problems).toEqual([]);
    expect([...fields.keys()]).toEqual([
      'transport',
      'traddr',
      'host-iface',
      'dhchap-ctrl-secret',
      'hdr-digest',
      'data-digest',
      'nr-io-queues',
      'nr-write-queues',
      'nr-poll-queues',
      'queue-size',
      'kato',
      'reconnect-delay',
      'ctrl-loss-tmo',
      'disable-sqflow',
    ]);
    const built = controllerFromSpec(fields, 'discovery');
    expect(built.problems).toEqual([]);
    expect(built.tid).toMatchObject({
      transport: 'tcp',
      traddr: '100.100.100.200',
      trsvcid: '8009',
      subsysnqn: WELL_KNOWN_DISCOVERY_NQN,
      hostIface: 'enp0s7',
    });
    expect(Object.fromEntries(built.overrides)).toEqual({
      'dhchap-ctrl-secret': 'super-secret',
      'hdr-digest': 'true',
      'data-digest': 'true',
      'nr-io-queues': '8',
      'nr-write-queues': '6',
      'nr-poll-queues': '4',
      'queue-size': '400',
      kato: '71',
      'reconnect-delay': '13',
      'ctrl-loss-tmo': '666',
      'disable-sqflow': 'true',
    });
  });

  it('strips blanks around tokens, keys and values and ignores empty tokens', () => {
    const { fields, problems } = parseControllerSpec(' transport = tcp ; traddr = localhost ; ; ; kato=31; ');
    expect(problems).toEqual([]);
    expect(Object.fromEntries(fields)).toEqual({ transport: 'tcp', traddr: 'localhost', kato: '31' });
    expect(controllerFromSpec(fields, 'discovery').tid?.traddr).toBe('localhost');
  });

  it('renames nqn to subsysnqn', () => {
    expect(fieldsOf('transport=tcp;traddr=1.1.1.1;nqn=nqn.a')).toEqual({
      transport: 'tcp',
      traddr: '1.1.1.1',
      subsysnqn: 'nqn.a',
    });
  });

  it('passes override values on as text for the option layer to validate', () => {
    const built = controller(
      'transport=tcp;traddr=2.2.2.2;kato=abc;queue-size=5;hdr-digest=yes;data-digest=TRUE;ctrl-loss-tmo=-1',
    );
    expect(built.problems).toEqual([]);
    expect(Object.fromEntries(built.overrides)).toEqual({
      kato: 'abc',
      'queue-size': '5',
      'hdr-digest': 'yes',
      'data-digest': 'TRUE',
      'ctrl-loss-tmo': '-1',
    });
  });
});

describe('parseControllerSpec: tokens', () => {
  it('keeps values that contain = (DHCHAP secrets with padding; fixes C2)', () => {
    const { fields, problems } = parseControllerSpec(
      'transport=tcp;traddr=1.1.1.1;dhchap-secret=DHHC-1:01:abc==:',
    );
    expect(problems).toEqual([]);
    expect(fields.get('dhchap-secret')).toBe('DHHC-1:01:abc==:');
    expect(fieldsOf('key=val=extra')).toEqual({ key: 'val=extra' });
  });

  it('reports a token without =, and skips it', () => {
    const { fields, problems } = parseControllerSpec('transport=tcp;noequalsign;traddr=1.1.1.1');
    expect(problems).toEqual(["token 'noequalsign' has no '='"]);
    expect([...fields.keys()]).toEqual(['transport', 'traddr']);
  });

  it('never repeats a secret in a problem', () => {
    const { problems } = parseControllerSpec('DHHC-1:01:abc:;dhchap-secret DHHC-1:01:abc==:;=DHHC-1:00:xyz:');
    expect(problems).toEqual([
      "token <secret> has no '='",
      "token <secret> has an invalid key (letters, digits, '-' and '_' only)",
      'token <secret> has an empty key',
    ]);
  });

  it('reports an empty key', () => {
    const { fields, problems } = parseControllerSpec('=x;a=1');
    expect(problems).toEqual(["token '=x' has an empty key"]);
    expect(Object.fromEntries(fields)).toEqual({ a: '1' });
  });

  it('reports a key that is not a name', () => {
    const { fields, problems } = parseControllerSpec('trans port=tcp;tr.addr=1');
    expect(fields.size).toBe(0);
    expect(problems).toEqual([
      "token 'trans port=tcp' has an invalid key (letters, digits, '-' and '_' only)",
      "token 'tr.addr=1' has an invalid key (letters, digits, '-' and '_' only)",
    ]);
  });

  it('keeps an empty value', () => {
    expect(fieldsOf('a=')).toEqual({ a: '' });
  });

  it('folds keys to lower case, so Transport=TCP is not lost', () => {
    const { fields, problems } = parseControllerSpec('Transport=TCP;TRADDR=1.1.1.1');
    expect(problems).toEqual([]);
    expect(Object.fromEntries(fields)).toEqual({ transport: 'TCP', traddr: '1.1.1.1' });
    expect(controllerFromSpec(fields, 'discovery').tid?.transport).toBe('tcp');
  });

  it('reports a duplicate key and keeps the later value', () => {
    const { fields, problems } = parseControllerSpec('kato=1;transport=tcp;kato=2');
    expect(problems).toEqual(["key 'kato' is given more than once; the last value is used"]);
    expect(fields.get('kato')).toBe('2');
  });

  it.each(['transport=tcp;subsysnqn=nqn.s;nqn=nqn.n', 'transport=tcp;nqn=nqn.n;subsysnqn=nqn.s'])(
    'reports nqn plus subsysnqn and lets nqn win: %s',
    (value) => {
      const { fields, problems } = parseControllerSpec(value);
      expect(problems).toEqual(["both 'nqn' and 'subsysnqn' are given; 'nqn' is used"]);
      expect(Object.fromEntries(fields)).toEqual({ transport: 'tcp', subsysnqn: 'nqn.n' });
    },
  );

  it('explains , used as a separator', () => {
    const { fields, problems } = parseControllerSpec('transport=tcp,traddr=1.2.3.4');
    expect(fields.get('transport')).toBe('tcp,traddr=1.2.3.4');
    expect(problems).toEqual(["value of 'transport' contains ',traddr=': separate fields with ';', not ','"]);
    const built = controllerFromSpec(fields, 'discovery');
    expect(built.tid).toBeUndefined();
    expect(built.problems).toEqual(["transport 'tcp,traddr=1.2.3.4' is not tcp, rdma, fc or loop"]);
  });

  it('gives nothing and no problem for an empty value', () => {
    expect(parseControllerSpec('')).toEqual({ fields: new Map(), problems: [] });
    expect(parseControllerSpec(' ; ;')).toEqual({ fields: new Map(), problems: [] });
  });
});

describe('controllerFromSpec: identity', () => {
  it('defaults the port by role: tcp I/O 4420, tcp discovery 8009 (fixes F3)', () => {
    expect(controller('transport=tcp;traddr=1.1.1.1;nqn=nqn.x', 'io').tid?.trsvcid).toBe('4420');
    expect(controller('transport=tcp;traddr=1.1.1.1').tid?.trsvcid).toBe('8009');
    expect(controller('transport=tcp;traddr=1.1.1.1;trsvcid=').tid?.trsvcid).toBe('8009');
  });

  it('accepts fc and loop entries (fixes F4)', () => {
    const fc = controller('transport=fc;traddr=nn-0x1:pn-0x2;host-traddr=nn-0x3:pn-0x4;nqn=nqn.x', 'io');
    expect(fc.problems).toEqual([]);
    expect(fc.tid && formatTid(fc.tid)).toBe('(fc, nn-0x1:pn-0x2, , nqn.x, nn-0x3:pn-0x4)');
    const loop = controller('transport=loop;nqn=nqn.x', 'io');
    expect(loop.problems).toEqual([]);
    expect(loop.tid?.transport).toBe('loop');
  });

  it('canonicalises addresses', () => {
    const built = controller('transport=tcp;traddr=FE80::0001%eth0;host-traddr=::ffff:10.0.0.1');
    expect(built.tid?.traddr).toBe('fe80::1%eth0');
    expect(built.tid?.hostTraddr).toBe('10.0.0.1');
  });

  it('keeps host-nqn and host-id as identity', () => {
    const built = controller(
      'transport=tcp;traddr=1.1.1.1;host-nqn=nqn.h;host-id=ABCDEF00-1111-2222-3333-444444444444',
    );
    expect(built.problems).toEqual([]);
    expect(built.tid).toMatchObject({ hostNqn: 'nqn.h', hostId: 'abcdef00-1111-2222-3333-444444444444' });
  });

  it.each([
    ['traddr=1.1.1.1', 'transport= is missing (tcp, rdma, fc or loop)'],
    ['transport=pcie;traddr=1.1.1.1', "transport 'pcie' is not tcp, rdma, fc or loop"],
    ['transport=tcp', 'traddr= is required for tcp'],
    ['transport=fc;nqn=nqn.x', 'traddr= is required for fc'],
    ['transport=tcp;traddr=1.2.3', "traddr '1.2.3' is not an IP address or host name"],
    ['transport=tcp;traddr=256.1.1.1', "traddr '256.1.1.1' is not an IP address or host name"],
    ['transport=tcp;traddr=01.1.1.1', "traddr '01.1.1.1' is not an IP address or host name"],
    ['transport=rdma;traddr=fe80::1%', "traddr 'fe80::1%' is not an IP address or host name"],
    ['transport=tcp;traddr=0.0.0.0', "traddr '0.0.0.0' is the unspecified address"],
    ['transport=tcp;traddr=::', "traddr '::' is the unspecified address"],
    ['transport=tcp;traddr=1.1.1.1;trsvcid=0', "trsvcid '0' is not a port number (1..65535)"],
    ['transport=tcp;traddr=1.1.1.1;trsvcid=65536', "trsvcid '65536' is not a port number (1..65535)"],
    ['transport=tcp;traddr=1.1.1.1;trsvcid=http', "trsvcid 'http' is not a port number (1..65535)"],
    ['transport=tcp;traddr=1.1.1.1;nqn=a,b', "subsysnqn must not contain ',' or '='"],
    ['transport=tcp;traddr=1.1.1.1;nqn=a=b', "subsysnqn must not contain ',' or '='"],
    ['transport=tcp;traddr=1.1.1.1;host-nqn=a\u0007b', 'host-nqn must not contain control characters'],
    [`transport=tcp;traddr=1.1.1.1;nqn=${'n'.repeat(224)}`, 'subsysnqn is 224 bytes long; the limit is 223'],
    ['transport=tcp;traddr=1.1.1.1;host-id=not-a-uuid', "host-id 'not-a-uuid' is not a UUID"],
    ['transport=tcp;traddr=1.1.1.1;host-traddr=my.host', "host-traddr 'my.host' is not an IP address"],
    ['transport=fc;traddr=nn-1:pn-2;host-traddr=a,b', "host-traddr must not contain ',' or '='"],
    ['transport=tcp;traddr=1.1.1.1;host-iface=eth0:1', "host-iface 'eth0:1' is not a valid interface name"],
    [
      'transport=tcp;traddr=1.1.1.1;host-iface=averyveryverylongname',
      "host-iface 'averyveryverylongname' is not a valid interface name",
    ],
  ])('refuses %j: %s', (value, problem) => {
    const built = controller(value);
    expect(built.tid).toBeUndefined();
    expect(built.problems).toEqual([problem]);
  });

  it('allows an NQN of exactly 223 bytes, counted in UTF-8', () => {
    expect(controller(`transport=tcp;traddr=1.1.1.1;nqn=${'n'.repeat(223)}`).tid).toBeDefined();
    const built = controller(`transport=tcp;traddr=1.1.1.1;nqn=${'é'.repeat(112)}`);
    expect(built.problems).toEqual(['subsysnqn is 224 bytes long; the limit is 223']);
  });

  it('requires a subsysnqn for an I/O controller only', () => {
    const built = controller('transport=tcp;traddr=1.1.1.1', 'io');
    expect(built.tid).toBeUndefined();
    expect(built.problems).toEqual(['subsysnqn= (or nqn=) is required for an I/O controller']);
    expect(controller('transport=tcp;traddr=1.1.1.1', 'discovery').tid?.subsysnqn).toBe(
      WELL_KNOWN_DISCOVERY_NQN,
    );
  });

  it('reports every error of an entry at once', () => {
    const built = controller('transport=tcp;traddr=bad_name;trsvcid=x', 'io');
    expect(built.problems).toEqual([
      "traddr 'bad_name' is not an IP address or host name",
      "trsvcid 'x' is not a port number (1..65535)",
      'subsysnqn= (or nqn=) is required for an I/O controller',
    ]);
  });
});

describe('controllerFromSpec: warnings keep the entry', () => {
  it.each([
    ['transport=fc;traddr=nn-1:pn-2;trsvcid=4420', "trsvcid is not used with fc; '4420' is ignored"],
    ['transport=rdma;traddr=1.1.1.1;host-iface=eth0', 'host-iface is only used with tcp, not rdma'],
    [
      'transport=tcp;traddr=fe80::1',
      "traddr 'fe80::1' is link-local: add '%<interface>' or host-iface= to say which link",
    ],
    ['transport=tcp;traddr=1.1.1.1;colour=blue', "unknown key 'colour' in controller="],
    [
      'transport=tcp;traddr=1.1.1.1;host_iface=eth0',
      "unknown key 'host_iface' in controller= (did you mean 'host-iface'?)",
    ],
    ['transport=tcp;traddr=1.1.1.1;tron=true', "unknown key 'tron' in controller="],
  ])('%j: %s', (value, problem) => {
    const built = controller(value);
    expect(built.tid).toBeDefined();
    expect(built.problems).toEqual([problem]);
    expect(built.overrides.size).toBe(0);
  });

  it('does not warn about a link-local address with a scope or a host-iface', () => {
    expect(controller('transport=tcp;traddr=fe80::1%eth0').problems).toEqual([]);
    expect(controller('transport=tcp;traddr=fe80::1;host-iface=eth0').problems).toEqual([]);
  });

  it('still passes overrides on when the entry is refused', () => {
    const built = controller('transport=tcp;kato=5');
    expect(built.tid).toBeUndefined();
    expect(Object.fromEntries(built.overrides)).toEqual({ kato: '5' });
  });

  it('accepts a hand-built field map that still says nqn', () => {
    const built = controllerFromSpec(
      new Map([
        ['transport', 'tcp'],
        ['traddr', '1.1.1.1'],
        ['nqn', 'nqn.x'],
      ]),
      'io',
    );
    expect(built.problems).toEqual([]);
    expect(built.tid?.subsysnqn).toBe('nqn.x');
  });
});

describe('exclusionFromSpec', () => {
  const exclusion = (value: string) => exclusionFromSpec(parseControllerSpec(value).fields);

  it('builds a filter from TID fields, host-traddr included', () => {
    const { filter, problems } = exclusion('transport=tcp;traddr=1.1.1.1;nqn=nqn.x;host-traddr=2.2.2.2');
    expect(problems).toEqual([]);
    expect(Object.fromEntries(filter)).toEqual({
      transport: 'tcp',
      traddr: '1.1.1.1',
      subsysnqn: 'nqn.x',
      'host-traddr': '2.2.2.2',
    });
  });

  it('reports an empty entry, which matches nothing (fixes C5)', () => {
    const { filter, problems } = exclusion('');
    expect(filter.size).toBe(0);
    expect(problems).toEqual(['empty exclude= matches nothing; ignored']);
    const tid = controller('transport=tcp;traddr=1.1.1.1').tid;
    expect(tid && tidMatchesFilter(tid, filter)).toBe(false);
  });

  it('ignores an entry with a key that is not a TID field rather than widening it', () => {
    expect(exclusion('transport=tcp;kato=30')).toEqual({
      filter: new Map(),
      problems: ["'kato' cannot be used in exclude=; this exclude= entry is ignored"],
    });
    expect(exclusion('transport=tcp;adress=1.1.1.1')).toEqual({
      filter: new Map(),
      problems: ["unknown key 'adress' in exclude=; this exclude= entry is ignored"],
    });
  });

  it('reports an unknown transport', () => {
    const { filter, problems } = exclusion('transport=pcie');
    expect(filter.size).toBe(1);
    expect(problems).toEqual([
      "transport 'pcie' is not tcp, rdma, fc or loop; this exclude= entry matches nothing",
    ]);
  });

  it('excludes a controller configured without trsvcid by its defaulted port', () => {
    const tid = controller('transport=tcp;traddr=1.1.1.1').tid;
    const { filter } = exclusion('transport=tcp;traddr=1.1.1.1;trsvcid=8009');
    expect(tid && tidMatchesFilter(tid, filter)).toBe(true);
  });

  it('matches addresses canonically, unlike nvme-stas', () => {
    const tid = controller('transport=tcp;traddr=2001:db8::1;host-traddr=1.2.3.4').tid;
    expect(tid && tidMatchesFilter(tid, exclusion('traddr=2001:DB8:0:0::1').filter)).toBe(true);
    expect(tid && tidMatchesFilter(tid, exclusion('host-traddr=::ffff:1.2.3.4').filter)).toBe(true);
  });
});
