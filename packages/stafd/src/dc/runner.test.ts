import { describe, expect, it } from 'vitest';
import { FakeClock, settle } from '@stas/common/nvme/session/fake-clock';
import { createTid } from '@stas/common/nvme/tid';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { NvmeStatusError } from '@stas/common/errors';
import { DcRunner, type DcSettings, type PageChange } from './runner.js';
import { FakeOpener, recordedLogger } from './test-support.js';

const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001';
const HOSTID = '00000000-0000-4000-8000-000000000001';
const TID = createTid(
  { transport: 'tcp', traddr: '192.0.2.1', trsvcid: '8009', hostNqn: HOSTNQN, hostId: HOSTID },
  { role: 'discovery' },
);
const A = nvmeEntry({ traddr: '192.0.2.10', subnqn: 'nqn.2024-01.io.test:a' });
const B = nvmeEntry({ traddr: '192.0.2.11', subnqn: 'nqn.2024-01.io.test:b' });

const SETTINGS: DcSettings = {
  symname: null,
  katoMs: 30_000,
  hdgst: false,
  ddgst: true,
  pleo: true,
  maxEntries: 1024,
  policy: {
    persistent: true,
    register: true,
    openBackoff: { fastMs: 1000, fastAttempts: 2, baseMs: 2000, capMs: 8000, jitter: 0 },
    readRetryMs: 20_000,
    registerRetryMs: 5000,
    pollMs: 60_000,
  },
};

function setup(settings: Partial<DcSettings> = {}, page?: ConstructorParameters<typeof DcRunner>[4]) {
  const clock = new FakeClock();
  const opener = new FakeOpener();
  const { log, lines } = recordedLogger();
  const changes: PageChange[] = [];
  const connected: boolean[] = [];
  const runner = new DcRunner(
    TID,
    { ...SETTINGS, ...settings },
    { openSession: opener.open, clock, random: () => 0.5, now: () => 1_700_000_000_000, log },
    {
      onPage: (_r, change) => changes.push(change),
      onConnectedChange: (r) => connected.push(r.connected),
    },
    page,
  );
  return { clock, opener, runner, changes, connected, lines };
}

describe('DcRunner', () => {
  it('opens a session with the TID identity and settings, then reads the log page', async () => {
    const { opener, runner, changes, connected } = setup();
    opener.log = { entries: [A], genctr: 5n };
    runner.start();
    await settle();
    expect(opener.attempts[0]).toMatchObject({
      traddr: '192.0.2.1',
      trsvcid: '8009',
      hostnqn: HOSTNQN,
      hostid: HOSTID,
      katoMs: 30_000,
      hdgst: false,
      ddgst: true,
    });
    expect(runner.state.phase).toBe('ready');
    expect(runner.page).toMatchObject({
      entries: [A],
      genctr: '5',
      stale: false,
      fetchedAt: 1_700_000_000_000,
    });
    expect(changes).toEqual([{ entriesChanged: true, previous: null, previousState: 'unknown' }]);
    expect(connected).toEqual([true]);
    await runner.stop();
  });

  it('re-reads on a discovery AEN and reports a change only when the entries differ', async () => {
    const { opener, runner, changes } = setup();
    opener.log = { entries: [A], genctr: 1n };
    runner.start();
    await settle();
    const session = opener.sessions[0];
    if (session === undefined) throw new Error('no session');

    session.log = { entries: [A], genctr: 2n };
    session.aen();
    await settle();
    expect(session.reads).toBe(2);
    expect(changes.map((c) => c.entriesChanged)).toEqual([true, false]);

    session.log = { entries: [A, B], genctr: 3n };
    session.aen();
    await settle();
    expect(changes.map((c) => c.entriesChanged)).toEqual([true, false, true]);
    expect(runner.page?.entries).toEqual([A, B]);
    expect(runner.snapshot().counters).toMatchObject({ logReads: 3, logChanges: 2, aens: 2 });
    await runner.stop();
  });

  it('queues one re-read for AENs that arrive during a read', async () => {
    const { opener, runner } = setup();
    opener.log = { entries: [A], genctr: 1n };
    runner.start();
    await settle();
    const session = opener.sessions[0];
    if (session === undefined) throw new Error('no session');
    session.hold = true;
    session.aen();
    await settle();
    session.aen();
    session.aen();
    await settle();
    session.release();
    await settle();
    expect(session.reads).toBe(3);
    expect(runner.state.phase).toBe('ready');
    await runner.stop();
  });

  it('drops placeholder entries and keeps the rest', async () => {
    const { opener, runner, lines } = setup();
    opener.log = { entries: [A, nvmeEntry({ traddr: '0.0.0.0', subnqn: 'nqn.x' })], genctr: 1n };
    runner.start();
    await settle();
    expect(runner.page?.entries).toEqual([A]);
    expect(lines.some((l) => l.msg === 'log entry dropped' && l['reason'] === 'wildcard-address')).toBe(true);
    await runner.stop();
  });

  it('reconnects after the session is lost, with the backoff delay, and keeps the page meanwhile', async () => {
    const { clock, opener, runner, connected } = setup();
    opener.log = { entries: [A], genctr: 1n };
    runner.start();
    await settle();
    opener.sessions[0]?.lose();
    await settle();
    expect(runner.state.phase).toBe('waiting');
    expect(runner.page?.entries).toEqual([A]);
    expect(connected).toEqual([true, false]);
    await clock.advance(999);
    expect(opener.attempts).toHaveLength(1);
    await clock.advance(1);
    expect(opener.attempts).toHaveLength(2);
    expect(runner.state.phase).toBe('ready');
    await runner.stop();
  });

  it('retries a failed open on its timer and leaves no timer after stop', async () => {
    const { clock, opener, runner, lines } = setup();
    opener.fail = new Error('connect ECONNREFUSED');
    runner.start();
    await settle();
    expect(runner.state).toMatchObject({ phase: 'waiting', openFailures: 1 });
    expect(runner.snapshot().timers['retry-open']).toEqual({ ms: 1000, dueAt: 1000 });
    await clock.advance(1000);
    expect(opener.attempts).toHaveLength(2);
    expect(lines.filter((l) => l.level === 40 && l.msg.startsWith('cannot connect'))).toHaveLength(1);
    await runner.stop();
    expect(clock.pending).toBe(0);
    expect(runner.state.phase).toBe('stopped');
  });

  it('registers with a DC that takes DIM, and deregisters at stop; stop is idempotent', async () => {
    const { opener, runner } = setup({ symname: 'host-a' });
    opener.dctype = 1;
    runner.start();
    await settle();
    const session = opener.sessions[0];
    expect(session?.registrations).toEqual(['host-a']);
    expect(runner.state.registered).toBe(true);
    await Promise.all([runner.stop(), runner.stop()]);
    expect(session?.deregistrations).toEqual(['host-a']);
    expect(session?.closed).toBe(true);
  });

  it('registers again on the same session when the symbolic name changes', async () => {
    const { opener, runner } = setup({ symname: 'one' });
    opener.dctype = 2;
    runner.start();
    await settle();
    runner.updateSettings({ ...SETTINGS, symname: 'two' });
    await settle();
    expect(opener.sessions).toHaveLength(1);
    expect(opener.sessions[0]?.registrations).toEqual(['one', 'two']);
    await runner.stop();
  });

  it('refuses a page above its entry limit naming the setting, and re-reads it at once when the limit is raised', async () => {
    const { opener, runner, lines } = setup({ maxEntries: 1 });
    opener.log = { entries: [A, B], genctr: 1n };
    runner.start();
    await settle();
    expect(runner.page).toBeNull();
    expect(runner.state.lastError).toMatchObject({
      code: 'NVME_DLP_TOO_LARGE',
      message: expect.stringContaining('limit of 1 entries (set by [Limits] max-log-page-entries)'),
    });
    expect(lines.some((l) => l.level === 40 && l.msg.includes('[Limits] max-log-page-entries'))).toBe(true);

    runner.updateSettings({ ...SETTINGS, maxEntries: 2 });
    await settle();
    expect(runner.page?.entries).toEqual([A, B]);
    expect(runner.state.lastError).toBeNull();
    expect(opener.sessions).toHaveLength(1);
    expect(opener.sessions[0]?.readOptions).toEqual([
      {
        pleo: true,
        maxEntries: 1,
        maxEntriesSetting: '[Limits] max-log-page-entries',
        signal: expect.anything(),
      },
      {
        pleo: true,
        maxEntries: 2,
        maxEntriesSetting: '[Limits] max-log-page-entries',
        signal: expect.anything(),
      },
    ]);
    await runner.stop();
  });

  it('applies a changed entry limit at the next read without reading again when no page was refused', async () => {
    const { opener, runner } = setup({ maxEntries: 5 });
    opener.log = { entries: [A, B], genctr: 1n };
    runner.start();
    await settle();
    runner.updateSettings({ ...SETTINGS, maxEntries: 10 });
    runner.updateSettings({ ...SETTINGS, maxEntries: 1 });
    await settle();
    const session = opener.sessions[0];
    expect(session?.reads).toBe(1);
    session?.aen();
    await settle();
    expect(session?.readOptions.map((o) => o.maxEntries)).toEqual([5, 1]);
    expect(runner.state.lastError?.code).toBe('NVME_DLP_TOO_LARGE');
    expect(runner.page?.entries).toEqual([A, B]);
    await runner.stop();
  });

  it('does not retry a registration refused with DNR, and still reads the log', async () => {
    const { clock, opener, runner } = setup();
    opener.dctype = 1;
    opener.log = { entries: [A], genctr: 1n };
    opener.registerError = new NvmeStatusError({ sct: 0, sc: 2, crd: 0, more: false, dnr: true }, 'refused');
    runner.start();
    await settle();
    expect(runner.snapshot().timers['retry-register']).toBeUndefined();
    expect(runner.state).toMatchObject({ phase: 'ready', registered: false, registerFailures: 1 });
    expect(runner.page?.entries).toEqual([A]);
    await clock.advance(60_000);
    expect(opener.sessions[0]?.registrations).toEqual([]);
    await runner.stop();
  });

  it('retries a registration that failed without DNR', async () => {
    const { clock, opener, runner } = setup();
    opener.dctype = 1;
    opener.registerError = new Error('timed out');
    runner.start();
    await settle();
    expect(runner.snapshot().timers['retry-register']?.ms).toBe(5000);
    const session = opener.sessions[0];
    if (session === undefined) throw new Error('no session');
    session.registerError = undefined;
    await clock.advance(5000);
    expect(session.registrations).toEqual([undefined]);
    expect(runner.state.registered).toBe(true);
    await runner.stop();
  });

  it('serves a cached page as stale until it is read, and reports no change for the same entries', async () => {
    const { opener, runner, changes } = setup({}, { entries: [A], genctr: '7', fetchedAt: 1, stale: true });
    expect(runner.page?.stale).toBe(true);
    opener.log = { entries: [A], genctr: 8n };
    runner.start();
    await settle();
    expect(runner.page).toMatchObject({ stale: false, genctr: '8' });
    expect(changes).toEqual([{ entriesChanged: false, previous: [A], previousState: 'stale' }]);
    await runner.stop();
  });

  it('closes a session that opens after stop() was called, without using it', async () => {
    const { opener, runner } = setup();
    opener.hold = true;
    runner.start();
    await settle();
    const stopped = runner.stop();
    opener.openNow();
    await stopped;
    expect(runner.state.phase).toBe('stopped');
    for (const s of opener.sessions) expect(s.closed).toBe(true);
    expect(opener.sessions.every((s) => s.reads === 0)).toBe(true);
  });

  it('polls when connections are not persistent: read, close, read again later', async () => {
    const { clock, opener, runner } = setup({
      policy: { ...SETTINGS.policy, persistent: false, pollMs: 5000 },
    });
    opener.log = { entries: [A], genctr: 1n };
    runner.start();
    await settle();
    expect(opener.sessions[0]?.closed).toBe(true);
    expect(runner.state).toMatchObject({ phase: 'waiting', connected: false });
    await clock.advance(5000);
    expect(opener.sessions).toHaveLength(2);
    expect(opener.sessions[1]?.reads).toBe(1);
    await runner.stop();
    expect(clock.pending).toBe(0);
  });
});
