import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import packet from 'dns-packet';
import { checkRecord, checkResponse } from './mdns-records.js';

describe('mDNS record checks on hostile input', () => {
  it('never throw on arbitrary values', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const check = checkRecord(value);
        expect(['record', 'ignored', 'invalid']).toContain(check.kind);
        expect(typeof checkResponse(value, 5353).ok).toBe('boolean');
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it('never throw on records shaped like dns-packet output with arbitrary fields', () => {
    const type = fc.constantFrom('PTR', 'SRV', 'TXT', 'A', 'AAAA');
    const data = fc.oneof(
      fc.string(),
      fc.record({
        port: fc.anything(),
        target: fc.anything(),
        priority: fc.anything(),
        weight: fc.anything(),
      }),
      fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string())),
      fc.anything(),
    );
    fc.assert(
      fc.property(type, fc.string(), fc.anything(), data, (t, name, ttl, d) => {
        const check = checkRecord({ type: t, class: 'IN', name, ttl, flush: false, data: d });
        if (check.kind === 'record') {
          expect(check.record.ttl).toBeGreaterThanOrEqual(0);
          expect(check.record.name.length).toBeGreaterThan(0);
        }
      }),
      { seed: 42, numRuns: 1000 },
    );
  });

  it('accept or refuse whatever dns-packet decodes from mutated real packets, without throwing', () => {
    const valid = Buffer.from(
      packet.encode({
        type: 'response',
        answers: [
          { name: '_nvme-disc._tcp.local', type: 'PTR', ttl: 4500, data: 'DC._nvme-disc._tcp.local' },
          {
            name: 'DC._nvme-disc._tcp.local',
            type: 'SRV',
            ttl: 120,
            data: { port: 8009, target: 'h.local' },
          },
          { name: 'DC._nvme-disc._tcp.local', type: 'TXT', ttl: 4500, data: ['p=tcp'] },
          { name: 'h.local', type: 'A', ttl: 120, data: '10.0.0.1' },
        ],
      }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        (edits) => {
          const bytes = Buffer.from(valid);
          for (const [offset, value] of edits) bytes[offset] = value;
          let decoded: unknown;
          try {
            decoded = packet.decode(bytes);
          } catch {
            return; // multicast-dns drops what dns-packet cannot decode
          }
          const check = checkResponse(decoded, 5353);
          if (check.ok)
            for (const record of check.records) expect(record.lname).toBe(record.lname.toLowerCase());
        },
      ),
      { seed: 42, numRuns: 1000 },
    );
  });
});
