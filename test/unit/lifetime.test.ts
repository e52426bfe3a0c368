import type { PoolConnection } from 'mysql2';
import { describe, expect, it } from 'vitest';
import { monotonicNow } from '../../src/pool/clock.js';
import { ConnectionLifetimes, LIFETIME_JITTER, retirementAge } from '../../src/pool/lifetime.js';

const connection = () => ({}) as PoolConnection;

/** Lifetimes of 60 s on a clock the test moves (from 1000), drawn at 0.5: each retires at 57 s. */
function onMovableClock() {
  const time = { now: 1000 };
  return {
    time,
    lifetimes: new ConnectionLifetimes(
      60_000,
      () => time.now,
      () => 0.5,
    ),
  };
}

describe('connection lifetimes', () => {
  it('retires between 90% and 100% of maxLifetimeMs, spread by the random draw', () => {
    expect(retirementAge(60_000, () => 0)).toBe(60_000);
    expect(retirementAge(60_000, () => 0.999_999)).toBeCloseTo(60_000 * (1 - LIFETIME_JITTER), 0);
    const ages = Array.from({ length: 200 }, () => retirementAge(1_800_000));
    expect(Math.min(...ages)).toBeGreaterThanOrEqual(1_620_000);
    expect(Math.max(...ages)).toBeLessThanOrEqual(1_800_000);
    // Connections opened together do not retire together.
    expect(new Set(ages.map((a) => Math.round(a / 1000))).size).toBeGreaterThan(100);
  });

  it('never retires with maxLifetimeMs 0', () => {
    expect(retirementAge(0)).toBe(Number.POSITIVE_INFINITY);
    let now = 0;
    const lifetimes = new ConnectionLifetimes(0, () => now);
    const c = connection();
    lifetimes.opened(c);
    now = 365 * 86_400_000;
    expect(lifetimes.isRetired(c)).toBe(false);
  });

  it('tracks idle time from release to borrow on the pool clock, and retires at the drawn age', () => {
    const { time, lifetimes } = onMovableClock();
    const c = connection();
    expect(lifetimes.isOpen(c)).toBe(false);
    lifetimes.opened(c);
    expect(lifetimes.isOpen(c)).toBe(true);
    // Never released yet: nothing to ping however long ago it opened.
    time.now += 10_000;
    expect(lifetimes.onBorrow(c, 500)).toBe('fit');
    expect(lifetimes.released(c)).toBe(false);
    time.now += 499;
    expect(lifetimes.onBorrow(c, 500)).toBe('fit');
    time.now += 1;
    expect(lifetimes.onBorrow(c, 500)).toBe('ping');
    lifetimes.borrowed(c);
    time.now += 5000;
    expect(lifetimes.onBorrow(c, 500)).toBe('fit'); // borrowed, not idle
    expect(lifetimes.ageMs(c)).toBe(15_500);
    time.now = 1000 + 56_999;
    expect(lifetimes.isRetired(c)).toBe(false); // retires at 57 s with a draw of 0.5
    expect(lifetimes.released(c)).toBe(false);
    time.now = 1000 + 57_000;
    expect(lifetimes.isRetired(c)).toBe(true);
    expect(lifetimes.onBorrow(c, 500)).toBe('retired');
    expect(lifetimes.released(c)).toBe(true);
  });

  it('runs on the monotonic clock without a clock of its own, and uses a reading of it passed in', () => {
    for (const clock of [undefined, Date.now]) {
      const lifetimes = new ConnectionLifetimes(60_000, clock, () => 0.5);
      const c = connection();
      const before = monotonicNow();
      lifetimes.opened(c);
      const after = monotonicNow();
      const age = lifetimes.ageMs(c);
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThan(1000); // not Date.now() less a monotonic time
      // Retires at 57 s with a draw of 0.5, by the reading the caller holds.
      expect(lifetimes.isRetired(c, before + 56_999)).toBe(false);
      expect(lifetimes.isRetired(c, after + 57_000)).toBe(true);
      expect(lifetimes.onBorrow(c, 500, after + 57_000)).toBe('retired');
      expect(lifetimes.isRetired(c)).toBe(false); // its own reading: it is new
    }
  });

  it('ignores a reading passed in when the pool runs on a clock of its own (tests move time)', () => {
    const { time, lifetimes } = onMovableClock();
    const c = connection();
    lifetimes.opened(c);
    expect(lifetimes.isRetired(c, Number.MAX_SAFE_INTEGER)).toBe(false);
    time.now += 57_000;
    expect(lifetimes.isRetired(c, 0)).toBe(true);
  });
});
