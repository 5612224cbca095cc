import { describe, expect, it } from 'vitest';
import { createTid } from '@stas/common/nvme/tid';
import { pickAddress, resolveConfigured, type Lookup } from './resolve-configured.js';

const tid = (traddr: string) => createTid({ transport: 'tcp', traddr }, { role: 'discovery' });

describe('pickAddress', () => {
  const both = [
    { address: '2001:db8::1', family: 6 },
    { address: '192.0.2.1', family: 4 },
    { address: '192.0.2.2', family: 4 },
  ];
  it('takes the first IPv4 address when IPv4 is enabled, else the first IPv6 one', () => {
    expect(pickAddress(both, [4, 6])).toBe('192.0.2.1');
    expect(pickAddress(both, [6])).toBe('2001:db8::1');
    expect(pickAddress([{ address: '2001:db8::1', family: 6 }], [4])).toBeNull();
  });
});

describe('resolveConfigured', () => {
  const lookup: Lookup = (name) =>
    name === 'dc.example'
      ? Promise.resolve([{ address: '192.0.2.7', family: 4 }])
      : name === 'slow.example'
        ? new Promise(() => undefined)
        : Promise.reject(new Error(`${name}: ENOTFOUND`));

  it('keeps IP literals, resolves host names, and reports names that fail as unknown (tid null)', async () => {
    const result = await resolveConfigured(
      [
        { tid: tid('192.0.2.1'), line: 1 },
        { tid: tid('dc.example'), line: 2 },
        { tid: tid('gone.example'), line: 3 },
        { tid: tid('slow.example'), line: 4 },
      ],
      { lookup, timeoutMs: 20, ipFamily: [4, 6] },
    );
    expect(result.configured.map((c) => [c.tid?.traddr ?? null, c.configuredAddress, c.line])).toEqual([
      ['192.0.2.1', '192.0.2.1', 1],
      ['192.0.2.7', 'dc.example', 2],
      [null, 'gone.example', 3],
      [null, 'slow.example', 4],
    ]);
    expect(result.problems.map((p) => p.line)).toEqual([3, 4]);
    expect(result.problems[1]?.message).toContain('no answer within 20 ms');
  });

  it('gives up at once when the signal is aborted', async () => {
    const ctl = new AbortController();
    ctl.abort();
    const result = await resolveConfigured([{ tid: tid('slow.example'), line: 1 }], {
      lookup,
      timeoutMs: 60_000,
      ipFamily: [4],
      signal: ctl.signal,
    });
    expect(result.configured[0]?.tid).toBeNull();
    expect(result.problems[0]?.message).toContain('cancelled');
  });
});
