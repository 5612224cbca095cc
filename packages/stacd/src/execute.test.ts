import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DeviceName } from '@stas/common/kernel/fabrics-outcome';
import { claimController, readOwner } from '@stas/common/kernel/registry';
import type { Logger } from '@stas/common/log/logger';
import { createLogger } from '@stas/common/log/logger';
import type { Tid } from '@stas/common/nvme/tid';
import { FakeFabricsDevice, fakeFailure } from '@stas/common/testing/fake-fabrics';
import { writeFakeController } from '@stas/common/testing/sysfs-tree';
import { observed } from '@stas/common/util/observation';
import { Secret } from '@stas/common/util/secret';
import type { ExecutorOptions } from './execute.js';
import { Executor } from './execute.js';
import type { IocAction } from './plan.js';
import { planIocs } from './plan.js';
import {
  DEFAULT_POLICY,
  HOST,
  configured,
  controllerFor,
  entry,
  ioTid,
  page,
  planInput,
} from './plan-test-support.js';

interface Harness {
  readonly executor: Executor;
  readonly fake: FakeFabricsDevice;
  readonly rounds: string[];
  readonly lines: Record<string, unknown>[];
  readonly reg: { run: string; sys: string };
}

let root: string;
const made: Executor[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'stacd-exec-'));
});
afterEach(async () => {
  vi.useRealTimers();
  for (const e of made.splice(0)) await e.close();
  await rm(root, { recursive: true, force: true });
});

function memoryLogger(lines: Record<string, unknown>[]): Logger {
  return createLogger({
    name: 'stacd',
    level: 'debug',
    format: 'json',
    sink: { write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
}

function harness(more: Partial<ExecutorOptions> & { fake?: FakeFabricsDevice } = {}): Harness {
  const reg = { run: join(root, 'run'), sys: join(root, 'sys') };
  const fake = more.fake ?? new FakeFabricsDevice({ sysRoot: reg.sys });
  const rounds: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const executor = new Executor({
    fabrics: fake,
    registry: reg,
    log: memoryLogger(lines),
    identity: () => HOST,
    locate: () => Promise.resolve(undefined),
    requestRound: (why) => rounds.push(why),
    random: () => 0.5,
    ...more,
  });
  made.push(executor);
  return { executor, fake, rounds, lines, reg };
}

const S1 = 'nqn.2019-08.org.example:s1';
const T1 = ioTid('10.0.0.1', S1);

function connectPlan(...traddrs: string[]): IocAction[] {
  return planIocs(
    planInput({
      policy: { ...DEFAULT_POLICY, options: { kato: 15 } },
      discovered: observed([page(traddrs.map((a) => entry(a, S1)))]),
    }),
  );
}

const infos = (lines: readonly Record<string, unknown>[]) =>
  lines.filter((l) => l['level'] === 30).map((l) => l['msg']);

describe('Executor: connect', () => {
  it('connects, claims owner=stas and asks for a new round', async () => {
    const h = harness();
    h.executor.execute(connectPlan('10.0.0.1'));
    await h.executor.idle();
    expect(h.fake.connects).toHaveLength(1);
    const tokens = h.fake.connects[0]?.tokens;
    expect(tokens?.get('nqn')).toBe(S1);
    expect(tokens?.get('hostnqn')).toBe(HOST.hostnqn);
    expect(tokens?.get('keep_alive_tmo')).toBe('15');
    expect(await readOwner(h.reg, 'nvme0')).toBe('stas');
    expect(h.executor.record(T1.key)).toMatchObject({ phase: 'connected', device: 'nvme0', attempts: 0 });
    expect(h.executor.record(T1.key)?.connectArgs).toContain('traddr=10.0.0.1');
    expect(h.rounds).toHaveLength(1);
  });

  it('logs one info line per decision, and repeats only at debug level', async () => {
    const h = harness();
    h.executor.execute(connectPlan('10.0.0.1'));
    await h.executor.idle();
    h.executor.execute(
      planIocs(
        planInput({ discovered: observed([page([entry('10.0.0.1', S1)])]), kernel: [controllerFor(T1, 0)] }),
      ),
    );
    h.executor.execute(
      planIocs(
        planInput({ discovered: observed([page([entry('10.0.0.1', S1)])]), kernel: [controllerFor(T1, 0)] }),
      ),
    );
    const decisions = h.lines.filter((l) => typeof l['action'] === 'string');
    expect(decisions.map((l) => [l['level'], l['action'], l['reason']])).toEqual([
      [30, 'connect', 'discovered'],
      [20, 'keep', 'connected'],
      [20, 'keep', 'connected'],
    ]);
    expect(decisions[0]?.['tid']).toBe('(tcp, 10.0.0.1, 4420, nqn.2019-08.org.example:s1)');
  });

  it('treats already-connected as success: locates the controller and claims it', async () => {
    await writeFakeController(join(root, 'sys'), { instance: 7, subsysnqn: S1, traddr: '10.0.0.1' });
    const fake = new FakeFabricsDevice({ respond: () => ({ ok: true, kind: 'already-connected' }) });
    const h = harness({ fake, locate: () => Promise.resolve('nvme7' as DeviceName) });
    h.executor.execute(connectPlan('10.0.0.1'));
    await h.executor.idle();
    expect(h.executor.record(T1.key)).toMatchObject({ phase: 'connected', device: 'nvme7' });
    expect(await readOwner(h.reg, 'nvme7')).toBe('stas');
    expect(h.rounds).toHaveLength(1);
    h.executor.execute(connectPlan('10.0.0.1'));
    await h.executor.idle();
    expect(h.rounds).toHaveLength(1); // nothing changed: no new round (no EALREADY loop)
  });

  it('does not claim a controller another orchestrator owns', async () => {
    await writeFakeController(join(root, 'sys'), { instance: 7, subsysnqn: S1, traddr: '10.0.0.1' });
    await claimController({ run: join(root, 'run'), sys: join(root, 'sys') }, 'nvme7', 'autoconnect');
    const fake = new FakeFabricsDevice({ respond: () => ({ ok: true, kind: 'already-connected' }) });
    const h = harness({ fake, locate: () => Promise.resolve('nvme7' as DeviceName) });
    h.executor.execute(connectPlan('10.0.0.1'));
    await h.executor.idle();
    expect(await readOwner(h.reg, 'nvme7')).toBe('autoconnect');
    expect(
      h.lines.some((l) => l['level'] === 40 && String(l['msg']).includes('belongs to autoconnect')),
    ).toBe(true);
  });

  it('backs off after a transient failure, retries through a new round, and logs the recovery', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let now = 1_000_000;
    const fake = new FakeFabricsDevice({
      sysRoot: join(root, 'sys'),
      respond: (_text, i) => (i < 2 ? fakeFailure('ECONNREFUSED') : undefined),
    });
    const h = harness({
      fake,
      now: () => now,
      backoff: { fastMs: 1000, fastAttempts: 1, baseMs: 4000, capMs: 60_000, jitter: 0 },
    });
    h.executor.execute(connectPlan('10.0.0.1'));
    await h.executor.idle();
    expect(h.executor.record(T1.key)).toMatchObject({
      phase: 'failed',
      attempts: 1,
      nextRetryAt: now + 1000,
    });
    expect(h.executor.attempts().get(T1.key)).toBe(1);
    h.executor.execute(connectPlan('10.0.0.1')); // a round before the delay is over: no connect
    await h.executor.idle();
    expect(fake.connects).toHaveLength(1);
    now += 1000;
    vi.advanceTimersByTime(1000);
    expect(h.rounds).toEqual([`retry ${T1.key}`]);
    h.executor.execute(connectPlan('10.0.0.1'));
    await h.executor.idle();
    expect(h.executor.record(T1.key)).toMatchObject({
      phase: 'failed',
      attempts: 2,
      nextRetryAt: now + 4000,
    });
    now += 4000;
    vi.advanceTimersByTime(4000);
    h.executor.execute(connectPlan('10.0.0.1'));
    await h.executor.idle();
    expect(h.executor.record(T1.key)).toMatchObject({ phase: 'connected', attempts: 0 });
    const warns = h.lines.filter((l) => l['level'] === 40);
    expect(warns).toHaveLength(1); // the first failure only
    expect(infos(h.lines).at(-1)).toMatch(/connected as nvme0 after 2 failed attempts/);
  });

  it('waits the full backoff cap after a failure that needs a configuration change', async () => {
    let now = 0;
    const fake = new FakeFabricsDevice({ respond: () => fakeFailure('EINVAL') });
    const h = harness({ fake, now: () => now });
    h.executor.execute(connectPlan('10.0.0.1'));
    await h.executor.idle();
    expect(h.executor.record(T1.key)).toMatchObject({ phase: 'failed', nextRetryAt: 60_000 });
    now = 59_000;
    h.executor.execute(connectPlan('10.0.0.1'));
    await h.executor.idle();
    expect(fake.connects).toHaveLength(1);
    h.executor.resetBackoff(); // SIGHUP: try now
    h.executor.execute(connectPlan('10.0.0.1'));
    await h.executor.idle();
    expect(fake.connects).toHaveLength(2);
  });

  it('never writes a connect string it cannot build safely', async () => {
    const h = harness();
    const ctrlOnly = planIocs(
      planInput({
        configured: [
          configured(ioTid('10.0.0.2', S1), 1, {
            dhchapCtrlSecret: new Secret('DHHC-1:00:YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY3ODkwYWI=:'),
          }),
        ],
      }),
    );
    h.executor.execute(ctrlOnly);
    await h.executor.idle();
    expect(h.fake.connects).toHaveLength(0);
    const key = ctrlOnly[0]?.key ?? '';
    expect(h.executor.record(key)).toMatchObject({ phase: 'failed', attempts: 1 });
    expect(h.executor.record(key)?.lastError).toMatch(/bidirectional/);
  });

  it('runs at most `concurrency` kernel operations at once, and never queues the same action twice', async () => {
    const fake = new FakeFabricsDevice({ sysRoot: join(root, 'sys'), delayMs: 5 });
    const h = harness({ fake, concurrency: 2 });
    const plan = connectPlan('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5');
    h.executor.execute(plan);
    h.executor.execute(plan);
    await h.executor.idle();
    expect(fake.connects).toHaveLength(5);
    expect(fake.maxInFlight).toBe(2);
  });

  it("uses the host key when a controller has no dhchap-secret of its own, and the controller's own first", async () => {
    const hostKey = new Secret('DHHC-1:00:aG9zdGtleWhvc3RrZXlob3N0a2V5aG9zdGtleWhvc3Q=:');
    const own = new Secret('DHHC-1:00:b3dua2V5b3dua2V5b3dua2V5b3dua2V5b3dua2V5b3c=:');
    const h = harness({ hostKey: () => hostKey });
    h.executor.execute(
      planIocs(
        planInput({
          configured: [
            configured(ioTid('10.0.0.2', S1), 1, { dhchapSecret: own }),
            configured(ioTid('10.0.0.3', S1), 2),
          ],
        }),
      ),
    );
    await h.executor.idle();
    const byAddr = new Map(
      h.fake.connects.map((c) => [c.tokens.get('traddr'), c.tokens.get('dhchap_secret')]),
    );
    expect(byAddr.get('10.0.0.2')).toBe(own.reveal());
    expect(byAddr.get('10.0.0.3')).toBe(hostKey.reveal());
  });

  it('keeps secrets out of records and log lines', async () => {
    const secret = new Secret('DHHC-1:00:YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY3ODkwYWI=:');
    const h = harness();
    h.executor.execute(
      planIocs(planInput({ configured: [configured(ioTid('10.0.0.2', S1), 1, { dhchapSecret: secret })] })),
    );
    await h.executor.idle();
    expect(h.fake.connects[0]?.tokens.get('dhchap_secret')).toBe(secret.reveal());
    expect(JSON.stringify(h.executor.records())).not.toContain('YWJj');
    expect(JSON.stringify(h.lines)).not.toContain('YWJj');
  });
});

describe('Executor: adopt and disconnect', () => {
  async function kernelWith(instance: number, tid: Tid): Promise<void> {
    await writeFakeController(join(root, 'sys'), {
      instance,
      subsysnqn: tid.subsysnqn,
      traddr: tid.traddr,
      hostnqn: tid.hostNqn,
      hostid: tid.hostId,
    });
  }

  it('adopts by claiming, without connecting', async () => {
    await kernelWith(3, T1);
    const h = harness();
    h.executor.execute(
      planIocs(
        planInput({
          discovered: observed([page([entry('10.0.0.1', S1)])]),
          kernel: [controllerFor(T1, 3, null)],
        }),
      ),
    );
    await h.executor.idle();
    expect(h.fake.connects).toHaveLength(0);
    expect(await readOwner(h.reg, 'nvme3')).toBe('stas');
    expect(h.executor.record(T1.key)).toMatchObject({ phase: 'connected', device: 'nvme3' });
    expect(infos(h.lines)).toContain('adopted nvme3 (owner=stas) without reconnecting');
  });

  it('disconnects and releases the registry entry', async () => {
    const fake = new FakeFabricsDevice({ sysRoot: join(root, 'sys') });
    const h = harness({ fake });
    h.executor.execute(connectPlan('10.0.0.1'));
    await h.executor.idle();
    h.executor.execute(
      planIocs(planInput({ discovered: observed([page([])]), kernel: [controllerFor(T1, 0)] })),
    );
    await h.executor.idle();
    expect(fake.disconnects).toEqual(['nvme0']);
    expect(await readOwner(h.reg, 'nvme0')).toBeUndefined();
    expect(h.executor.record(T1.key)).toBeUndefined();
    expect(infos(h.lines)).toContain('disconnected nvme0');
  });

  it('does not disconnect a controller that another owner claimed meanwhile', async () => {
    await kernelWith(0, T1);
    const h = harness();
    const plan = planIocs(planInput({ discovered: observed([page([])]), kernel: [controllerFor(T1, 0)] }));
    await claimController(h.reg, 'nvme0', 'discoverd');
    h.executor.execute(plan);
    await h.executor.idle();
    expect(h.fake.disconnects).toEqual([]);
  });

  it('never lets a disconnect overtake a pending connect of the same controller', async () => {
    const fake = new FakeFabricsDevice({ sysRoot: join(root, 'sys'), delayMs: 10 });
    const order: string[] = [];
    const h = harness({ fake, requestRound: (why) => order.push(why) });
    h.executor.execute(connectPlan('10.0.0.1'));
    // While the connect is in flight, a (stale) plan asks to disconnect nvme0 of the same controller.
    h.executor.execute(
      planIocs(planInput({ discovered: observed([page([])]), kernel: [controllerFor(T1, 0)] })),
    );
    await h.executor.idle();
    expect(order).toEqual([`${T1.key} connected`, 'nvme0 disconnected']);
  });

  it('closes without disconnecting anything and ignores later plans', async () => {
    const h = harness();
    h.executor.execute(connectPlan('10.0.0.1'));
    await h.executor.close();
    h.executor.execute(
      planIocs(planInput({ discovered: observed([page([])]), kernel: [controllerFor(T1, 0)] })),
    );
    await h.executor.idle();
    expect(h.fake.disconnects).toEqual([]);
  });
});

describe('Executor: stale plans', () => {
  it('skips actions planned before a job on their controller finished, and asks for a new round', async () => {
    const h = harness();
    const mark = h.executor.observationMark();
    h.executor.execute(connectPlan('10.0.0.1'), { observedAt: mark });
    await h.executor.idle();
    expect(h.fake.connects).toHaveLength(1);
    // A plan made from an observation taken before that connect finished (its snapshot lacks nvme0).
    h.executor.execute(connectPlan('10.0.0.1'), { observedAt: mark });
    await h.executor.idle();
    expect(h.fake.connects).toHaveLength(1);
    expect(h.executor.record(T1.key)).toMatchObject({ phase: 'connected', device: 'nvme0' });
    expect(h.rounds).toEqual([`${T1.key} connected`, '1 stale actions']);
    // The same plan from a fresh observation is carried out (here: EALREADY, already ours).
    h.executor.execute(connectPlan('10.0.0.1'), { observedAt: h.executor.observationMark() });
    await h.executor.idle();
    expect(h.fake.connects).toHaveLength(2);
  });

  it('judges staleness per controller: other controllers of the same plan go ahead', async () => {
    const h = harness();
    const mark = h.executor.observationMark();
    h.executor.execute(connectPlan('10.0.0.1'), { observedAt: mark });
    await h.executor.idle();
    h.executor.execute(connectPlan('10.0.0.1', '10.0.0.2'), { observedAt: mark });
    await h.executor.idle();
    expect(h.fake.connects.map((c) => c.tokens.get('traddr'))).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('is busy while a job is queued or running', async () => {
    const h = harness({ fake: new FakeFabricsDevice({ sysRoot: join(root, 'sys'), delayMs: 5 }) });
    expect(h.executor.busy).toBe(false);
    h.executor.execute(connectPlan('10.0.0.1'));
    expect(h.executor.busy).toBe(true);
    await h.executor.idle();
    expect(h.executor.busy).toBe(false);
  });
});

describe('Executor: dry run', () => {
  it('writes nothing to the registry, does not retry, and tries each connect once', async () => {
    const fake = new FakeFabricsDevice({ respond: () => fakeFailure('EPERM') });
    const h = harness({ fake, dryRun: true });
    h.executor.execute(connectPlan('10.0.0.1'));
    await h.executor.idle();
    h.executor.execute(connectPlan('10.0.0.1'));
    await h.executor.idle();
    expect(fake.connects).toHaveLength(1);
    expect(h.executor.record(T1.key)).toMatchObject({ phase: 'dry-run' });
    expect(h.rounds).toEqual([]);
    expect(await readOwner(h.reg, 'nvme0')).toBeUndefined();
  });
});
