interface Waiter {
  resolve(granted: boolean): void;
  reject(error: Error): void;
  isCancelled(): boolean;
}

/**
 * Spaces new logins at least `1000 / maxPerSecond` ms apart, first come first served: never more
 * than `maxPerSecond` in any one-second window. Even spacing rather than "N at once, then wait"
 * because RDS counts new IAM connections per second, and a server coming back from a failover copes
 * better with a steady trickle than with repeated bursts.
 */
export class LoginRateLimiter {
  /** Minimum time between two logins; 0 when there is no cap. */
  readonly intervalMs: number;
  readonly #now: () => number;
  readonly #queue: Waiter[] = [];
  #nextAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #closed: Error | undefined;
  #delayed = 0;

  /** `now` is a monotonic clock in ms (default `performance.now`). */
  constructor(maxPerSecond: number, now: () => number = () => performance.now()) {
    this.intervalMs = maxPerSecond > 0 ? 1000 / maxPerSecond : 0;
    this.#now = now;
  }

  /** Logins that had to wait for their turn. */
  get delayed(): number {
    return this.#delayed;
  }

  /** Logins waiting for their turn now. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Resolves with true when this login may start. A waiter whose `isCancelled()` turns true before
   * its turn resolves with false instead, without using a slot.
   */
  acquire(isCancelled: () => boolean = () => false): Promise<boolean> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (this.intervalMs === 0) return Promise.resolve(true);
    const now = this.#now();
    if (this.#queue.length === 0 && now >= this.#nextAt) {
      this.#nextAt = now + this.intervalMs;
      return Promise.resolve(true);
    }
    this.#delayed++;
    return new Promise<boolean>((resolve, reject) => {
      this.#queue.push({ resolve, reject, isCancelled });
      this.#schedule();
    });
  }

  /** Rejects every waiting login and every later one with `error` (the pool is ending). */
  close(error: Error): void {
    this.#closed = error;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const waiter of this.#queue.splice(0)) waiter.reject(error);
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#queue.length === 0) return;
    const wait = Math.max(0, Math.ceil(this.#nextAt - this.#now()));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#grant();
    }, wait);
  }

  #grant(): void {
    while (this.#queue.length > 0) {
      const now = this.#now();
      if (now < this.#nextAt) break; // a timer may fire a fraction of a millisecond early
      const waiter = this.#queue.shift() as Waiter;
      if (waiter.isCancelled()) {
        waiter.resolve(false);
        continue;
      }
      this.#nextAt = now + this.intervalMs;
      waiter.resolve(true);
    }
    this.#schedule();
  }
}
