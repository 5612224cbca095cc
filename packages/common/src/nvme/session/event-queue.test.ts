import { describe, expect, it } from 'vitest';
import { EventQueue } from './event-queue.js';

async function drain<T>(q: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of q) out.push(v);
  return out;
}

describe('EventQueue', () => {
  it('delivers pushed events in order, then the final one, then ends', async () => {
    const q = new EventQueue<number>();
    q.push(1);
    q.push(2);
    q.end(99);
    expect(await drain(q)).toEqual([1, 2, 99]);
  });

  it('hands an event straight to a waiting reader', async () => {
    const q = new EventQueue<string>();
    const it = q[Symbol.asyncIterator]();
    const next = it.next();
    q.push('a');
    expect(await next).toEqual({ value: 'a', done: false });
    expect(q.size).toBe(0);
  });

  it('merges an event equal to one still waiting', () => {
    const q = new EventQueue<number>({ same: (a, b) => a === b });
    q.push(7);
    q.push(7);
    q.push(8);
    expect(q.size).toBe(2);
    expect(q.dropped).toBe(0);
  });

  it('drops the oldest event when full and counts it, but never the final event', async () => {
    const q = new EventQueue<number>({ capacity: 2 });
    q.push(1);
    q.push(2);
    q.push(3);
    q.end(-1);
    expect(q.dropped).toBe(1);
    expect(await drain(q)).toEqual([2, 3, -1]);
  });

  it('ignores pushes after end and ends waiting readers', async () => {
    const q = new EventQueue<number>();
    const it = q[Symbol.asyncIterator]();
    const next = it.next();
    q.end();
    q.push(5);
    expect(await next).toEqual({ value: undefined, done: true });
    expect(q.ended).toBe(true);
  });

  it('detaches a reader that breaks out without ending the queue', async () => {
    const q = new EventQueue<number>();
    q.push(1);
    for await (const v of q) {
      expect(v).toBe(1);
      break;
    }
    q.push(2);
    expect(q.ended).toBe(false);
    const it = q[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ value: 2, done: false });
  });

  it('ends a pending next() when its reader returns', async () => {
    const q = new EventQueue<number>();
    const it = q[Symbol.asyncIterator]();
    const next = it.next();
    await it.return?.();
    expect(await next).toEqual({ value: undefined, done: true });
    q.push(3);
    expect(q.size).toBe(1);
  });
});
