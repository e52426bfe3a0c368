import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadlineQueue } from '../../src/pool/deadlines.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('DeadlineQueue', () => {
  it('expires each waiter its delay after it was added, under one timer', () => {
    vi.useFakeTimers();
    const queue = new DeadlineQueue(100, () => Date.now());
    const expired: string[] = [];
    queue.add(() => expired.push('a'));
    vi.advanceTimersByTime(40);
    queue.add(() => expired.push('b'));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(59);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['a']);
    vi.advanceTimersByTime(39);
    expect(expired).toEqual(['a']);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['a', 'b']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never expires a cancelled waiter, and keeps no timer for cancelled ones alone', () => {
    vi.useFakeTimers();
    const queue = new DeadlineQueue(100, () => Date.now());
    const expired: string[] = [];
    const a = queue.add(() => expired.push('a'));
    vi.advanceTimersByTime(10);
    const b = queue.add(() => expired.push('b'));
    queue.add(() => expired.push('c'));
    queue.cancel(a);
    queue.cancel(b);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual(['c']);
    const d = queue.add(() => expired.push('d'));
    queue.cancel(d);
    queue.add(() => expired.push('e')); // drops d from the front
    vi.advanceTimersByTime(200);
    expect(expired).toEqual(['c', 'e']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stays as long as the callers actually waiting when they are served in order', () => {
    vi.useFakeTimers();
    const queue = new DeadlineQueue(10_000, () => Date.now());
    let expired = 0;
    for (let i = 0; i < 100_000; i++) queue.cancel(queue.add(() => expired++));
    vi.advanceTimersByTime(20_000);
    expect(expired).toBe(0);
  });

  it('expires exactly the waiters still waiting after many compactions, in order', () => {
    vi.useFakeTimers();
    const queue = new DeadlineQueue(1_000, () => Date.now());
    const expired: number[] = [];
    const live: Array<{ id: number; deadline: ReturnType<DeadlineQueue['add']> }> = [];
    let next = 0;
    const add = () => {
      const id = next++;
      live.push({ id, deadline: queue.add(() => expired.push(id)) });
    };
    for (let i = 0; i < 48; i++) add();
    for (let i = 0; i < 5_000; i++) {
      // Mostly first in, first out, as mysql2 serves its waiters; every seventh one out of order.
      const served = live.splice(i % 7 === 0 ? 5 : 0, 1)[0];
      if (served) queue.cancel(served.deadline);
      add();
    }
    vi.advanceTimersByTime(1_000);
    expect(expired).toEqual(live.map((waiter) => waiter.id).sort((a, b) => a - b));
    expect(expired).toHaveLength(48);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('close() stops the timer', () => {
    vi.useFakeTimers();
    const queue = new DeadlineQueue(100, () => Date.now());
    let expired = 0;
    queue.add(() => expired++);
    queue.close();
    vi.advanceTimersByTime(200);
    expect(expired).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
