import { describe, expect, it } from 'vitest';
import packet from 'dns-packet';
import { encodeQuery, nameLabels } from './mdns-query.js';

const SVC = '_nvme-disc._tcp.local';
const text = (labels: Uint8Array[] | null) => labels?.map((l) => Buffer.from(l).toString());

describe('nameLabels', () => {
  it('keeps an instance label with dots whole', () => {
    expect(text(nameLabels(`DC.rack1 (v1.2).${SVC}`, SVC))).toEqual([
      'DC.rack1 (v1.2)',
      '_nvme-disc',
      '_tcp',
      'local',
    ]);
    expect(text(nameLabels(`dc.${SVC.toUpperCase()}`, SVC))).toEqual(['dc', '_nvme-disc', '_tcp', 'local']);
  });

  it('splits other names at dots and refuses unencodable ones', () => {
    expect(text(nameLabels('host.local', SVC))).toEqual(['host', 'local']);
    expect(text(nameLabels(SVC, SVC))).toEqual(['_nvme-disc', '_tcp', 'local']);
    expect(nameLabels(`${'x'.repeat(64)}.${SVC}`, SVC)).toBeNull();
    expect(nameLabels('a..local', SVC)).toBeNull();
    expect(nameLabels(`${'abcdefgh.'.repeat(30)}local`, SVC)).toBeNull();
  });
});

describe('encodeQuery', () => {
  it('encodes questions and known answers that dns-packet decodes back', () => {
    const bytes = encodeQuery(
      [
        { name: SVC, type: 'PTR' },
        { name: 'h.local', type: 'AAAA' },
      ],
      [{ name: SVC, target: `DC.${SVC}`, ttl: 3000 }],
      SVC,
    );
    const decoded = packet.decode(Buffer.from(bytes!));
    expect(decoded.type).toBe('query');
    expect(decoded.id).toBe(0);
    expect(decoded.questions).toEqual([
      { name: SVC, type: 'PTR', class: 'IN' },
      { name: 'h.local', type: 'AAAA', class: 'IN' },
    ]);
    expect(decoded.answers).toEqual([
      expect.objectContaining({ name: SVC, type: 'PTR', ttl: 3000, data: `DC.${SVC}`, flush: false }),
    ]);
  });

  it('writes an instance label containing dots as one label on the wire', () => {
    const bytes = encodeQuery([{ name: `A.B.${SVC}`, type: 'SRV' }], [], SVC)!;
    // header (12 bytes), then the length of the first label: "A.B" = 3
    expect(bytes[12]).toBe(3);
    expect(Buffer.from(bytes.subarray(13, 16)).toString()).toBe('A.B');
  });

  it('leaves out what cannot be encoded, and answers beyond the size limit', () => {
    expect(encodeQuery([{ name: `${'x'.repeat(64)}.local`, type: 'A' }], [], SVC)).toBeNull();
    const answers = Array.from({ length: 50 }, (_, i) => ({ name: SVC, target: `DC ${i}.${SVC}`, ttl: 100 }));
    const bytes = encodeQuery([{ name: SVC, type: 'PTR' }], answers, SVC, 512)!;
    expect(bytes.length).toBeLessThanOrEqual(512);
    const decoded = packet.decode(Buffer.from(bytes));
    expect(decoded.answers!.length).toBeGreaterThan(0);
    expect(decoded.answers!.length).toBeLessThan(50);
  });
});
