import { describe, expect, it } from 'vitest';
import packet from 'dns-packet';
import {
  checkRecord,
  checkResponse,
  isValidHostName,
  isValidName,
  lowerName,
  MAX_TTL_S,
  rdataKey,
  type MdnsRecord,
} from './mdns-records.js';

const base = { class: 'IN', ttl: 120, flush: false };
const record = (raw: Record<string, unknown>): MdnsRecord => {
  const check = checkRecord({ ...base, ...raw });
  if (check.kind !== 'record') throw new Error(`not a record: ${JSON.stringify(check)}`);
  return check.record;
};

describe('checkRecord', () => {
  it('keeps a PTR record with its target and a lower-case key', () => {
    expect(
      record({ name: '_nvme-disc._TCP.local', type: 'PTR', data: 'DC 1._nvme-disc._tcp.local' }),
    ).toEqual({
      type: 'PTR',
      name: '_nvme-disc._TCP.local',
      lname: '_nvme-disc._tcp.local',
      ttl: 120,
      flush: false,
      target: 'DC 1._nvme-disc._tcp.local',
    });
  });

  it('keeps an SRV record and refuses port 0, out-of-range numbers and bad targets', () => {
    const name = 'DC._nvme-disc._tcp.local';
    expect(
      record({ name, type: 'SRV', data: { port: 8009, target: 'h.local', priority: 1, weight: 2 } }),
    ).toMatchObject({
      type: 'SRV',
      port: 8009,
      host: 'h.local',
      priority: 1,
      weight: 2,
    });
    for (const data of [
      { port: 0, target: 'h.local' },
      { port: 65536, target: 'h.local' },
      { port: 1.5, target: 'h.local' },
      { port: 8009, target: '' },
      { port: 8009, target: `${'x'.repeat(64)}.local` },
      { port: 8009, target: 'h.local', priority: -1 },
      null,
    ]) {
      expect(checkRecord({ ...base, name, type: 'SRV', data }).kind).toBe('invalid');
    }
  });

  it('copies TXT strings out of the packet and refuses oversized or non-binary ones', () => {
    const buffer = Buffer.from('xxp=tcpyy');
    const txt = record({ name: 'DC._nvme-disc._tcp.local', type: 'TXT', data: [buffer.subarray(2, 7)] });
    expect(txt.type === 'TXT' && Buffer.from(txt.items[0]!).toString()).toBe('p=tcp');
    buffer.write('XX', 2);
    expect(txt.type === 'TXT' && Buffer.from(txt.items[0]!).toString()).toBe('p=tcp');
    expect(checkRecord({ ...base, name: 'a.local', type: 'TXT', data: ['p=tcp'] }).kind).toBe('invalid');
    expect(checkRecord({ ...base, name: 'a.local', type: 'TXT', data: [Buffer.alloc(256)] }).kind).toBe(
      'invalid',
    );
    expect(
      checkRecord({ ...base, name: 'a.local', type: 'TXT', data: Array(257).fill(Buffer.from('a')) }).kind,
    ).toBe('invalid');
  });

  it('keeps unicast addresses of the right family in canonical form', () => {
    expect(record({ name: 'h.local', type: 'A', data: '10.0.0.1' })).toMatchObject({ address: '10.0.0.1' });
    expect(record({ name: 'h.local', type: 'AAAA', data: 'FD00:0:0::1' })).toMatchObject({
      address: 'fd00::1',
    });
    expect(record({ name: 'h.local', type: 'AAAA', data: 'fe80::1' })).toMatchObject({ address: 'fe80::1' });
  });

  it('refuses loopback, unspecified, multicast, mapped and wrong-family addresses', () => {
    for (const [type, data] of [
      ['A', '127.0.0.1'],
      ['A', '0.0.0.0'],
      ['A', '224.0.0.251'],
      ['A', '255.255.255.255'],
      ['A', 'fd00::1'],
      ['A', 'not an address'],
      ['AAAA', '::1'],
      ['AAAA', '::'],
      ['AAAA', 'ff02::fb'],
      ['AAAA', '::ffff:10.0.0.1'],
      ['AAAA', '10.0.0.1'],
      ['AAAA', 'fe80::1%eth0'],
    ] as const) {
      expect(checkRecord({ ...base, name: 'h.local', type, data }), `${type} ${data}`).toMatchObject({
        kind: 'invalid',
      });
    }
    expect(record({ name: 'h.local', type: 'AAAA', data: 'ff::1' })).toMatchObject({ address: 'ff::1' });
  });

  it('clamps huge TTLs and refuses negative or fractional ones', () => {
    expect(record({ name: 'h.local', type: 'A', data: '10.0.0.1', ttl: 2 ** 31 }).ttl).toBe(MAX_TTL_S);
    expect(record({ name: 'h.local', type: 'A', data: '10.0.0.1', ttl: 0 }).ttl).toBe(0);
    expect(checkRecord({ ...base, name: 'h.local', type: 'A', data: '10.0.0.1', ttl: -1 }).kind).toBe(
      'invalid',
    );
    expect(checkRecord({ ...base, name: 'h.local', type: 'A', data: '10.0.0.1', ttl: 1.5 }).kind).toBe(
      'invalid',
    );
  });

  it('ignores other types and classes, and refuses things that are not records', () => {
    expect(checkRecord({ ...base, name: 'h.local', type: 'HINFO', data: {} })).toEqual({ kind: 'ignored' });
    expect(checkRecord({ ...base, class: 'CH', name: 'h.local', type: 'A', data: '10.0.0.1' })).toEqual({
      kind: 'ignored',
    });
    expect(checkRecord(null).kind).toBe('invalid');
    expect(checkRecord('PTR').kind).toBe('invalid');
  });

  it('reads the cache-flush bit', () => {
    expect(record({ name: 'h.local', type: 'A', data: '10.0.0.1', flush: true }).flush).toBe(true);
  });
});

describe('names', () => {
  it('accepts instance names with spaces, dots and UTF-8, and refuses control characters and empty labels', () => {
    expect(isValidName('DC one.rack1 (v1.2)._nvme-disc._tcp.local')).toBe(true);
    expect(isValidName('Contrôleur._nvme-disc._tcp.local')).toBe(true);
    expect(isValidName('bad\u0000name.local')).toBe(false);
    expect(isValidName('bad\uFFFDname.local')).toBe(false);
    expect(isValidName('a..local')).toBe(false);
    expect(isValidName('')).toBe(false);
    expect(isValidName('x'.repeat(255))).toBe(false);
    expect(isValidName(42)).toBe(false);
  });

  it('limits host name labels to 63 bytes', () => {
    expect(isValidHostName(`${'a'.repeat(63)}.local`)).toBe(true);
    expect(isValidHostName(`${'é'.repeat(32)}.local`)).toBe(false);
  });

  it('folds ASCII case only', () => {
    expect(lowerName('DC-É.Local')).toBe('dc-É.local');
  });
});

describe('rdataKey', () => {
  it('tells records with different data apart and ignores case in names', () => {
    const a = record({ name: 'x.local', type: 'PTR', data: 'A._nvme-disc._tcp.local' });
    const b = record({ name: 'x.local', type: 'PTR', data: 'a._NVME-disc._tcp.local' });
    expect(rdataKey(a)).toBe(rdataKey(b));
    const t1 = record({ name: 'x.local', type: 'TXT', data: [Buffer.from('p=tcp')] });
    const t2 = record({ name: 'x.local', type: 'TXT', data: [Buffer.from('p=rdma')] });
    expect(rdataKey(t1)).not.toBe(rdataKey(t2));
  });
});

describe('checkResponse', () => {
  const response = {
    type: 'response',
    opcode: 'QUERY',
    rcode: 'NOERROR',
    answers: [{ ...base, name: '_nvme-disc._tcp.local', type: 'PTR', data: 'DC._nvme-disc._tcp.local' }],
    additionals: [
      { ...base, name: 'h.local', type: 'A', data: '10.0.0.1' },
      { ...base, name: 'h.local', type: 'A', data: '127.0.0.1' },
      { ...base, name: 'h.local', type: 'NSEC', data: {} },
    ],
  };

  it('takes answers and additional records, counting the invalid ones', () => {
    const check = checkResponse(response, 5353);
    expect(check.ok && check.records.map((r) => r.type)).toEqual(['PTR', 'A']);
    expect(check.ok && check.invalid).toHaveLength(1);
  });

  it('refuses responses from another port, other opcodes, error rcodes and non-responses', () => {
    expect(checkResponse(response, 40000)).toMatchObject({ ok: false });
    expect(checkResponse({ ...response, opcode: 'UPDATE' }, 5353)).toMatchObject({ ok: false });
    expect(checkResponse({ ...response, rcode: 'NXDOMAIN' }, 5353)).toMatchObject({ ok: false });
    expect(checkResponse({ ...response, type: 'query' }, 5353)).toMatchObject({ ok: false });
    expect(checkResponse(null, 5353)).toMatchObject({ ok: false });
  });

  it('reads what dns-packet decodes from real bytes', () => {
    const bytes = packet.encode({
      type: 'response',
      flags: packet.AUTHORITATIVE_ANSWER,
      answers: [
        {
          name: 'DC._nvme-disc._tcp.local',
          type: 'SRV',
          ttl: 120,
          flush: true,
          data: { port: 8009, target: 'h.local' },
        },
        { name: 'DC._nvme-disc._tcp.local', type: 'TXT', ttl: 4500, data: ['p=tcp', 'nqn=x'] },
        { name: 'h.local', type: 'AAAA', ttl: 120, data: 'fe80::1' },
      ],
    });
    const check = checkResponse(packet.decode(bytes), 5353);
    expect(check.ok && check.records).toEqual([
      expect.objectContaining({ type: 'SRV', port: 8009, host: 'h.local', flush: true }),
      expect.objectContaining({ type: 'TXT', ttl: 4500 }),
      expect.objectContaining({ type: 'AAAA', address: 'fe80::1' }),
    ]);
  });

  it('looks at no more than 256 records of one packet', () => {
    const many = Array.from({ length: 300 }, () => ({
      ...base,
      name: 'h.local',
      type: 'A',
      data: '10.0.0.1',
    }));
    const check = checkResponse({ ...response, answers: many, additionals: [] }, 5353);
    expect(check.ok && check.records).toHaveLength(256);
  });
});
