import { describe, expect, it } from 'vitest';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { withLogEntryLimit, type LogEntryLimit } from './log-entry-limit.js';
import { FakeOpener } from './test-support.js';

const OPTIONS = {
  hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001',
  hostid: '00000000-0000-4000-8000-000000000001',
  traddr: '192.0.2.1',
};
const ENTRIES = [1, 2, 3].map((i) => nvmeEntry({ traddr: '192.0.2.1', subnqn: `nqn.2024-01.io.test:${i}` }));

describe('withLogEntryLimit', () => {
  it('reads under the current limit, so a new limit applies to a session already open', async () => {
    const opener = new FakeOpener();
    opener.log = { entries: ENTRIES, genctr: 1n };
    let limit: LogEntryLimit = { maxEntries: 2, setting: '[Limits] max-log-page-entries' };
    const session = await withLogEntryLimit(opener.open, () => limit)(OPTIONS, {});
    await expect(session.readDiscoveryLog({ pleo: true })).rejects.toMatchObject({
      code: 'NVME_DLP_TOO_LARGE',
      message: expect.stringContaining('limit of 2 entries (set by [Limits] max-log-page-entries)'),
    });
    limit = { ...limit, maxEntries: 3 };
    const read = await session.readDiscoveryLog({ pleo: true });
    expect(read.entries).toEqual(ENTRIES);
    expect(opener.sessions[0]?.readOptions).toEqual([
      { pleo: true, maxEntries: 2, maxEntriesSetting: '[Limits] max-log-page-entries' },
      { pleo: true, maxEntries: 3, maxEntriesSetting: '[Limits] max-log-page-entries' },
    ]);
  });

  it('hands everything else through to the session', async () => {
    const opener = new FakeOpener();
    opener.dctype = 1;
    const session = await withLogEntryLimit(opener.open, () => ({ maxEntries: 10, setting: 'x' }))(
      OPTIONS,
      {},
    );
    const fake = opener.sessions[0];
    expect(session.identify).toBe(fake?.identify);
    expect(session.aenEnabled).toBe(true);
    await session.register({ symname: 'a' }, {});
    await session.deregister({ symname: 'b' }, {});
    expect(fake?.registrations).toEqual(['a']);
    expect(fake?.deregistrations).toEqual(['b']);
    await session.close();
    expect(fake?.closed).toBe(true);
    const events = [];
    for await (const event of session.events) events.push(event.kind);
    expect(events).toEqual(['close']);
  });

  it('passes a failed open through', async () => {
    const opener = new FakeOpener();
    opener.fail = new Error('refused');
    const open = withLogEntryLimit(opener.open, () => ({ maxEntries: 1, setting: 'x' }));
    await expect(open(OPTIONS, {})).rejects.toThrow('refused');
  });
});
