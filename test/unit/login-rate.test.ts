import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LoginRateLimiter } from '../../src/pool/login-rate.js';

/** Grants recorded on the fake clock, in ms. */
async function grantTimes(limiter: LoginRateLimiter, logins: number, runForMs: number): Promise<number[]> {
  const granted: number[] = [];
  for (let i = 0; i < logins; i++) void limiter.acquire().then(() => granted.push(Date.now()));
  await vi.advanceTimersByTimeAsync(runForMs);
  return granted;
}

/** The most grants in any window (t - 1000, t]. */
function busiestSecond(times: number[]): number {
  let most = 0;
  for (const t of times) most = Math.max(most, times.filter((u) => u > t - 1000 && u <= t).length);
  return most;
}

describe('LoginRateLimiter', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('never grants more than maxPerSecond in any one-second window, spacing logins evenly', async () => {
    const limiter = new LoginRateLimiter(10, () => Date.now());
    const granted = await grantTimes(limiter, 35, 5000);
    expect(granted).toHaveLength(35);
    expect(busiestSecond(granted)).toBe(10);
    const gaps = granted.slice(1).map((t, i) => t - (granted[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(100);
    expect(limiter.delayed).toBe(34);
  });

  it('lets a login through at once when the last one was long enough ago', async () => {
    const limiter = new LoginRateLimiter(20, () => Date.now());
    await limiter.acquire();
    await vi.advanceTimersByTimeAsync(60);
    let granted = false;
    void limiter.acquire().then(() => {
      granted = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toBe(true);
    expect(limiter.delayed).toBe(0);
  });

  it('serves waiters first come, first served, and answers a cancelled one false without using its slot', async () => {
    const limiter = new LoginRateLimiter(10, () => Date.now());
    const order: string[] = [];
    await limiter.acquire();
    let cancelled = false;
    void limiter.acquire(() => cancelled).then((granted) => order.push(`cancelled:${granted}`));
    void limiter.acquire().then((granted) => order.push(`b:${granted}`));
    void limiter.acquire().then((granted) => order.push(`c:${granted}`));
    cancelled = true;
    await vi.advanceTimersByTimeAsync(100);
    expect(order).toEqual(['cancelled:false', 'b:true']);
    await vi.advanceTimersByTimeAsync(100);
    expect(order).toEqual(['cancelled:false', 'b:true', 'c:true']);
  });

  it('does not wait at all with no cap (0)', async () => {
    const limiter = new LoginRateLimiter(0, () => Date.now());
    const granted = await grantTimes(limiter, 100, 0);
    expect(granted).toHaveLength(100);
    expect(limiter.delayed).toBe(0);
  });

  it('rejects waiting and later logins once closed', async () => {
    const limiter = new LoginRateLimiter(1, () => Date.now());
    await limiter.acquire();
    const waiting = limiter.acquire();
    const closed = new Error('closed');
    limiter.close(closed);
    await expect(waiting).rejects.toBe(closed);
    await expect(limiter.acquire()).rejects.toBe(closed);
    expect(limiter.waiting).toBe(0);
  });
});
