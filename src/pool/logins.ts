import type { PoolConnection as CorePoolConnection } from 'mysql2';
import { type IamAuthError, IamConnectError } from '../errors.js';
import {
  classifyConnectError,
  type IamRetryOptions,
  retryWithBackoff,
  toIamError,
  tokenSentAt,
} from '../retry.js';
import type { PoolConnections } from './connections.js';
import type { LoginRateLimiter } from './login-rate.js';
import type { PoolReport } from './report.js';
import type { ConnectionRoute } from './routing.js';

/** Where new connections go, and what the logins need to know of the callers waiting for them. */
export interface LoginDemand {
  /** Callers waiting for a connection now. */
  waiting(): number;
  /** A new connection, logged in (and on the writer, when the pool needs it), for the next caller. */
  loggedIn(connection: CorePoolConnection): void;
  /** A login failed with an error no retry can fix: every waiting caller gets `error`. */
  failedForGood(error: IamAuthError): void;
}

export interface LoginSettings {
  retry: Required<IamRetryOptions>;
  /** host:port (and the address really dialled), for error messages. */
  endpoint: string;
  /** Bounds the writer check of a new connection. */
  validationTimeoutMs: number;
}

/** A login that no caller needed any more by the time its turn came. */
class LoginNotNeeded extends Error {}

/** A failed login, and the host it went to. */
class LoginFailed extends Error {
  readonly host: string | undefined;
  readonly failure: Error;
  constructor(failure: Error, host: string | undefined) {
    super(failure.message);
    this.failure = failure;
    this.host = host;
  }
}

/** Why a probe loop was stopped from outside. */
class ProbeRestarted extends Error {}

/**
 * Opens the connections that waiting callers need, no more, and decides what a failed attempt means.
 *
 * - Each login first waits for its turn under the pool's login rate cap, and only then opens a
 *   socket: the server never sees more new connections per second than the cap, and the wait does
 *   not count against `connectTimeout`. A turn that comes when no caller needs it any more (released
 *   connections served them, or they gave up) goes unused: the pool grows only as callers wait.
 * - While the endpoint fails (refused, reset, cut during TLS, restarting, a new connection on a
 *   reader when the pool needs the writer), one attempt at a time probes it, with backoff and jitter
 *   (retryWithBackoff); callers keep waiting until their own deadline. The first login that works
 *   ends this, and the waiting callers are served.
 * - A refused token is retried with a fresh one up to `retry.retries` times (counted per token, so
 *   many logins refused with the same token count once); then, like every error no retry can fix
 *   (TLS, not an IAM user, unknown database, ...), it goes to every waiting caller at once.
 */
export class PoolLogins {
  readonly #connections: PoolConnections;
  readonly #limiter: LoginRateLimiter;
  readonly #report: PoolReport;
  readonly #settings: LoginSettings;
  readonly #route: ConnectionRoute;
  #demand: LoginDemand | undefined;
  /** Logins started and not finished: waiting for a turn, connecting or being checked. */
  #inFlight = 0;
  #awaitingTurn = 0;
  /** The probe loop while the endpoint fails; undefined while it works. */
  #probe: AbortController | undefined;
  /** Distinct tokens in a row that the server refused. */
  #refusals = 0;
  #lastRefusedToken: number | undefined;
  /** When the refusals in a row began (performance.now()). */
  #refusedSince = 0;
  #lastFailure: { error: IamAuthError; at: number } | undefined;
  /** Whether a login ever worked: a failure after that is an outage, not a set-up problem. */
  #everLoggedIn = false;
  #closed = false;

  constructor(
    connections: PoolConnections,
    limiter: LoginRateLimiter,
    report: PoolReport,
    route: ConnectionRoute,
    settings: LoginSettings,
  ) {
    this.#connections = connections;
    this.#limiter = limiter;
    this.#report = report;
    this.#route = route;
    this.#settings = settings;
  }

  /** Who the new connections are for (the acquirer); set once, before the first login. */
  serve(demand: LoginDemand): void {
    this.#demand = demand;
  }

  /** Logins waiting for their turn under the rate cap (they hold no connection yet). */
  get awaitingTurn(): number {
    return this.#awaitingTurn;
  }

  /** Whether the endpoint is failing and logins probe it one at a time. */
  get probing(): boolean {
    return this.#probe !== undefined;
  }

  /**
   * The last failed attempt, if it is news to a caller that started waiting at `since`
   * (performance.now()): it failed after that, or the endpoint is still failing.
   */
  lastFailureFor(since: number): IamAuthError | undefined {
    const last = this.#lastFailure;
    if (last === undefined) return undefined;
    return last.at >= since || this.probing ? last.error : undefined;
  }

  /** Starts the logins the waiting callers need, while the endpoint works. */
  fill(): void {
    if (this.#closed || this.#probe !== undefined) return;
    let needed = this.#waiting() - this.#inFlight;
    while (needed > 0 && this.#connections.room() > this.#awaitingTurn) {
      this.#inFlight++;
      this.#login().then(
        (connection) => {
          this.#inFlight--;
          this.#succeeded(connection);
        },
        (error: Error) => {
          this.#inFlight--;
          this.#failed(error);
        },
      );
      needed--;
    }
  }

  /**
   * Something changed that makes an attempt worth making at once (the pool found the new writer of
   * an Aurora cluster): a probe waiting out its backoff tries again now.
   */
  retryNow(): void {
    if (this.#probe === undefined) return;
    this.#probe.abort(new ProbeRestarted());
    this.#startProbe(undefined);
  }

  /** The pool is ending: no login starts, and no timer is left behind. */
  close(): void {
    this.#closed = true;
    this.#probe?.abort(new ProbeRestarted());
    this.#probe = undefined;
  }

  #waiting(): number {
    return this.#demand?.waiting() ?? 0;
  }

  /**
   * One login: its turn under the cap, then TCP, TLS and IAM to the host the route chooses, then the
   * role check if owed. A failure comes back as LoginFailed, naming the host.
   */
  async #login(): Promise<CorePoolConnection> {
    await this.#route.ready();
    this.#awaitingTurn++;
    let granted: boolean;
    try {
      // The turn goes unused when, by then, the logins already connecting cover every waiting
      // caller (released connections served the others, or they gave up): no login nobody needs.
      granted = await this.#limiter.acquire(
        () =>
          this.#closed ||
          this.#connections.hasIdle() ||
          this.#waiting() <= this.#inFlight - this.#awaitingTurn,
      );
    } finally {
      this.#awaitingTurn--;
    }
    if (!granted || this.#closed || this.#connections.room() <= 0) throw new LoginNotNeeded();
    let host: string | undefined;
    const connection = await new Promise<CorePoolConnection>((resolve, reject) => {
      try {
        this.#connections.open((err, opened) =>
          err || !opened
            ? reject(new LoginFailed(err ?? new Error('mysql2 returned no connection'), host))
            : resolve(opened),
        );
      } catch (error) {
        // The route's address was unusable (see connectTo): thrown while mysql2 built the connection.
        reject(new LoginFailed(error as Error, host));
      }
      // The route chose while mysql2 created the connection, synchronously, inside open().
      host = this.#route.lastChosen;
    });
    const connections = this.#connections;
    if (connections.roles.needsCheck(connection)) {
      // A new connection of a pool that needs a role: checked before any caller sees it.
      const reason = await connections.check(connection, this.#settings.validationTimeoutMs);
      if (reason !== undefined) {
        connections.retire(connection, reason);
        const failure =
          reason === 'not-writer' || reason === 'not-reader'
            ? wrongRole(this.#settings.endpoint, reason)
            : new IamConnectError(
                `A new connection to ${this.#settings.endpoint} did not answer its first query`,
              );
        throw new LoginFailed(failure, host);
      }
    }
    if (host !== undefined) this.#route.succeeded(host);
    return connection;
  }

  #succeeded(connection: CorePoolConnection): void {
    this.#everLoggedIn = true;
    this.#refusals = 0;
    this.#lastRefusedToken = undefined;
    if (this.#closed || this.#demand === undefined) this.#connections.putBack(connection);
    else this.#demand.loggedIn(connection);
    this.fill();
  }

  /**
   * A login of the healthy path failed: another host takes the next attempt (a reader pool), or the
   * endpoint is probed, or the callers fail.
   */
  #failed(error: Error): void {
    if (this.#closed) return;
    if (error instanceof LoginNotNeeded) {
      this.fill();
      return;
    }
    const { failure, host } = error instanceof LoginFailed ? error : { failure: error, host: undefined };
    if (!this.#retrying(failure, 1)) {
      this.#finalFailure(failure, 1);
      return;
    }
    if (host !== undefined && this.#route.failed(host) === 'elsewhere') {
      this.fill();
      return;
    }
    // Several logins of the healthy path can fail together: one probe is enough.
    if (this.#probe === undefined) this.#startProbe(failure);
  }

  /**
   * Probes the endpoint, one attempt at a time with backoff, until a login works (the callers are
   * served and the pool fills again), fails for good, or nobody waits any more. `firstError` is the
   * failure that started it: replayed as attempt 1, so the backoff and attempt numbers count it.
   */
  #startProbe(firstError: Error | undefined): void {
    if (this.#closed) return;
    const probe = new AbortController();
    this.#probe = probe;
    let replay = firstError;
    retryWithBackoff(
      async () => {
        if (replay !== undefined) {
          const error = replay;
          replay = undefined;
          throw error;
        }
        if (this.#waiting() === 0) throw new LoginNotNeeded();
        this.#inFlight++;
        let connection: CorePoolConnection;
        try {
          connection = await this.#login();
        } finally {
          this.#inFlight--;
        }
        if (probe.signal.aborted) {
          // Restarted or closed while this login ran: the loop drops results, so deliver it here.
          this.#succeeded(connection);
          throw new LoginNotNeeded();
        }
        return connection;
      },
      this.#settings.retry,
      {
        signal: probe.signal,
        shouldRetry: (error, attemptNumber) => {
          if (error instanceof LoginNotNeeded || this.#waiting() === 0) return false;
          // The replayed failure was judged (and reported) when it happened.
          if (error === firstError) return true;
          if (!(error instanceof LoginFailed)) return this.#retrying(error, attemptNumber);
          if (error.host !== undefined) this.#route.failed(error.host);
          return this.#retrying(error.failure, attemptNumber);
        },
      },
    ).then(
      (connection) => {
        if (this.#probe === probe) this.#probe = undefined;
        this.#succeeded(connection);
      },
      (error: Error) => {
        if (this.#probe !== probe) return; // restarted or closed
        this.#probe = undefined;
        if (error instanceof LoginNotNeeded || this.#waiting() === 0) return;
        this.#finalFailure(error instanceof LoginFailed ? error.failure : error, 0);
      },
    );
  }

  /** Whether a failed attempt is worth retrying; reports it as a retry if so. */
  #retrying(error: Error, attempt: number): boolean {
    const failure = classifyConnectError(error);
    if (failure === 'final') return false;
    if (failure === 'auth-rejected') {
      const token = tokenSentAt(error);
      if (token === undefined || token !== this.#lastRefusedToken) {
        if (this.#refusals === 0) this.#refusedSince = performance.now();
        this.#refusals++;
      }
      this.#lastRefusedToken = token;
      // Final once more than `retries` fresh tokens were refused and the refusals have lasted at
      // least `maxTimeoutMs`: a server that refuses for a moment (throttling new IAM logins, a
      // burst of refusals) is outlasted, one that refuses every token (no rds-db:connect policy,
      // not an IAM user on the server side) fails its callers within seconds, not at their deadline.
      // `retries: 0` asks for no retry at all: the first refusal is final.
      const { retries, maxTimeoutMs } = this.#settings.retry;
      const lasted = performance.now() - this.#refusedSince;
      if (this.#refusals > retries && (retries === 0 || lasted >= maxTimeoutMs)) return false;
    } else {
      this.#connections.writerMayHaveMoved();
    }
    const typed = toIamError(error, this.#settings.endpoint, { outage: this.#everLoggedIn });
    this.#lastFailure = { error: typed, at: performance.now() };
    this.#report.retrying(failure, attempt, error, typed);
    return true;
  }

  #finalFailure(error: unknown, attempt: number): void {
    this.#refusals = 0;
    this.#lastRefusedToken = undefined;
    const typed = toIamError(error, this.#settings.endpoint);
    this.#lastFailure = { error: typed, at: performance.now() };
    this.#report.failedForGood(typed, attempt);
    this.#demand?.failedForGood(typed);
    this.fill();
  }
}

/** A new connection reached the wrong role: the endpoint leads elsewhere for now (a failover). */
function wrongRole(endpoint: string, reason: 'not-writer' | 'not-reader'): IamConnectError {
  if (reason === 'not-reader') {
    return new IamConnectError(
      `A new connection to ${endpoint} reached the writer, not a reader`,
      undefined,
      'No reader instance took the connection (a reader was promoted, or the cluster has no reader ' +
        'now). The reader pool keeps trying until acquireTimeoutMs, and never reads from the writer ' +
        'unless its fallback to the writer is on; nothing was sent, so the request is safe to retry.',
    );
  }
  return new IamConnectError(
    `A new connection to ${endpoint} reached a read-only instance, not the writer`,
    undefined,
    'The cluster endpoint still leads to an instance that is no longer the writer (an Aurora failover ' +
      'in progress; its DNS record moves within seconds of the promotion). The pool keeps trying ' +
      'until acquireTimeoutMs; nothing was sent on the connection, so a request that failed on it is ' +
      'safe to retry.',
  );
}
