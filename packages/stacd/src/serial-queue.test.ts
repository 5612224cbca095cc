import { describe, expect, it } from 'vitest';
import { SerialQueue } from './serial-queue.js';

function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('SerialQueue', () => {
  it('runs the jobs of one lane in order, one at a time', async () => {
    const q = new SerialQueue(4);
    const log: string[] = [];
    const first = gate();
    const a = q.run('tid', async () => {
      log.push('connect start');
      await first.promise;
      log.push('connect end');
    });
    const b = q.run('tid', () => {
      log.push('disconnect');
      return Promise.resolve();
    });
    await Promise.resolve();
    expect(log).toEqual(['connect start']);
    first.open();
    await Promise.all([a, b]);
    expect(log).toEqual(['connect start', 'connect end', 'disconnect']);
  });

  it('runs different lanes side by side, at most `concurrency` at once', async () => {
    const q = new SerialQueue(2);
    let running = 0;
    let most = 0;
    const gates = [gate(), gate(), gate()];
    const jobs = gates.map((g, i) =>
      q.run(`lane${i}`, async () => {
        running++;
        most = Math.max(most, running);
        await g.promise;
        running--;
      }),
    );
    await Promise.resolve();
    expect(running).toBe(2);
    for (const g of gates) g.open();
    await Promise.all(jobs);
    expect(most).toBe(2);
    expect(q.size).toBe(0);
  });

  it('passes each job its own result or rejection, and keeps going after a failure', async () => {
    const q = new SerialQueue(1);
    const bad = q.run('x', () => Promise.reject(new Error('boom')));
    const good = q.run('x', () => Promise.resolve(7));
    await expect(bad).rejects.toThrow('boom');
    await expect(good).resolves.toBe(7);
  });

  it('idle() waits for everything; close() drops queued jobs and refuses new ones', async () => {
    const q = new SerialQueue(1);
    const g = gate();
    const running = q.run('a', () => g.promise);
    const queued = q.run('b', () => Promise.resolve());
    const idle = q.idle();
    const closed = q.close();
    await expect(queued).rejects.toMatchObject({ code: 'STACD_QUEUE_CLOSED' });
    await expect(q.run('c', () => Promise.resolve())).rejects.toMatchObject({ code: 'STACD_QUEUE_CLOSED' });
    g.open();
    await Promise.all([running, idle, closed]);
    expect(q.size).toBe(0);
  });

  it('refuses a concurrency below 1', () => {
    expect(() => new SerialQueue(0)).toThrow(RangeError);
  });
});
