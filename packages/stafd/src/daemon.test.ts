import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeClock, settle } from '@stas/common/nvme/session/fake-clock';
import { createTid } from '@stas/common/nvme/tid';
import { nvmeEntry, referralEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { encodeCache } from './cache/dlp-cache-file.js';
import { StafdDaemon } from './daemon.js';
import { FakeBrowser, FakeOpener, browsedService, recordedLogger } from './dc/test-support.js';
import type { LookupAddress } from './dc-set/resolve-configured.js';

const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001';
const HOSTID = '00000000-0000-4000-8000-000000000001';
const A = nvmeEntry({ traddr: '192.0.2.10', subnqn: 'nqn.2024-01.io.test:a' });
const B = nvmeEntry({ traddr: '192.0.2.11', subnqn: 'nqn.2024-01.io.test:b' });

describe('StafdDaemon', () => {
  let dir: string;
  let clock: FakeClock;
  let opener: FakeOpener;
  let browser: FakeBrowser;
  let names: Map<string, LookupAddress[] | Error>;
  let recorded: ReturnType<typeof recordedLogger>;
  let daemon: StafdDaemon;
  const files = () => ({
    confFile: join(dir, 'stafd.conf'),
    sysConfFile: join(dir, 'sys.conf'),
    etcNvme: join(dir, 'nvme'),
    cacheFile: join(dir, 'run/dlp-cache.json'),
  });

  function create(): StafdDaemon {
    daemon = new StafdDaemon({
      ...files(),
      log: recorded.log,
      openSession: opener.open,
      lookup: (name) => {
        const answer = names.get(name);
        if (answer === undefined) return Promise.reject(new Error(`${name}: ENOTFOUND`));
        return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
      },
      createBrowser: () => browser,
      clock,
      now: () => 1_000_000 + clock.now(),
      random: () => 0.5,
      saveDelayMs: 50,
    });
    return daemon;
  }

  async function started(conf: string): Promise<StafdDaemon> {
    await writeFile(files().confFile, conf);
    const d = create();
    expect(await d.load()).toEqual({ ok: true });
    d.start();
    await idle();
    return d;
  }

  async function idle(): Promise<void> {
    await settle();
    await daemon.whenIdle();
    await settle();
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stafd-daemon-'));
    await mkdir(join(dir, 'nvme'));
    await writeFile(join(dir, 'sys.conf'), `[Host]\nnqn = ${HOSTNQN}\nid = ${HOSTID}\nsymname = test\n`);
    clock = new FakeClock();
    opener = new FakeOpener();
    opener.log = { entries: [A], genctr: 1n };
    browser = new FakeBrowser();
    names = new Map();
    recorded = recordedLogger();
  });

  afterEach(async () => {
    await daemon.stop();
    expect(clock.pending).toBe(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('holds the configured DCs, completed with the host identity, and reads their log pages', async () => {
    await started('[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.1;trsvcid=8009\n');
    const [view] = daemon.controllers();
    expect(view?.tid).toMatchObject({ traddr: '192.0.2.1', hostNqn: HOSTNQN, hostId: HOSTID });
    expect(view?.origin).toBe('configured');
    expect(view?.runner.page?.entries).toEqual([A]);
    expect(opener.attempts[0]).toMatchObject({ hostnqn: HOSTNQN, hostid: HOSTID, katoMs: 30_000 });
  });

  it('applies per-controller options over [Global]', async () => {
    await started(
      '[Global]\nkato = 10\nhdr-digest = true\n[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.1;kato=20\n',
    );
    expect(opener.attempts[0]).toMatchObject({ katoMs: 20_000, hdgst: true });
    expect(daemon.controllers()[0]?.controller?.options).toEqual({ kato: 20 });
  });

  it('resolves configured host names, and keeps the DC while the name does not resolve (F13)', async () => {
    names.set('dc.example', [
      { address: '2001:db8::1', family: 6 },
      { address: '192.0.2.7', family: 4 },
    ]);
    await started('[Controllers]\ncontroller = transport=tcp;traddr=dc.example\n');
    expect(daemon.controllers().map((v) => v.tid.traddr)).toEqual(['192.0.2.7']);

    names.set('dc.example', new Error('dc.example: EAI_AGAIN'));
    await daemon.reload();
    expect(daemon.controllers().map((v) => v.tid.traddr)).toEqual(['192.0.2.7']);
    expect(recorded.lines.some((l) => l.level === 40 && l.msg.includes('EAI_AGAIN'))).toBe(true);
    expect(opener.sessions).toHaveLength(1);
  });

  it('applies only the differences on reload: an excluded DC goes, the others keep their session', async () => {
    const conf =
      '[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.1\ncontroller = transport=tcp;traddr=192.0.2.2\n';
    await started(conf);
    const removed: number[] = [];
    daemon.on('dc-removed', () => removed.push(1));
    const kept = daemon.controllers().find((v) => v.tid.traddr === '192.0.2.2');
    await writeFile(files().confFile, `${conf}exclude = traddr=192.0.2.1\n`);
    await daemon.reload();
    expect(daemon.controllers().map((v) => v.tid.traddr)).toEqual(['192.0.2.2']);
    expect(removed).toEqual([1]);
    expect(opener.sessions).toHaveLength(2);
    expect(opener.sessions.filter((s) => s.closed).map((s) => s.options.traddr)).toEqual(['192.0.2.1']);
    expect(daemon.controllers()[0]?.tid).toBe(kept?.tid);
    expect(daemon.controllers()[0]?.runner.counters.sessionsOpened).toBe(1);
  });

  it('logs a broken config with file:line on reload and applies its valid parts', async () => {
    await started('[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.1\n');
    await writeFile(
      files().confFile,
      '[Global]\ntron = true\nkato = soon\n[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.1\n',
    );
    await daemon.reload();
    const error = recorded.lines.find((l) => l.msg.startsWith(`${files().confFile}:3:`));
    expect(error?.level).toBeGreaterThanOrEqual(40);
    expect(daemon.tron).toBe(true);
    expect(opener.sessions).toHaveLength(1);
  });

  it('keeps the last good identity when sys.conf loses it, and re-registers on a new symname', async () => {
    opener.dctype = 1;
    await started('[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.1\n');
    expect(opener.sessions[0]?.registrations).toEqual(['test']);
    await writeFile(join(dir, 'sys.conf'), `[Host]\nnqn = ${HOSTNQN}\nid = ${HOSTID}\nsymname = renamed\n`);
    await daemon.reload();
    await settle();
    expect(opener.sessions[0]?.registrations).toEqual(['test', 'renamed']);

    await writeFile(join(dir, 'sys.conf'), '[Host]\nnqn = not-an-nqn\n');
    await daemon.reload();
    expect(daemon.identity?.hostnqn).toBe(HOSTNQN);
    expect(opener.sessions).toHaveLength(1);
  });

  it('emits log-pages-changed only when the entries change', async () => {
    await started('[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.1\n');
    const changed: string[] = [];
    daemon.on('log-pages-changed', (tid) => changed.push(tid.traddr));
    const session = opener.sessions[0];
    if (session === undefined) throw new Error('no session');
    session.log = { entries: [A], genctr: 2n };
    session.aen();
    await settle();
    session.log = { entries: [A, B], genctr: 3n };
    session.aen();
    await settle();
    expect(changed).toEqual(['192.0.2.1']);
  });

  it('follows referrals (inheriting host fields) and drops the referred DC when the referral goes', async () => {
    opener.log = { entries: [A, referralEntry({ host: '192.0.2.50', port: 8009 })], genctr: 1n };
    await started('[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.1;host-iface=eth1\n');
    await idle();
    const referred = daemon.controllers().find((v) => v.origin === 'referral');
    expect(referred?.tid).toMatchObject({ traddr: '192.0.2.50', hostIface: 'eth1', hostNqn: HOSTNQN });
    expect(referred?.depth).toBe(1);

    const first = opener.to('8009').find((s) => s.options.traddr === '192.0.2.1');
    if (first === undefined) throw new Error('no session');
    first.log = { entries: [A], genctr: 2n };
    first.aen();
    await idle();
    expect(daemon.controllers().map((v) => v.tid.traddr)).toEqual(['192.0.2.1']);
  });

  it('adds mDNS DCs pinned to their interface, and removes them after the persistence once lost', async () => {
    await started('[Discovery controller connection management]\nzeroconf-connections-persistence = 30s\n');
    browser.announce([browsedService('192.0.2.9', 8009, 'eth0')]);
    await idle();
    expect(daemon.controllers().map((v) => [v.origin, v.tid.hostIface])).toEqual([['discovered', 'eth0']]);

    // Unknown (browser down) is not empty: kept.
    browser.setState({ kind: 'unavailable', reason: 'avahi-absent', detail: 'gone' });
    await idle();
    expect(daemon.controllers()).toHaveLength(1);
    browser.setState({ kind: 'running' });

    // Not announced but connected: kept. Then it disconnects: lost, removed 30 s later.
    browser.announce([]);
    await idle();
    expect(daemon.controllers()[0]?.lostSince).toBeNull();
    opener.fail = new Error('refused');
    opener.sessions[0]?.lose();
    await idle();
    expect(daemon.controllers()[0]?.lostSince).not.toBeNull();
    await clock.advance(29_000);
    await idle();
    expect(daemon.controllers()).toHaveLength(1);
    await clock.advance(1_500);
    await idle();
    expect(daemon.controllers()).toEqual([]);
  });

  it('loads the cache before start: pages are served stale, then refreshed', async () => {
    const tid = createTid(
      { transport: 'tcp', traddr: '192.0.2.1', trsvcid: '8009', hostNqn: HOSTNQN, hostId: HOSTID },
      { role: 'discovery' },
    );
    await mkdir(join(dir, 'run'));
    await writeFile(
      files().cacheFile,
      encodeCache([{ tid, origin: 'configured', entries: [B], genctr: '4', fetchedAt: 5 }]),
    );
    await writeFile(files().confFile, '[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.1\n');
    const d = create();
    await d.load();
    expect(d.controllers().map((v) => [v.runner.page?.stale, v.runner.page?.entries])).toEqual([[true, [B]]]);
    expect(opener.attempts).toEqual([]);
    d.start();
    await idle();
    expect(d.controllers().map((v) => [v.runner.page?.stale, v.runner.page?.entries])).toEqual([
      [false, [A]],
    ]);
    await clock.advance(100);
    const genctrs = async (): Promise<string[]> =>
      (JSON.parse(await readFile(files().cacheFile, 'utf8')) as { dcs: { genctr: string }[] }).dcs.map(
        (r) => r.genctr,
      );
    // The write started at the debounce deadline; wait (in real time: it is file I/O with fsync,
    // slow on a loaded machine) for the file to show it.
    await vi.waitFor(
      async () => {
        expect(await genctrs()).toEqual(['1']);
      },
      { timeout: 10_000, interval: 20 },
    );
  });

  it('ignores a corrupt cache with a warning', async () => {
    await mkdir(join(dir, 'run'));
    await writeFile(files().cacheFile, '{"format": "something else"}');
    await started('');
    expect(recorded.lines.some((l) => l.level === 40 && l.msg.startsWith('log page cache ignored'))).toBe(
      true,
    );
    expect(daemon.controllers()).toEqual([]);
  });

  it('refuses to load without a host identity', async () => {
    await writeFile(join(dir, 'sys.conf'), '[Host]\n');
    const d = create();
    const outcome = await d.load();
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? '' : outcome.reason).toContain('host NQN');
  });

  describe('[Limits]', () => {
    const services = (n: number, from = 0) =>
      Array.from({ length: n }, (_, i) => browsedService(`192.0.2.${from + i + 1}`, 8009, 'eth0'));
    const limitLines = () => recorded.lines.filter((l) => l['limit'] === 'max-discovery-controllers');

    it('holds at most max-discovery-controllers DCs, configured ones always, with one warning naming the key', async () => {
      await started(
        '[Limits]\nmax-discovery-controllers = 3\n[Controllers]\ncontroller = transport=tcp;traddr=198.51.100.1\n',
      );
      browser.announce(services(5));
      await idle();
      expect(daemon.controllers().map((v) => v.origin)).toEqual(['configured', 'discovered', 'discovered']);
      browser.announce(services(6));
      await idle();
      expect(daemon.controllers()).toHaveLength(3);
      const warnings = limitLines().filter((l) => l.level === 40);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.msg).toBe(
        'limit of 3 discovery controllers reached ([Limits] max-discovery-controllers): mDNS and referred DCs beyond it are not held',
      );
      expect(warnings[0]?.['value']).toBe(3);
    });

    it('drops the most recently added mDNS DCs when a reload lowers the limit, and adds more when it rises', async () => {
      const conf = '[Controllers]\ncontroller = transport=tcp;traddr=198.51.100.1\n';
      await started(conf);
      browser.announce(services(4));
      await idle();
      expect(daemon.controllers()).toHaveLength(5);
      const removed: number[] = [];
      daemon.on('dc-removed', () => removed.push(1));
      await writeFile(files().confFile, `[Limits]\nmax-discovery-controllers = 2\n${conf}`);
      await daemon.reload();
      expect(daemon.controllers().map((v) => v.tid.traddr)).toEqual(['198.51.100.1', '192.0.2.1']);
      expect(removed).toEqual([1]);
      expect(
        recorded.lines.some(
          (l) => l.msg === '[Limits] max-discovery-controllers changed from 1024 to 2' && l.level === 30,
        ),
      ).toBe(true);
      const drops = recorded.lines.filter((l) => l['reason'] === 'limit');
      expect(drops.map((l) => l.msg)).toEqual([
        expect.stringContaining('192.0.2.4'),
        expect.stringContaining('192.0.2.3'),
        expect.stringContaining('192.0.2.2'),
      ]);
      expect(drops[0]?.msg).toContain(
        'over the limit of 2 discovery controllers ([Limits] max-discovery-controllers)',
      );
      expect(opener.sessions.filter((s) => s.closed)).toHaveLength(3);

      await writeFile(files().confFile, `[Limits]\nmax-discovery-controllers = 4\n${conf}`);
      await daemon.reload();
      expect(daemon.controllers()).toHaveLength(4);
    });

    it('refuses a log page above max-log-page-entries naming the key, and reads it once a reload raises the limit', async () => {
      opener.log = { entries: [A, B], genctr: 1n };
      const conf = '[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.1\n';
      await started(`[Limits]\nmax-log-page-entries = 1\n${conf}`);
      const [view] = daemon.controllers();
      expect(view?.runner.page).toBeNull();
      expect(view?.runner.state.lastError?.code).toBe('NVME_DLP_TOO_LARGE');
      const warning = recorded.lines.find(
        (l) => l.level === 40 && l.msg.includes('cannot read the log page'),
      );
      expect(warning?.msg).toContain('exceeds the limit of 1 entries (set by [Limits] max-log-page-entries)');

      await writeFile(files().confFile, `[Limits]\nmax-log-page-entries = 2\n${conf}`);
      await daemon.reload();
      await idle();
      expect(daemon.controllers()[0]?.runner.page?.entries).toEqual([A, B]);
      expect(opener.sessions).toHaveLength(1);
      expect(opener.sessions[0]?.readOptions.map((o) => o.maxEntries)).toEqual([1, 2]);
    });

    it('applies a round of many actions in slices and opens the sessions of many DCs a slice per turn', async () => {
      await started('');
      browser.announce(services(200));
      // The round starts in the next turn; it must not add all 200 DCs in one.
      await settle();
      await settle();
      expect(daemon.controllers().length).toBeGreaterThan(0);
      expect(daemon.controllers().length).toBeLessThan(200);
      await idle();
      while (opener.attempts.length < 200) await settle();
      expect(daemon.controllers()).toHaveLength(200);
      expect(new Set(opener.attempts.map((o) => o.traddr)).size).toBe(200);
    });
  });

  it('stops every runner, saves the cache and is idempotent', async () => {
    opener.dctype = 2;
    await started('[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.1\n');
    await Promise.all([daemon.stop(), daemon.stop()]);
    expect(opener.sessions[0]?.deregistrations).toEqual(['test']);
    expect(opener.sessions[0]?.closed).toBe(true);
    expect(browser.stops).toBe(1);
    const saved = JSON.parse(await readFile(files().cacheFile, 'utf8')) as { dcs: unknown[] };
    expect(saved.dcs).toHaveLength(1);
  });
});
