import type { PoolConnection as CorePoolConnection } from 'mysql2';
import type { RetirementReason } from '../diagnostics.js';
import type { PoolConnectionCounts } from '../errors.js';
import {
  assertConnectionContract,
  type BoundaryPool,
  destroyConnection,
  type GetConnectionCallback,
  isKnownDead,
  quitConnection,
  watchStatementErrors,
} from '../mysql2-boundary.js';
import type { ConnectionLifetimes } from './lifetime.js';
import type { PoolReport } from './report.js';
import type { ConnectionRoles } from './roles.js';
import type { MonitorConnection } from './topology.js';
import { answersPing } from './validate.js';

/** Where signs of a failover go (the Aurora topology, when the pool follows one). */
export interface FailoverSigns {
  /** The writer may be gone: look for it. */
  writerMayHaveMoved(): void;
}

export interface ConnectionSettings {
  /** A connection idle at least this long is pinged before it is handed out. */
  validateAfterIdleMs: number;
  /** How long that ping (or a role check) may take. */
  validationTimeoutMs: number;
  /** Connections retire at a random age below this; 0 = never. */
  maxLifetimeMs: number;
}

/** What a borrow may do with a connection: hand it out, check it first, or retire it and why. */
export type Verdict = 'fit' | 'check' | RetirementReason;

/**
 * The pool's connections and what becomes of them: the mysql2 pool that holds them, when each one
 * opened and retires, which role it is on, and retirement (closing one on purpose, counted and
 * reported). Every decision about a single connection is made here; who gets it is the acquirer's.
 */
export class PoolConnections {
  readonly mysql2: BoundaryPool;
  readonly lifetimes: ConnectionLifetimes;
  readonly roles: ConnectionRoles;
  readonly #report: PoolReport;
  readonly #settings: ConnectionSettings;
  readonly #failover: FailoverSigns | undefined;
  /** Called when a connection became idle and may serve a waiting caller. */
  #onIdle: () => void = () => {};
  #closing = false;
  /** Closes idle connections past their lifetime even when nobody borrows them. */
  readonly #housekeeping: NodeJS.Timeout | undefined;
  /** Set when mysql2 turned out to lack something we rely on (found on its first connection). */
  #driverError: Error | undefined;
  #contractChecked = false;

  constructor(
    mysql2: BoundaryPool,
    parts: { lifetimes: ConnectionLifetimes; roles: ConnectionRoles; report: PoolReport },
    settings: ConnectionSettings,
    failover: FailoverSigns | undefined,
  ) {
    this.mysql2 = mysql2;
    this.lifetimes = parts.lifetimes;
    this.roles = parts.roles;
    this.#report = parts.report;
    this.#settings = settings;
    this.#failover = failover;
    mysql2.on('connection', (connection: CorePoolConnection) => this.#opened(connection));
    mysql2.on('release', (connection: CorePoolConnection) => this.#released(connection));
    if (settings.maxLifetimeMs > 0) {
      // Often enough that an idle connection outlives its lifetime by about 2% at most.
      const everyMs = Math.min(30_000, Math.max(1000, settings.maxLifetimeMs / 60));
      this.#housekeeping = setInterval(() => this.#retireExpiredIdle(), everyMs);
      this.#housekeeping.unref();
    }
  }

  /** `onIdle` runs whenever a connection goes back to the pool fit to serve again. */
  whenIdle(onIdle: () => void): void {
    this.#onIdle = onIdle;
  }

  get driverError(): Error | undefined {
    return this.#driverError;
  }

  /** The pool is ending: released connections are closed instead of kept. */
  close(): void {
    this.#closing = true;
    clearInterval(this.#housekeeping);
  }

  counts(waiting: number, awaitingTurn: number): PoolConnectionCounts {
    const { all, free } = this.mysql2.counts();
    // Logins past what the pool has room for give up their turn when it comes: not counted.
    const awaiting = Math.min(awaitingTurn, Math.max(0, this.room()));
    let connecting = 0;
    for (const connection of this.mysql2.allConnections()) {
      if (!this.lifetimes.isOpen(connection)) connecting++;
    }
    return {
      total: all + awaiting,
      idle: free,
      borrowed: all - free - connecting,
      opening: awaiting + connecting,
      waiting,
    };
  }

  hasIdle(): boolean {
    return this.mysql2.hasFreeConnection();
  }

  /** How many more connections may be opened (Infinity for `connectionLimit: 0`, if mysql2 allowed it). */
  room(): number {
    return this.mysql2.room();
  }

  /** Takes an idle connection (the most recently released); `callback` gets it on the next tick. */
  takeIdle(callback: GetConnectionCallback): void {
    this.mysql2.mysql2GetConnection(callback);
  }

  /** Opens a new connection (there is room and nothing idle): TCP, TLS and the IAM login. */
  open(callback: GetConnectionCallback): void {
    this.mysql2.mysql2GetConnection(callback);
  }

  /**
   * What may be done with `connection` now, without asking the server: hand it out ('fit'), check
   * it first ('check': a ping after it sat idle, or a role check), or retire it for the reason given.
   * `now`: a monotonicNow() reading the caller already took, if it has one (see ConnectionLifetimes).
   */
  verdict(connection: CorePoolConnection, now?: number): Verdict {
    if (isKnownDead(connection)) return 'dead';
    const age = this.lifetimes.onBorrow(connection, this.#settings.validateAfterIdleMs, now);
    if (age === 'retired') return 'max-lifetime';
    const retiring = this.roles.retirementOf(connection);
    if (retiring !== undefined) return retiring;
    if (age === 'ping' || this.roles.needsCheck(connection)) return 'check';
    return 'fit';
  }

  /**
   * Asks the server what 'check' stood for, within `timeoutMs`: resolves with the reason to retire
   * the connection, or undefined when it may serve.
   */
  async check(connection: CorePoolConnection, timeoutMs: number): Promise<RetirementReason | undefined> {
    const bound = Math.min(this.#settings.validationTimeoutMs, timeoutMs);
    if (this.roles.needsCheck(connection)) {
      const reason = await this.roles.check(connection, bound);
      if (reason === 'failed-validation' && isKnownDead(connection)) return 'dead';
      return reason;
    }
    if (!(await answersPing(connection, bound))) return 'failed-validation';
    return isKnownDead(connection) ? 'dead' : undefined;
  }

  /**
   * An idle connection lent for one statement of the pool's own (the topology's periodic read); its
   * `destroy()` gives it back. Undefined when none is idle or the pool is ending.
   */
  lend(): Promise<MonitorConnection | undefined> {
    if (this.#closing || !this.hasIdle()) return Promise.resolve(undefined);
    return new Promise((resolve) =>
      this.takeIdle((err, connection) => {
        if (err || !connection) return resolve(undefined);
        if (isKnownDead(connection)) {
          this.retire(connection, 'dead');
          return resolve(undefined);
        }
        this.lifetimes.borrowed(connection);
        resolve({ query: connection.query.bind(connection), destroy: () => this.putBack(connection) });
      }),
    );
  }

  /**
   * Whether a connection being released may go straight to a caller who waits (see
   * Acquirer#takeReleased), judged as #released would judge it, at `now` (monotonicNow()). False
   * sends it the usual way, through mysql2's idle list and #released, which retires it or checks it.
   */
  mayHandOn(connection: CorePoolConnection, now: number): boolean {
    return this.#afterRelease(connection, this.lifetimes.isRetired(connection, now)) === undefined;
  }

  /** The connection goes to a caller. */
  handedOut(connection: CorePoolConnection): void {
    this.lifetimes.borrowed(connection);
  }

  /** A connection no caller took after all: back to the pool (closed, once the pool is ending). */
  putBack(connection: CorePoolConnection): void {
    if (this.#closing) quitConnection(connection);
    else connection.release();
  }

  /**
   * Closes a connection that must not serve again, and reports why. A connection at the end of its
   * life is still healthy and gets a goodbye (COM_QUIT); a broken one would not hear it.
   */
  retire(connection: CorePoolConnection, reason: RetirementReason): void {
    if (reason === 'max-lifetime') quitConnection(connection);
    else destroyConnection(connection);
    this.#report.retired(connection, reason, this.lifetimes.ageMs(connection));
    // A connection found dead, or on a reader, or read-only, may mean the writer failed over.
    if (
      reason === 'dead' ||
      reason === 'failed-validation' ||
      reason === 'read-only' ||
      reason === 'not-writer'
    ) {
      this.writerMayHaveMoved();
    }
  }

  /** A sign that the writer may be gone (a lost connection, a failed connect, a reader reached). */
  writerMayHaveMoved(): void {
    this.#failover?.writerMayHaveMoved();
  }

  /** The pool followed a failover to `writerHost`: connections elsewhere must not serve again. */
  writerMoved(writerHost: string): void {
    this.moveOff(
      this.mysql2.allConnections().filter((c) => c.config.host !== writerHost),
      'writer-changed',
    );
  }

  /** These connections must not serve again: idle ones are retired now, borrowed ones when released. */
  moveOff(connections: CorePoolConnection[], reason: RetirementReason): void {
    const idle = new Set(this.mysql2.freeConnections());
    for (const connection of connections) {
      if (idle.has(connection)) this.retire(connection, reason);
      else this.roles.retireLater(connection, reason);
    }
  }

  #retireExpiredIdle(): void {
    for (const connection of this.mysql2.freeConnections()) {
      if (this.lifetimes.isRetired(connection)) this.retire(connection, 'max-lifetime');
    }
  }

  #opened(connection: CorePoolConnection): void {
    if (!this.#contractChecked) {
      this.#contractChecked = true;
      try {
        assertConnectionContract(connection);
      } catch (error) {
        // Thrown here it would escape from inside mysql2's connect callback; every borrow gets it.
        this.#driverError = error as Error;
      }
    }
    this.lifetimes.opened(connection);
    watchStatementErrors(connection, (error) => this.#statementFailed(connection, error));
    // mysql2 emits 'error' on a connection the server closed while no command ran (an idle one):
    // the writer going away closes them all. Connections the pool closes itself emit no error.
    connection.on('error', (error: { fatal?: unknown }) => {
      if (error?.fatal === true && !this.#closing) this.writerMayHaveMoved();
    });
  }

  #statementFailed(connection: CorePoolConnection, error: { errno?: unknown; fatal?: unknown }): void {
    // A read-only error is checked when the connection comes back (see #released); a lost
    // connection is a sign of its own.
    this.roles.statementFailed(connection, error);
    if (error.fatal === true && !this.#closing) this.writerMayHaveMoved();
  }

  #released(connection: CorePoolConnection): void {
    const needs = this.#afterRelease(connection, this.lifetimes.released(connection));
    if (needs === undefined) this.#onIdle();
    else if (needs === 'quit') quitConnection(connection);
    else if (needs === 'recheck') this.#recheck(connection);
    else this.retire(connection, needs);
  }

  /**
   * What a released connection needs before it may serve again: closing (the pool is ending),
   * retirement and why, a check of its read-only error, or nothing (undefined). #released acts on it,
   * and mayHandOn hands on only a connection that needs nothing, so the two cannot drift apart.
   */
  #afterRelease(
    connection: CorePoolConnection,
    pastLifetime: boolean,
  ): 'quit' | 'recheck' | RetirementReason | undefined {
    if (this.#closing) return 'quit';
    const retiring = this.roles.retirementOf(connection);
    if (retiring !== undefined) return retiring;
    if (pastLifetime) return 'max-lifetime';
    if (this.roles.sawReadOnlyError(connection)) return 'recheck';
    return undefined;
  }

  /**
   * A statement on this connection failed with a read-only error: before it serves again, ask the
   * server whether it really is read-only (a failover) or the error came from the statement
   * (`SIGNAL`, a read-only transaction). It was just released, so it is the idle connection
   * mysql2 hands out next.
   */
  #recheck(connection: CorePoolConnection): void {
    this.takeIdle((err, taken) => {
      if (err || !taken) return;
      if (taken !== connection) {
        // Someone else's connection (cannot happen while the release runs synchronously): put it back.
        this.putBack(taken);
        return;
      }
      void this.check(connection, this.#settings.validationTimeoutMs).then((reason) => {
        if (reason === undefined) this.putBack(connection);
        else this.retire(connection, reason);
      });
    });
  }
}
