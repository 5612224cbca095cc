import { describe, expect, it } from 'vitest';
import { settle } from '@stas/common/nvme/session/fake-clock';
import type { DiscoverySessionOptions } from '@stas/common/nvme/session/discovery-session';
import type { InterfaceTable } from '@stas/common/nvme/session/endpoint';
import { pacedOpen } from './open-pacer.js';
import { FakeOpener } from './test-support.js';

const HOST = {
  hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001',
  hostid: '00000000-0000-4000-8000-000000000001',
};

function options(i: number, extra: Partial<DiscoverySessionOptions> = {}): DiscoverySessionOptions {
  return { ...HOST, traddr: `192.0.2.${i}`, trsvcid: 8009, ...extra };
}

describe('pacedOpen', () => {
  it('starts at most perTurn opens per event-loop turn, the rest in order in the next turns', async () => {
    const opener = new FakeOpener();
    const pacer = pacedOpen(opener.open, 3);
    const opened = Array.from({ length: 7 }, (_, i) => pacer.open(options(i), {}));
    expect(opener.attempts).toHaveLength(3);
    expect(pacer.waiting).toBe(4);
    await settle();
    expect(opener.attempts).toHaveLength(6);
    await settle();
    expect(opener.attempts.map((o) => o.traddr)).toEqual(Array.from({ length: 7 }, (_, i) => `192.0.2.${i}`));
    expect(pacer.waiting).toBe(0);
    const sessions = await Promise.all(opened);
    expect(sessions).toEqual(opener.sessions);
  });

  it('gives each new turn a fresh allowance', async () => {
    const opener = new FakeOpener();
    const pacer = pacedOpen(opener.open, 2);
    await Promise.all([pacer.open(options(1), {}), pacer.open(options(2), {})]);
    await settle();
    await settle();
    void pacer.open(options(3), {});
    void pacer.open(options(4), {});
    expect(opener.attempts).toHaveLength(4);
    expect(pacer.waiting).toBe(0);
  });

  it('rejects a waiting open whose signal aborts with the reason, and never starts it', async () => {
    const opener = new FakeOpener();
    const pacer = pacedOpen(opener.open, 1);
    const first = pacer.open(options(1), {});
    const ctl = new AbortController();
    const second = pacer.open(options(2), { signal: ctl.signal });
    const reason = new Error('runner stopped');
    ctl.abort(reason);
    await expect(second).rejects.toBe(reason);
    expect(pacer.waiting).toBe(0);
    await settle();
    await settle();
    expect(opener.attempts.map((o) => o.traddr)).toEqual(['192.0.2.1']);
    await first;
  });

  it('rejects at once when the signal is already aborted', async () => {
    const opener = new FakeOpener();
    const pacer = pacedOpen(opener.open, 4);
    const reason = new Error('gone');
    await expect(pacer.open(options(1), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(opener.attempts).toEqual([]);
  });

  it('passes failures of the wrapped open through, for waiting opens too', async () => {
    const opener = new FakeOpener();
    opener.fail = new Error('connection refused');
    const pacer = pacedOpen(opener.open, 1);
    const results = await Promise.allSettled([pacer.open(options(1), {}), pacer.open(options(2), {})]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(opener.attempts).toHaveLength(2);
  });

  it('turns an interface table reader that throws into a rejected open', async () => {
    const opener = new FakeOpener();
    const pacer = pacedOpen(opener.open, 1, () => {
      throw new Error('uv_interface_addresses failed');
    });
    const first = pacer.open(options(1, { hostIface: 'eth0' }), {});
    const second = pacer.open(options(2, { hostIface: 'eth0' }), {});
    await expect(first).rejects.toThrow('uv_interface_addresses failed');
    await expect(second).rejects.toThrow('uv_interface_addresses failed');
    expect(opener.attempts).toEqual([]);
  });

  it('reads the interface table once per turn, only for opens pinned to an interface without one', async () => {
    const opener = new FakeOpener();
    const table: InterfaceTable = { eth0: [] };
    let reads = 0;
    const pacer = pacedOpen(opener.open, 2, () => {
      reads++;
      return table;
    });
    const own: InterfaceTable = { eth1: [] };
    void pacer.open(options(1, { hostIface: 'eth0' }), {});
    void pacer.open(options(2, { hostIface: 'eth0' }), {});
    void pacer.open(options(3), {});
    void pacer.open(options(4, { hostIface: 'eth1', interfaces: own }), {});
    void pacer.open(options(5, { hostIface: 'eth0' }), {});
    expect(reads).toBe(1);
    await settle();
    await settle();
    await settle();
    expect(reads).toBe(2);
    expect(opener.attempts.map((o) => o.interfaces)).toEqual([table, table, undefined, own, table]);
  });
});
