import type { PoolConnection as CorePoolConnection } from 'mysql2';

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
 * When each connection opened, when it retires and how long it has been idle, on the pool's clock
 * (so tests can move time). Kept beside the connection, not in it: a WeakMap forgets a connection
 * the moment mysql2 lets go of it.
 */
export class ConnectionLifetimes {
  readonly #times = new WeakMap<CorePoolConnection, ConnectionTimes>();
  readonly #maxLifetimeMs: number;
  readonly #clock: () => number;
  readonly #random: () => number;

  constructor(maxLifetimeMs: number, clock: () => number, random: () => number = Math.random) {
    this.#maxLifetimeMs = maxLifetimeMs;
    this.#clock = clock;
    this.#random = random;
  }

  /** A connection finished logging in. */
  opened(connection: CorePoolConnection): void {
    const openedAt = this.#clock();
    this.#times.set(connection, {
      openedAt,
      retireAt: openedAt + retirementAge(this.#maxLifetimeMs, this.#random),
      idleSince: undefined,
    });
  }

  /** Whether the connection has finished logging in (false while it is still opening). */
  isOpen(connection: CorePoolConnection): boolean {
    return this.#times.has(connection);
  }

  borrowed(connection: CorePoolConnection): void {
    const t = this.#times.get(connection);
    if (t) t.idleSince = undefined;
  }

  released(connection: CorePoolConnection): void {
    const t = this.#times.get(connection);
    if (t) t.idleSince = this.#clock();
  }

  /** How long it has sat idle; 0 if it was never put back since it was last borrowed. */
  idleMs(connection: CorePoolConnection): number {
    const idleSince = this.#times.get(connection)?.idleSince;
    return idleSince === undefined ? 0 : this.#clock() - idleSince;
  }

  wasIdle(connection: CorePoolConnection): boolean {
    return this.#times.get(connection)?.idleSince !== undefined;
  }

  ageMs(connection: CorePoolConnection): number {
    const t = this.#times.get(connection);
    return t ? this.#clock() - t.openedAt : 0;
  }

  isRetired(connection: CorePoolConnection): boolean {
    const t = this.#times.get(connection);
    return t !== undefined && this.#clock() >= t.retireAt;
  }
}
