import { describe, expect, it } from 'vitest';
import { StasError } from '../errors.js';
import type { Uevent } from './uevent-parse.js';
import type { UeventNotice } from './uevent-queue.js';
import { UeventQueue } from './uevent-queue.js';

function ev(
  action: string,
  device: string,
  seqnum: number,
  extra: Record<string, string> = {},
): UeventNotice {
  const devpath = `/devices/virtual/nvme-fabrics/ctl/${device}`;
  const event: Uevent = {
    action,
    devpath,
    subsystem: 'nvme',
    seqnum,
    properties: { ACTION: action, DEVPATH: devpath, SUBSYSTEM: 'nvme', SEQNUM: String(seqnum), ...extra },
  };
  return { kind: 'uevent', event };
}

function queue(limit?: number, onEnd?: () => void): UeventQueue {
  return new UeventQueue({ ready: Promise.resolve('netlink'), limit, onEnd });
}

async function drain(q: UeventQueue): Promise<UeventNotice[]> {
  const out: UeventNotice[] = [];
  while (q.size > 0) {
    const r = await q.next();
    if (r.done === true) break;
    out.push(r.value);
  }
  return out;
}

const seqnums = (notices: UeventNotice[]) =>
  notices.map((n) => (n.kind === 'uevent' ? n.event.seqnum : n.reason));

describe('UeventQueue', () => {
  it('hands a notice straight to a waiting consumer', async () => {
    const q = queue();
    const next = q.next();
    q.push(ev('add', 'nvme0', 1));
    await expect(next).resolves.toEqual({ value: ev('add', 'nvme0', 1), done: false });
  });

  it('keeps order and coalesces a burst of identical events into the latest', async () => {
    const q = queue();
    q.push(ev('add', 'nvme0', 1));
    for (let s = 2; s <= 50; s++) q.push(ev('change', 'nvme0', s, { NVME_AEN: '0x70f002' }));
    q.push(ev('change', 'nvme1', 51, { NVME_AEN: '0x70f002' }));
    q.push(ev('change', 'nvme0', 52, { NVME_EVENT: 'connected' }));
    expect(seqnums(await drain(q))).toEqual([1, 50, 51, 52]);
  });

  it('does not coalesce events that are not consecutive (add, remove, add stays three)', async () => {
    const q = queue();
    q.push(ev('add', 'nvme0', 1));
    q.push(ev('remove', 'nvme0', 2));
    q.push(ev('add', 'nvme0', 3));
    expect(seqnums(await drain(q))).toEqual([1, 2, 3]);
  });

  it('collapses a full queue into one resync-needed and keeps what follows', async () => {
    const q = queue(4);
    for (let s = 1; s <= 4; s++) q.push(ev('add', `nvme${s}`, s));
    q.push(ev('add', 'nvme5', 5));
    q.push(ev('add', 'nvme6', 6));
    expect(seqnums(await drain(q))).toEqual(['queue-overflow', 5, 6]);
  });

  it('merges consecutive resync notices', async () => {
    const q = queue();
    q.push({ kind: 'resync-needed', reason: 'kernel-overflow' });
    q.push({ kind: 'resync-needed', reason: 'kernel-overflow' });
    expect(seqnums(await drain(q))).toEqual(['kernel-overflow']);
  });

  it('filters on the subsystem', () => {
    const q = new UeventQueue({ ready: Promise.resolve('netlink'), subsystems: ['block'] });
    const nvme = ev('add', 'nvme0', 1);
    expect(nvme.kind === 'uevent' && q.wants(nvme.event)).toBe(false);
  });

  it('ends normally on end()/return(): a waiting next() gets done, later pushes are dropped, onEnd runs once', async () => {
    let ended = 0;
    const q = queue(undefined, () => ended++);
    const next = q.next();
    await q.return();
    await expect(next).resolves.toEqual({ value: undefined, done: true });
    q.push(ev('add', 'nvme0', 1));
    await expect(q.next()).resolves.toEqual({ value: undefined, done: true });
    q.end();
    expect(ended).toBe(1);
  });

  it('after fail() delivers what was queued, then rejects', async () => {
    let ended = 0;
    const q = queue(undefined, () => ended++);
    q.push(ev('add', 'nvme0', 1));
    q.fail(new StasError('KERNEL_UEVENT_UNAVAILABLE', 'gone'));
    await expect(q.next()).resolves.toMatchObject({ done: false });
    await expect(q.next()).rejects.toMatchObject({ code: 'KERNEL_UEVENT_UNAVAILABLE' });
    await expect(q.next()).resolves.toEqual({ value: undefined, done: true });
    expect(ended).toBe(1);
  });

  it('rejects a waiting next() at once on fail()', async () => {
    const q = queue();
    const next = q.next();
    q.fail(new StasError('KERNEL_UEVENT_UNAVAILABLE', 'gone'));
    await expect(next).rejects.toMatchObject({ code: 'KERNEL_UEVENT_UNAVAILABLE' });
  });

  it('refuses two pending next() calls', async () => {
    const q = queue();
    void q.next();
    await expect(q.next()).rejects.toThrow(/pending/);
    q.end();
  });

  it('works with for-await and break', async () => {
    const q = queue();
    q.push(ev('add', 'nvme0', 1));
    q.push(ev('add', 'nvme1', 2));
    const seen: UeventNotice[] = [];
    for await (const n of q) {
      seen.push(n);
      if (seen.length === 1) break;
    }
    expect(seen).toHaveLength(1);
    expect(q.size).toBe(0);
  });
});
