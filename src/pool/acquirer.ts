import type { PoolConnection as CorePoolConnection } from 'mysql2';
import {
  IamAcquireTimeoutError,
  type IamAuthError,
  IamPoolClosedError,
  IamPoolExhaustedError,
  type PoolConnectionCounts,
} from '../errors.js';
import { type GetConnectionCallback, handOnReleased } from '../mysql2-boundary.js';
import { monotonicNow } from './clock.js';
import type { PoolConnections } from './connections.js';
import type { LoginDemand, PoolLogins } from './logins.js';
import type { PoolReport } from './report.js';
import { type Place, WaitQueue } from './wait-queue.js';

export interface AcquireSettings {
  acquireTimeoutMs: number;
  /** host:port, for error messages. */
  endpoint: string;
  /** mysql2's `queueLimit`: the most callers that may wait (0 = no limit). */
  queueLimit: number;
  /** mysql2's `waitForConnections`: false refuses a borrow at once when the pool is full. */
  waitForConnections: boolean;
}

/** One caller's getConnection, until it has its answer. */
interface Borrow {
  readonly callback: GetConnectionCallback;
  /**
   * When the caller asked, on the acquirer's clock. Left unread while the borrow takes an idle connection
   * that needs no check (most borrows of a busy pool): its acquire time is then below what the stats
   * resolve (0.01 ms), and a clock read costs a noticeable part of what the pool adds per query
   * (docs/performance.md, "Hot path"). Read as soon as anything needs it (see #deadline).
   */
  startedAt: number | undefined;
  /** Its place in the wait queue, while it waits there. */
  place: Place<Borrow> | undefined;
  /** Set once the caller has its answer (a connection, a timeout or an error). */
  settled: boolean;
}

/**
 * `getConnection` with HikariCP's guarantees on top of mysql2's pool: a caller waits, first come
 * first served, until its own deadline (`acquireTimeoutMs`) for an idle connection, a released one
 * or a new login, and never gets a connection that is known dead, past its lifetime, on the wrong
 * role, or idle and not answering a ping. It fails before its deadline only when the pool ends, a
 * login fails with an error no retry can fix, or mysql2's `queueLimit` / `waitForConnections` say
 * so; other callers' failures never fail it. query() and execute() call getConnection too.
 */
export class Acquirer {
  readonly #connections: PoolConnections;
  readonly #logins: PoolLogins;
  readonly #report: PoolReport;
  readonly #settings: AcquireSettings;
  readonly #waiters: WaitQueue<Borrow>;
  /** Borrows taking an idle connection, which mysql2 answers in this order (see #tookIdle). */
  readonly #taking: Borrow[] = [];
  /** Borrows whose connection is being checked (a ping, a role check): not in the queue. */
  readonly #checking = new Set<Borrow>();
  /** monotonicNow, the clock of the logins' failure times too; unit tests pass their fake timers' clock. */
  readonly #now: () => number;
  #closed = false;

  constructor(
    connections: PoolConnections,
    logins: PoolLogins,
    report: PoolReport,
    settings: AcquireSettings,
    now: () => number = monotonicNow,
  ) {
    this.#connections = connections;
    this.#logins = logins;
    this.#report = report;
    this.#settings = settings;
    this.#now = now;
    this.#waiters = new WaitQueue((borrow) => this.#timedOut(borrow), now);
    logins.serve(this.#demand());
    connections.whenIdle(() => this.serveWaiters());
  }

  /** Callers waiting for a connection right now. */
  get waiting(): number {
    return this.#waiters.size + this.#checking.size;
  }

  /** The pool right now, as errors and stats report it. */
  counts(): PoolConnectionCounts {
    return this.#connections.counts(this.waiting, this.#logins.awaitingTurn);
  }

  /** A caller's getConnection (the pool's policy, see BoundaryPool). */
  getConnection(callback: GetConnectionCallback): void {
    const refusal = this.#closed ? new IamPoolClosedError() : this.#connections.driverError;
    if (refusal !== undefined) {
      process.nextTick(() => callback(refusal));
      return;
    }
    const borrow: Borrow = { callback, startedAt: undefined, place: undefined, settled: false };
    // The common case, kept cheap: nobody waits and a connection is idle.
    if (this.#waiters.size === 0 && this.#connections.hasIdle()) {
      this.#takeIdle(borrow);
      return;
    }
    borrow.startedAt = this.#now();
    const exhausted = this.#exhausted();
    if (exhausted !== undefined) {
      process.nextTick(() => callback(exhausted));
      return;
    }
    this.#wait(borrow);
    this.#logins.fill();
  }

  /** An idle connection may serve a waiting caller (one was released, or one left and made room). */
  serveWaiters(): void {
    while (this.#waiters.size > 0 && this.#connections.hasIdle()) {
      this.#takeIdle(this.#waiters.shift() as Borrow);
    }
    this.#logins.fill();
  }

  /**
   * A borrowed connection is being released while callers wait: the first of them gets it on the
   * next tick, as mysql2's own pool hands a released connection to its queue, rather than through
   * mysql2's idle list, its events and a take (a busy pool does this for most queries). False leaves
   * the connection to mysql2: nobody waits, or it must be retired or checked first (see
   * PoolConnections#mayHandOn). The one clock reading serves its lifetime and the acquire time.
   */
  takeReleased(connection: CorePoolConnection): boolean {
    if (this.#waiters.size === 0) return false;
    const now = this.#now();
    if (!this.#connections.mayHandOn(connection, now)) return false;
    process.nextTick(this.#handOn, this.#waiters.shift() as Borrow, connection, now);
    return true;
  }

  readonly #handOn = (borrow: Borrow, connection: CorePoolConnection, now: number): void => {
    handOnReleased(connection);
    this.#handOver(borrow, connection, now);
  };

  /** The pool is ending: every caller still waiting gets IamPoolClosedError now. */
  close(): void {
    this.#closed = true;
    this.#logins.close();
    const error = new IamPoolClosedError();
    for (const borrow of this.#waiters.close()) this.#fail(borrow, error);
    for (const borrow of this.#checking) this.#fail(borrow, error);
    this.#checking.clear();
  }

  #takeIdle(borrow: Borrow): void {
    this.#taking.push(borrow);
    this.#connections.takeIdle(this.#tookIdle);
  }

  /**
   * mysql2's answer to the oldest #takeIdle (BoundaryPool#mysql2GetConnection answers in order):
   * one callback for every borrow, rather than a closure allocated per query.
   */
  readonly #tookIdle: GetConnectionCallback = (err, connection) => {
    const borrow = this.#taking.shift();
    if (borrow === undefined) {
      if (connection) this.#connections.putBack(connection);
      return;
    }
    if (err || !connection) this.#waitAgain(borrow);
    else this.#handOver(borrow, connection);
  };

  /**
   * Hands `connection` to the caller if it is fit; otherwise retires it and the caller waits on.
   * `now`: a clock reading taken for this hand-over, if there is one; a caller who waited
   * needs one for its acquire time, and the connection's lifetime check shares it.
   */
  #handOver(borrow: Borrow, connection: CorePoolConnection, now?: number): void {
    const at = now ?? (borrow.startedAt === undefined ? undefined : this.#now());
    const verdict = this.#connections.verdict(connection, at);
    if (verdict === 'fit') {
      this.#give(borrow, connection, at);
      return;
    }
    if (verdict !== 'check') {
      this.#connections.retire(connection, verdict);
      this.#waitAgain(borrow);
      return;
    }
    this.#checking.add(borrow);
    const left = this.#deadline(borrow) - this.#now();
    void this.#connections.check(connection, left).then((reason) => {
      this.#checking.delete(borrow);
      if (reason === undefined) {
        this.#give(borrow, connection);
        return;
      }
      // Replaced before the caller saw it: nothing was sent on it, so nothing can have run twice.
      this.#connections.retire(connection, reason);
      this.#waitAgain(borrow);
    });
  }

  #give(borrow: Borrow, connection: CorePoolConnection, now?: number): void {
    if (borrow.settled) {
      // The caller gave up (or the pool ended) meanwhile: the connection goes to whoever waits next.
      this.#connections.putBack(connection);
      return;
    }
    // The pool ended (or mysql2 lacks something) while the connection was on its way to the caller.
    const refusal = this.#closed ? new IamPoolClosedError() : this.#connections.driverError;
    if (refusal !== undefined) {
      this.#connections.putBack(connection);
      this.#fail(borrow, refusal);
      return;
    }
    borrow.settled = true;
    this.#connections.handedOut(connection);
    const { startedAt } = borrow;
    this.#report.acquired(startedAt === undefined ? 0 : (now ?? this.#now()) - startedAt);
    borrow.callback(null, connection);
  }

  #wait(borrow: Borrow): void {
    borrow.place = this.#waiters.add(borrow, this.#deadline(borrow));
  }

  /** When the borrow fails with IamAcquireTimeoutError, at the latest. */
  #deadline(borrow: Borrow): number {
    borrow.startedAt ??= this.#now();
    return borrow.startedAt + this.#settings.acquireTimeoutMs;
  }

  /** The connection meant for `borrow` was unfit: back in line at its old deadline. */
  #waitAgain(borrow: Borrow): void {
    if (borrow.settled) return;
    if (this.#closed) {
      this.#fail(borrow, new IamPoolClosedError());
      return;
    }
    if (this.#now() >= this.#deadline(borrow)) {
      this.#timedOut(borrow);
      return;
    }
    this.#wait(borrow);
    this.serveWaiters();
  }

  #timedOut(borrow: Borrow): void {
    if (borrow.settled) return;
    borrow.settled = true;
    const counts = this.counts();
    counts.waiting++; // this caller, out of the queue by now, was waiting too
    const error = new IamAcquireTimeoutError(
      this.#settings.acquireTimeoutMs,
      this.#settings.endpoint,
      counts,
      this.#logins.lastFailureFor(borrow.startedAt ?? this.#now()),
    );
    this.#report.timedOut(error);
    borrow.callback(error);
  }

  #fail(borrow: Borrow, error: Error): void {
    if (borrow.settled) return;
    borrow.settled = true;
    if (borrow.place !== undefined) this.#waiters.remove(borrow.place);
    // Answered outside whatever called us (a login callback, end()), so a throwing caller cannot break it.
    process.nextTick(() => borrow.callback(error));
  }

  /** mysql2's refusals, which this pool keeps: `queueLimit` waiting, or full without waiting. */
  #exhausted(): IamPoolExhaustedError | undefined {
    const { queueLimit, waitForConnections } = this.#settings;
    if (queueLimit === 0 && waitForConnections) return undefined; // the defaults: nothing to refuse
    const full = this.#connections.room() <= this.#logins.awaitingTurn;
    if ((queueLimit > 0 && this.#waiters.size >= queueLimit) || (!waitForConnections && full)) {
      return new IamPoolExhaustedError(this.#settings.endpoint, this.counts());
    }
    return undefined;
  }

  /** What the logins serve: the callers in the queue. */
  #demand(): LoginDemand {
    return {
      waiting: () => this.#waiters.size,
      loggedIn: (connection) => {
        const borrow = this.#waiters.shift();
        if (borrow === undefined) this.#connections.putBack(connection);
        else this.#handOver(borrow, connection);
      },
      failedForGood: (error: IamAuthError) => {
        for (let borrow = this.#waiters.shift(); borrow !== undefined; borrow = this.#waiters.shift()) {
          this.#fail(borrow, error);
        }
      },
    };
  }
}
