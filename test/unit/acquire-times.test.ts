import { describe, expect, it } from 'vitest';
import { ACQUIRE_SAMPLES, AcquireTimes } from '../../src/pool/acquire-times.js';

describe('acquire-time percentiles', () => {
  it('reports zeros before any borrow', () => {
    expect(new AcquireTimes().percentiles()).toEqual({ count: 0, p50: 0, p95: 0, p99: 0, max: 0 });
  });

  it('computes nearest-rank percentiles', () => {
    const times = new AcquireTimes();
    for (let ms = 1; ms <= 100; ms++) times.record(ms);
    expect(times.percentiles()).toEqual({ count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
  });

  it('describes only the latest borrows, in constant memory', () => {
    const times = new AcquireTimes();
    for (let i = 0; i < ACQUIRE_SAMPLES; i++) times.record(1000);
    for (let i = 0; i < ACQUIRE_SAMPLES; i++) times.record(2);
    expect(times.percentiles()).toEqual({ count: 2 * ACQUIRE_SAMPLES, p50: 2, p95: 2, p99: 2, max: 2 });
  });
});
