import type { PoolConnection as CorePoolConnection } from 'mysql2';
import { monotonicNow } from './clock.js';

/** Connections retire at a random age between (1 - this) and 1 times maxLifetimeMs. */
export const LIFETIME_JITTER = 0.1;

/** The age at which a connection retires: maxLifetimeMs less up to 10%, at random; Infinity for 0. */
export function retirementAge(maxLifetimeMs: number, random: () => number = Math.random): number {
  if (maxLifetimeMs <= 0) return Number.POSITIVE_INFINITY;
  return maxLifetimeMs - random() * LIFETIME_JITTER * maxLifetimeMs;
}

interface ConnectionTimes {
  openedAt: number;
  retireAt: number;
  /** When it was last put back idle; undefined while borrowed (or never released). */
  idleSince: number | undefined;
}

/**
 * Where a connection's times live: on the connection itself, under a key of ours. A borrow and a
 * release each read them, so they are one property load away rather than a WeakMap lookup, and
 * they go when mysql2 lets go of the connection, with it.
 */
const TIMES = Symbol('rds-iam-pool.connection-times');
type WithTimes = { [TIMES]?: ConnectionTimes };
const timesOf = (connection: CorePoolConnection) => (connection as unknown as WithTimes)[TIMES];

/** What a borrow may do with a connection, as far as its age and idle time go. */
export type LifetimeVerdict = 'fit' | 'ping' | 'retired';

/**
 * When each connection opened, when it retires and how long it has been idle. They run on the pool's
 * monotonic clock (monotonicNow: a wall-clock step does not age every connection at once), unless the
 * pool was given a clock of its own (tests move time with it). A borrow and a release read the clock
 * once each; a caller that already holds a monotonicNow() reading passes it in (`now`), and it is
 * used unless the pool runs on its own clock.
 */
export class ConnectionLifetimes {
  readonly #maxLifetimeMs: number;
  readonly #clock: (() => number) | undefined;
  readonly #random: () => number;

  /** `clock`: the pool's own clock; undefined (or Date.now, the pool's default) for monotonicNow. */
  constructor(maxLifetimeMs: number, clock: (() => number) | undefined, random: () => number = Math.random) {
    this.#maxLifetimeMs = maxLifetimeMs;
    this.#clock = clock === Date.now ? undefined : clock;
    this.#random = random;
  }

  #now(reading: number | undefined): number {
    if (this.#clock !== undefined) return this.#clock();
    return reading ?? monotonicNow();
  }

  /** A connection finished logging in. */
  opened(connection: CorePoolConnection): void {
    const openedAt = this.#now(undefined);
    (connection as unknown as WithTimes)[TIMES] = {
      openedAt,
      retireAt: openedAt + retirementAge(this.#maxLifetimeMs, this.#random),
      idleSince: undefined,
    };
  }

  /** Whether the connection has finished logging in (false while it is still opening). */
  isOpen(connection: CorePoolConnection): boolean {
    return timesOf(connection) !== undefined;
  }

  /**
   * A borrow is about to hand the connection out: 'retired' past its lifetime, 'ping' when it sat
   * idle at least `pingAfterIdleMs`, else 'fit'.
   */
  onBorrow(connection: CorePoolConnection, pingAfterIdleMs: number, now?: number): LifetimeVerdict {
    const t = timesOf(connection);
    if (t === undefined) return 'fit';
    const at = this.#now(now);
    if (at >= t.retireAt) return 'retired';
    return t.idleSince !== undefined && at - t.idleSince >= pingAfterIdleMs ? 'ping' : 'fit';
  }

  borrowed(connection: CorePoolConnection): void {
    const t = timesOf(connection);
    if (t) t.idleSince = undefined;
  }

  /** The connection went back to the pool, idle from now; returns whether it is past its lifetime. */
  released(connection: CorePoolConnection): boolean {
    const t = timesOf(connection);
    if (t === undefined) return false;
    const now = this.#now(undefined);
    t.idleSince = now;
    return now >= t.retireAt;
  }

  /** Whether the connection is past its lifetime (a connection still opening is not). */
  isRetired(connection: CorePoolConnection, now?: number): boolean {
    const t = timesOf(connection);
    return t !== undefined && this.#now(now) >= t.retireAt;
  }

  ageMs(connection: CorePoolConnection): number {
    const t = timesOf(connection);
    return t ? this.#now(undefined) - t.openedAt : 0;
  }
}
