import type { PoolConnection as CorePoolConnection } from 'mysql2';
import type { RetirementReason } from '../diagnostics.js';
import {
  IamAcquireTimeoutError,
  IamAuthError,
  IamPoolClosedError,
  IamPoolExhaustedError,
  type PoolConnectionCounts,
} from '../errors.js';
import {
  type BoundaryPool,
  type GetConnectionCallback,
  isKnownDead,
  isPoolClosedError,
  isPoolRefusal,
} from '../mysql2-boundary.js';
import {
  type ConnectFailure,
  classifyConnectError,
  connectWithRetry,
  type IamRetryOptions,
  toIamError,
} from '../retry.js';
import { type Deadline, DeadlineQueue } from './deadlines.js';
import type { ConnectionLifetimes } from './lifetime.js';
import type { ConnectionRoles } from './roles.js';
import { answersPing } from './validate.js';

export interface AcquireSettings {
  acquireTimeoutMs: number;
  validateAfterIdleMs: number;
  validationTimeoutMs: number;
  retry: Required<IamRetryOptions>;
  /** host:port, for error messages. */
  endpoint: string;
}

/** What the acquirer needs from the pool around it. */
export interface AcquireHooks {
  /** True once end() has begun: borrows fail with IamPoolClosedError. */
  isEnding(): boolean;
  counts(): PoolConnectionCounts;
  /** A connect attempt failed and will be retried. */
  onRetry(failure: ConnectFailure, attemptNumber: number, error: unknown): void;
  /** Connecting failed for good; `error` is what the caller receives. */
  onConnectFailed(error: unknown, attemptNumber: number, countAsFailure: boolean): void;
  /** A caller got a connection after waiting `ms`. */
  onAcquired(ms: number): void;
  onTimeout(error: IamAcquireTimeoutError): void;
  /** Close a connection that must not reach a caller, and report why. */
  retire(connection: CorePoolConnection, reason: RetirementReason): void;
  /** Give a connection back that its caller no longer waits for. */
  giveBack(connection: CorePoolConnection): void;
}

/** Thrown inside the retry loop once the caller has stopped waiting; 'final', so no retry follows. */
class AbandonedBorrow extends Error {}

interface Borrow {
  startedAt: number;
  deadline: number;
  /** Set once the caller got its answer (a connection, a timeout or an error). */
  settled: boolean;
  /** The error of the last failed connect attempt, reported by a timeout. */
  lastError: unknown;
  /** Our callback while mysql2 holds it in its wait queue. */
  queued: GetConnectionCallback | undefined;
  /** New connections that turned out to be on a reader (verifyWriter). */
  readerLandings?: number;
}

/**
 * `getConnection` with HikariCP's guarantees, on top of mysql2's own: bounded waiting
 * (`acquireTimeoutMs`), logins under the retry policy, and no connection reaching a caller that is
 * known dead, past its lifetime, or idle and not answering a ping. query() and execute() call
 * getConnection too, so they get the same.
 */
export class Acquirer {
  readonly #core: BoundaryPool;
  readonly #settings: AcquireSettings;
  readonly #lifetimes: ConnectionLifetimes;
  readonly #roles: ConnectionRoles;
  readonly #hooks: AcquireHooks;
  #waiting = 0;
  /** The deadlines of borrows waiting for a released connection, under one timer. */
  readonly #releaseWaits: DeadlineQueue;
  /** Set when mysql2 turned out to lack something we rely on: every borrow fails with it. */
  #driverError: Error | undefined;
  /** Connect attempts in a row, pool-wide, that failed on the network (reset by a login). */
  #networkFailuresInARow = 0;

  constructor(
    core: BoundaryPool,
    settings: AcquireSettings,
    lifetimes: ConnectionLifetimes,
    roles: ConnectionRoles,
    hooks: AcquireHooks,
  ) {
    this.#core = core;
    this.#releaseWaits = new DeadlineQueue(settings.acquireTimeoutMs);
    this.#settings = settings;
    this.#lifetimes = lifetimes;
    this.#roles = roles;
    this.#hooks = hooks;
  }

  /**
   * mysql2 lacks something the pool relies on (found on its first connection): fail every borrow
   * with this error instead of handing out connections the pool cannot manage.
   */
  failWith(error: Error): void {
    this.#driverError = error;
  }

  /** The pool ended: no deadline fires any more (end() answers every waiter itself). */
  close(): void {
    this.#releaseWaits.close();
  }

  /** A connection logged in: the endpoint answers again. */
  noteLogin(): void {
    this.#networkFailuresInARow = 0;
  }

  /**
   * True once a whole retry cycle's worth of connect attempts has failed in a row across the pool:
   * the endpoint is down. Borrows then make one attempt each instead of every caller retrying on
   * its own, so callers hear about the outage at once and a restarting server is not hammered.
   */
  #endpointDown(): boolean {
    return this.#networkFailuresInARow > this.#settings.retry.retries;
  }

  /** Callers waiting for a connection right now. */
  get waiting(): number {
    return this.#waiting;
  }

  /** A caller's getConnection (the pool's policy, see BoundaryPool). */
  getConnection(callback: GetConnectionCallback): void {
    if (this.#hooks.isEnding()) {
      process.nextTick(() => callback(new IamPoolClosedError()));
      return;
    }
    const driverError = this.#driverError;
    if (driverError) {
      process.nextTick(() => callback(driverError));
      return;
    }
    if (this.#core.hasFreeConnection()) {
      this.#borrowIdle(callback);
      return;
    }
    if (this.#core.isFull()) {
      this.#waitForRelease(callback);
      return;
    }
    this.#acquireFor(callback);
  }

  /**
   * The common case, kept cheap: an idle connection is there, mysql2 hands it over on the next
   * tick, and if it is fit no timer, retry loop or async context is needed. One that must be
   * pinged, retired or replaced goes down the full path.
   */
  #borrowIdle(callback: GetConnectionCallback): void {
    const startedAt = performance.now();
    this.#core.connectRaw((err, connection) => {
      if (err || !connection) {
        this.#acquireFor(callback);
        return;
      }
      this.#handOver(callback, connection, startedAt);
    });
  }

  /**
   * The pool is full, so no login can follow: wait in mysql2's own queue for a released
   * connection, with one timer for the deadline and none of the retry machinery (with more
   * callers than connections, most borrows wait here).
   */
  #waitForRelease(callback: GetConnectionCallback): void {
    const startedAt = performance.now();
    let waiting = true;
    let deadline: Deadline | undefined;
    const stopWaiting = () => {
      waiting = false;
      this.#waiting--;
      if (deadline) this.#releaseWaits.cancel(deadline);
    };
    const queued: GetConnectionCallback = (err, connection) => {
      if (!waiting) {
        // The caller gave up meanwhile: the connection goes to whoever waits next.
        if (connection) this.#hooks.giveBack(connection);
        return;
      }
      stopWaiting();
      if (err || !connection) {
        // mysql2 served this waiter with a new login (a connection had left the pool) and it
        // failed, or the pool is closing: the full path retries or reports it, same deadline.
        this.#acquireFor(callback, undefined, startedAt);
        return;
      }
      this.#handOver(callback, connection, startedAt);
    };
    this.#waiting++;
    deadline = this.#releaseWaits.add(() => {
      if (!waiting) return;
      this.#core.removeQueued(queued);
      const error = this.#timedOut(undefined); // reports the pool with this caller still waiting
      stopWaiting();
      callback(error);
    });
    this.#core.connectRaw(queued);
  }

  /** Hands a connection mysql2 gave us to the caller if it is fit, else takes the full path. */
  #handOver(callback: GetConnectionCallback, connection: CorePoolConnection, startedAt: number): void {
    if (this.#driverError) {
      this.#hooks.giveBack(connection);
      callback(this.#driverError);
      return;
    }
    if (
      !isKnownDead(connection) &&
      !this.#lifetimes.isRetired(connection) &&
      !this.#roles.isCondemned(connection) &&
      !this.#roles.needsCheck(connection) &&
      !this.#needsPing(connection) &&
      !this.#hooks.isEnding()
    ) {
      this.#lifetimes.borrowed(connection);
      this.#hooks.onAcquired(performance.now() - startedAt);
      callback(null, connection);
      return;
    }
    this.#acquireFor(callback, connection, startedAt);
  }

  /** The error a caller gets when its borrow ran out of time; reported to the hooks too. */
  #timedOut(lastError: unknown): IamAcquireTimeoutError {
    const error = new IamAcquireTimeoutError(
      this.#settings.acquireTimeoutMs,
      this.#settings.endpoint,
      this.#hooks.counts(),
      lastError === undefined ? undefined : toIamError(lastError, this.#settings.endpoint),
    );
    this.#hooks.onTimeout(error);
    return error;
  }

  #acquireFor(callback: GetConnectionCallback, candidate?: CorePoolConnection, startedAt?: number): void {
    // Answer outside the promise chain, so an exception in the callback is not swallowed.
    this.#acquire(candidate, startedAt).then(
      (connection) => process.nextTick(() => callback(null, connection)),
      (error: Error) => process.nextTick(() => callback(error)),
    );
  }

  #needsPing(connection: CorePoolConnection): boolean {
    return (
      this.#lifetimes.wasIdle(connection) &&
      this.#lifetimes.idleMs(connection) >= this.#settings.validateAfterIdleMs
    );
  }

  async #acquire(candidate?: CorePoolConnection, startedAt = performance.now()): Promise<CorePoolConnection> {
    const borrow: Borrow = {
      startedAt,
      deadline: startedAt + this.#settings.acquireTimeoutMs,
      settled: false,
      lastError: undefined,
      queued: undefined,
    };
    this.#waiting++;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          if (borrow.settled) return;
          // Leave mysql2's wait queue now, so the next released connection goes to someone waiting.
          if (borrow.queued) this.#core.removeQueued(borrow.queued);
          reject(this.#timedOut(borrow.lastError));
        },
        // The deadline counts from the start of the borrow, which may have waited on a cheaper path.
        Math.max(0, borrow.deadline - performance.now()),
      );
    });
    const borrowed = this.#borrow(borrow, candidate);
    // After a timeout the borrow still finishes in the background; its outcome is handled there.
    borrowed.catch(() => {});
    try {
      const connection = await Promise.race([borrowed, timedOut]);
      this.#hooks.onAcquired(performance.now() - startedAt);
      return connection;
    } finally {
      borrow.settled = true;
      clearTimeout(timer);
      this.#waiting--;
    }
  }

  /** Gets connections from mysql2 until one is fit to hand out. */
  async #borrow(borrow: Borrow, candidate?: CorePoolConnection): Promise<CorePoolConnection> {
    for (;;) {
      const connection = candidate ?? (await this.#connect(borrow));
      candidate = undefined;
      if (borrow.settled || this.#hooks.isEnding()) {
        this.#hooks.giveBack(connection);
        throw this.#hooks.isEnding() ? new IamPoolClosedError() : new AbandonedBorrow();
      }
      const unfit = await this.#unfitness(connection, borrow);
      if (unfit === undefined) {
        if (borrow.settled || this.#hooks.isEnding()) {
          this.#hooks.giveBack(connection);
          throw this.#hooks.isEnding() ? new IamPoolClosedError() : new AbandonedBorrow();
        }
        this.#lifetimes.borrowed(connection);
        return connection;
      }
      // Replaced before the caller saw it: nothing was sent on it, so nothing can have run twice.
      this.#hooks.retire(connection, unfit);
      if (unfit === 'not-writer') await this.#pauseBeforeNextWriterAttempt(borrow);
    }
  }

  /**
   * A new connection reached a reader: the writer endpoint's DNS still leads to the old writer
   * (a failover), which takes seconds to change. Wait a little before the next login (doubling from
   * the retry policy's minimum to half a second, so the record moving is noticed within that)
   * rather than log in as fast as the cap allows.
   */
  async #pauseBeforeNextWriterAttempt(borrow: Borrow): Promise<void> {
    borrow.readerLandings = (borrow.readerLandings ?? 0) + 1;
    const delay = Math.min(500, this.#settings.retry.minTimeoutMs * 2 ** (borrow.readerLandings - 1));
    const left = borrow.deadline - performance.now();
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
  }

  /** Why this connection must not be handed out, or undefined if it may. */
  async #unfitness(connection: CorePoolConnection, borrow: Borrow): Promise<RetirementReason | undefined> {
    if (isKnownDead(connection)) return 'dead';
    if (this.#lifetimes.isRetired(connection)) return 'max-lifetime';
    if (this.#roles.isCondemned(connection)) return 'read-only';
    if (this.#roles.needsCheck(connection)) {
      const left = borrow.deadline - performance.now();
      const onWriter = await this.#roles.isOnWriter(
        connection,
        Math.min(this.#settings.validationTimeoutMs, left),
      );
      if (onWriter === undefined) return isKnownDead(connection) ? 'dead' : 'failed-validation';
      if (!onWriter) return 'not-writer';
      return undefined;
    }
    if (this.#needsPing(connection)) {
      const left = borrow.deadline - performance.now();
      const alive = await answersPing(connection, Math.min(this.#settings.validationTimeoutMs, left));
      if (!alive) return 'failed-validation';
      if (isKnownDead(connection)) return 'dead';
    }
    return undefined;
  }

  /** One connection from mysql2 (idle, new, or after waiting in its queue), logins retried. */
  #connect(borrow: Borrow): Promise<CorePoolConnection> {
    let attempts = 0;
    const tryOnce = (): Promise<CorePoolConnection> => {
      if (this.#hooks.isEnding()) return Promise.reject(new IamPoolClosedError());
      if (borrow.settled) return Promise.reject(new AbandonedBorrow());
      if (attempts > 0 && this.#endpointDown()) {
        // Typed errors are final: no further retries for this borrow.
        return Promise.reject(toIamError(borrow.lastError, this.#settings.endpoint));
      }
      attempts++;
      return new Promise<CorePoolConnection>((resolve, reject) => {
        const callback: GetConnectionCallback = (err, connection) => {
          if (borrow.queued === callback) borrow.queued = undefined;
          if (err && !(err instanceof IamAuthError) && classifyConnectError(err) === 'transient') {
            this.#networkFailuresInARow++;
          }
          if (connection && this.#driverError) {
            this.#hooks.giveBack(connection);
            reject(this.#driverError);
          } else if (err || !connection) reject(err ?? new Error('mysql2 returned no connection'));
          else resolve(connection);
        };
        borrow.queued = callback;
        this.#core.connectRaw(callback);
      });
    };
    // The retry machinery starts only after a first failure; the first attempt's error is replayed
    // into it, so attempt numbers, hooks and backoff are exactly those of one retry loop.
    const retryAfter = (firstError: unknown) => {
      let replay = true;
      return connectWithRetry(
        () => {
          if (!replay) return tryOnce();
          replay = false;
          return Promise.reject(firstError);
        },
        this.#settings.retry,
        {
          onRetry: (failure, attemptNumber, error) => {
            borrow.lastError = error;
            this.#hooks.onRetry(failure, attemptNumber, error);
          },
        },
      );
    };
    return tryOnce()
      .catch((err: unknown) =>
        classifyConnectError(err) === 'final' ? Promise.reject(err) : retryAfter(err),
      )
      .catch((err: unknown) => {
        if (err instanceof AbandonedBorrow || err instanceof IamPoolClosedError) throw err;
        if (this.#hooks.isEnding() || isPoolClosedError(err)) {
          throw new IamPoolClosedError();
        }
        borrow.lastError = err;
        const error = isPoolRefusal(err)
          ? new IamPoolExhaustedError(this.#settings.endpoint, this.#hooks.counts(), err)
          : toIamError(err, this.#settings.endpoint);
        // mysql2's own refusals (queue limit, no waiting) are not failed connects.
        const countAsFailure = classifyConnectError(err) !== 'final' || !isPoolRefusal(err);
        if (!borrow.settled) this.#hooks.onConnectFailed(error, attempts, countAsFailure);
        throw error;
      });
  }
}
