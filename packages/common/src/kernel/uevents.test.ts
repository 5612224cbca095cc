// The real uevent sources. As root, `change` written to /sys/class/mem/null/uevent makes the kernel
// send a real uevent (SUBSYSTEM=mem) through the same netlink group NVMe uses. Without root that
// write is refused, so those tests check instead that both sources still open (receiving kernel
// uevents needs no privilege) and that the write is refused with EACCES. NVMe events: e2e only.
import { writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { UeventNotice, UeventWatch } from './uevents.js';
import { UeventMonitor } from './uevents.js';

const IS_ROOT = process.getuid?.() === 0;
const NULL_UEVENT = '/sys/class/mem/null/uevent';
const NULL_DEVPATH = '/devices/virtual/mem/null';

const monitors: UeventMonitor[] = [];
function monitor(opts: ConstructorParameters<typeof UeventMonitor>[0]): UeventMonitor {
  const m = new UeventMonitor(opts);
  monitors.push(m);
  return m;
}

afterEach(() => {
  for (const m of monitors.splice(0)) m.close();
});

/** The next notice, or a rejection after `ms` (the kernel delivers within milliseconds). */
async function nextWithin(watch: UeventWatch, ms: number): Promise<UeventNotice> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no uevent within ${ms} ms`));
    }, ms);
  });
  try {
    const r = await Promise.race([watch.next(), timeout]);
    if (r.done === true) throw new Error('watch ended');
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}

/** The first uevent for /dev/null, skipping unrelated mem events. */
async function nullEvent(watch: UeventWatch): Promise<UeventNotice> {
  for (;;) {
    const n = await nextWithin(watch, 5000);
    if (n.kind !== 'uevent' || n.event.devpath === NULL_DEVPATH) return n;
  }
}

async function triggerOrRefused(): Promise<'sent' | 'EACCES'> {
  try {
    await writeFile(NULL_UEVENT, 'change');
    return 'sent';
  } catch (err) {
    expect(err).toMatchObject({ code: 'EACCES' });
    return 'EACCES';
  }
}

describe('UeventMonitor, netlink source (koffi)', { timeout: 20_000 }, () => {
  it('opens without privilege and, as root, delivers a real kernel uevent', async () => {
    const m = monitor({ source: 'netlink', pollIntervalMs: 10 });
    const watch = m.watch({ subsystems: ['mem'] });
    await expect(watch.ready).resolves.toBe('netlink');
    expect(m.source).toBe('netlink');
    const sent = await triggerOrRefused();
    expect(sent).toBe(IS_ROOT ? 'sent' : 'EACCES');
    if (sent === 'sent') {
      const notice = await nullEvent(watch);
      expect(notice).toMatchObject({
        kind: 'uevent',
        event: { action: 'change', devpath: NULL_DEVPATH, subsystem: 'mem', properties: { DEVNAME: 'null' } },
      });
    }
  });

  it('drains on SIGIO: a real uevent arrives long before the safety drain (no polling)', async () => {
    const m = monitor({ source: 'netlink', pollIntervalMs: 10 });
    const watch = m.watch({ subsystems: ['mem'] });
    await watch.ready;
    expect(m.signalDriven).toBe(true); // pollIntervalMs is then unused: the next timed drain is 30 s away
    if ((await triggerOrRefused()) === 'sent') {
      const notice = await nullEvent(watch);
      expect(notice).toMatchObject({ kind: 'uevent', event: { devpath: NULL_DEVPATH } });
    }
  });

  it('polls instead when asked not to be signal-driven', async () => {
    const m = monitor({ source: 'netlink', signalDriven: false, pollIntervalMs: 10 });
    const watch = m.watch({ subsystems: ['mem'] });
    await watch.ready;
    expect(m.signalDriven).toBe(false);
    if ((await triggerOrRefused()) === 'sent') {
      const notice = await nullEvent(watch);
      expect(notice).toMatchObject({ kind: 'uevent', event: { devpath: NULL_DEVPATH } });
    }
  });

  it('keeps one SIGIO listener however many sockets open and close', async () => {
    const before = process.listenerCount('SIGIO');
    for (let i = 0; i < 3; i++) {
      const m = monitor({ source: 'netlink' });
      await m.watch().ready;
      m.close();
    }
    expect(process.listenerCount('SIGIO')).toBe(Math.max(before, 1));
  });

  it('delivers an event only to the watches of its subsystem', async () => {
    const m = monitor({ source: 'netlink', pollIntervalMs: 10 });
    const mem = m.watch({ subsystems: ['mem'] });
    const nvme = m.watch();
    await mem.ready;
    if ((await triggerOrRefused()) === 'sent') {
      await nullEvent(mem);
    }
    // Both queues are filled in the same dispatch: if nvme had got it, it would be queued now.
    const first = await Promise.race([nvme.next(), Promise.resolve('nothing queued' as const)]);
    expect(first).toBe('nothing queued');
  });

  it('reports a kernel buffer overflow as resync-needed (root: tiny forced buffer, burst of uevents)', async () => {
    const m = monitor({ source: 'netlink', receiveBufferBytes: 1 });
    const watch = m.watch({ subsystems: ['mem'] });
    await watch.ready;
    if ((await triggerOrRefused()) === 'EACCES') {
      expect(IS_ROOT).toBe(false);
      return;
    }
    // The first write above plus 63 more in one turn of the event loop, so no drain runs between
    // them: a ~2 KiB buffer overflows, and the overflow itself raises a SIGIO.
    for (let i = 0; i < 63; i++) writeFileSync(NULL_UEVENT, 'change');
    const kinds = new Set<string>();
    for (;;) {
      const n = await nextWithin(watch, 5000);
      kinds.add(n.kind === 'resync-needed' ? n.reason : 'uevent');
      if (kinds.has('kernel-overflow')) break;
    }
    expect(kinds.has('kernel-overflow')).toBe(true);
  });

  it('stops polling when the last watch ends (abort), and opens again for a new watch', async () => {
    const m = monitor({ source: 'netlink', pollIntervalMs: 10 });
    const controller = new AbortController();
    const watch = m.watch({ signal: controller.signal, subsystems: ['mem'] });
    await watch.ready;
    const pending = watch.next();
    controller.abort();
    await expect(pending).resolves.toEqual({ value: undefined, done: true });
    expect(m.source).toBeUndefined();
    expect(m.signalDriven).toBeUndefined();
    const again = m.watch({ subsystems: ['mem'] });
    await expect(again.ready).resolves.toBe('netlink');
    expect(m.source).toBe('netlink');
    expect(m.signalDriven).toBe(true);
  });

  it('ends a watch whose signal is already aborted without opening anything', async () => {
    const m = monitor({ source: 'netlink' });
    const watch = m.watch({ signal: AbortSignal.abort() });
    await expect(watch.next()).resolves.toEqual({ value: undefined, done: true });
    expect(m.source).toBeUndefined();
  });
});

describe('UeventMonitor, udevadm fallback', { timeout: 20_000 }, () => {
  it('reads the same kernel uevents through udevadm monitor', async () => {
    const m = monitor({ source: 'udevadm' });
    const watch = m.watch({ subsystems: ['mem'] });
    await expect(watch.ready).resolves.toBe('udevadm');
    expect(m.signalDriven).toBe(false);
    if ((await triggerOrRefused()) === 'sent') {
      const notice = await nullEvent(watch);
      expect(notice).toMatchObject({ kind: 'uevent', event: { action: 'change', devpath: NULL_DEVPATH } });
    }
  });

  it('fails the watch with KERNEL_UEVENT_UNAVAILABLE when udevadm cannot run', async () => {
    const m = monitor({ source: 'udevadm', udevadm: '/nonexistent/udevadm' });
    const watch = m.watch();
    await expect(watch.ready).rejects.toMatchObject({ code: 'KERNEL_UEVENT_UNAVAILABLE' });
    await expect(watch.next()).rejects.toMatchObject({ code: 'KERNEL_UEVENT_UNAVAILABLE' });
    await expect(watch.next()).resolves.toEqual({ value: undefined, done: true });
  });
});
