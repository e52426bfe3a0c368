import type { PoolConnection as CorePoolConnection } from 'mysql2';
import {
  type ConnectionRetiredMessage,
  type PoolIdentity,
  publishAcquireTimeout,
  publishConnectionRetired,
  publishLoginFailed,
  publishTopologyChanged,
  type RetirementReason,
  type TopologyChangedMessage,
} from '../diagnostics.js';
import type { IamAcquireTimeoutError } from '../errors.js';
import type { IamLoginEvents } from '../login/login.js';
import type { ConnectFailure } from '../retry.js';
import { type AcquireTimePercentiles, AcquireTimes } from './acquire-times.js';

/** What a pool counts on top of its logins' counts (see IamPoolStats). */
export interface PoolCounters {
  /** Connect attempts that failed (each retry counts). */
  connectFailures: number;
  /** Retries after the server refused a token. */
  authRetries: number;
  /** Retries after a network error while connecting, or a new connection on a reader. */
  transientRetries: number;
  /** Connections closed at their maximum lifetime. */
  connectionsRetired: number;
  /** Connections found dead (closed, or idle and not answering a ping) when borrowed, and replaced. */
  deadOnBorrow: number;
  /** Borrows that gave up after `acquireTimeoutMs`. */
  acquireTimeouts: number;
  /**
   * Connections closed for being on the wrong role: on a server the pool confirmed read-only after a
   * statement failed with a read-only error, new on a reader although the pool needs the writer
   * (`verifyWriter`), or left on the old writer when the pool followed a failover.
   */
  wrongRoleRetired: number;
  /** Borrowed connections that end() closed because they were not released within `endTimeoutMs`. */
  connectionsInterrupted: number;
  /** A reader pool's connections moved to keep its readers evenly loaded (see ReaderRoute). */
  connectionsRebalanced: number;
}

/** The events a pool adds to its logins' events. */
export interface IamPoolEvents extends IamLoginEvents {
  /** A connect attempt failed and will be retried. */
  retry: [{ attempt: number; reason: 'auth-rejected' | 'transient'; code: string | undefined }];
  /** A connect failed for good; the callers waiting received this error. */
  connectFailed: [{ error: unknown }];
  /** The pool closed a connection on purpose (lifetime, failed validation, wrong role, end timeout). */
  connectionRetired: [ConnectionRetiredMessage];
  /** A borrow gave up after `acquireTimeoutMs`; the caller received this error. */
  acquireTimeout: [{ error: IamAcquireTimeoutError }];
  /** The pool found the (new) writer of an Aurora cluster and sends new connections there. */
  topologyChanged: [TopologyChangedMessage];
}

type Emit = <K extends keyof IamPoolEvents>(event: K, ...args: IamPoolEvents[K]) => void;

/**
 * What a pool tells the world: its counters, acquire times, the events on `pool.iam`, and the
 * `node:diagnostics_channel` messages. Every report of the pool goes through here, so an event and
 * its counter and its channel message never disagree.
 */
export class PoolReport {
  readonly identity: PoolIdentity;
  readonly #emit: Emit;
  readonly #counters: PoolCounters = {
    connectFailures: 0,
    authRetries: 0,
    transientRetries: 0,
    connectionsRetired: 0,
    deadOnBorrow: 0,
    acquireTimeouts: 0,
    wrongRoleRetired: 0,
    connectionsInterrupted: 0,
    connectionsRebalanced: 0,
  };
  readonly #acquireTimes = new AcquireTimes();

  constructor(identity: PoolIdentity, emit: Emit) {
    this.identity = identity;
    this.#emit = emit;
  }

  counters(): PoolCounters {
    return { ...this.#counters };
  }

  acquireTimes(): AcquireTimePercentiles {
    return this.#acquireTimes.percentiles();
  }

  /** A caller got a connection after waiting `ms`. */
  acquired(ms: number): void {
    this.#acquireTimes.record(ms);
  }

  /** A connect attempt failed and another will follow. */
  retrying(failure: Exclude<ConnectFailure, 'final'>, attempt: number, error: unknown, typed: unknown): void {
    this.#counters.connectFailures++;
    this.#counters[failure === 'auth-rejected' ? 'authRetries' : 'transientRetries']++;
    const { code, errno } = errorFacts(error);
    this.#emit('retry', { attempt, reason: failure, code });
    publishLoginFailed({
      ...this.identity,
      attempt,
      reason: failure,
      willRetry: true,
      code,
      errno,
      error: typed,
    });
  }

  /** A connect attempt failed for good; `error` is what the waiting callers receive. */
  failedForGood(error: unknown, attempt: number): void {
    this.#counters.connectFailures++;
    this.#emit('connectFailed', { error });
    const { code, errno } = errorFacts(error);
    publishLoginFailed({ ...this.identity, attempt, reason: 'final', willRetry: false, code, errno, error });
  }

  timedOut(error: IamAcquireTimeoutError): void {
    this.#counters.acquireTimeouts++;
    this.#emit('acquireTimeout', { error });
    publishAcquireTimeout({ ...this.identity, timeoutMs: error.timeoutMs, pool: error.pool, error });
  }

  retired(connection: CorePoolConnection, reason: RetirementReason, ageMs: number): void {
    this.#counters[RETIREMENT_COUNTER[reason]]++;
    const message: ConnectionRetiredMessage = {
      ...this.identity,
      reason,
      threadId: connection.threadId ?? undefined,
      ageMs,
    };
    this.#emit('connectionRetired', message);
    publishConnectionRetired(message);
  }

  topologyChanged(message: Omit<TopologyChangedMessage, keyof PoolIdentity>): void {
    const full: TopologyChangedMessage = { ...this.identity, ...message };
    this.#emit('topologyChanged', full);
    publishTopologyChanged(full);
  }
}

const RETIREMENT_COUNTER: Record<RetirementReason, keyof PoolCounters> = {
  'max-lifetime': 'connectionsRetired',
  'failed-validation': 'deadOnBorrow',
  dead: 'deadOnBorrow',
  'end-timeout': 'connectionsInterrupted',
  'read-only': 'wrongRoleRetired',
  'not-writer': 'wrongRoleRetired',
  'writer-changed': 'wrongRoleRetired',
  'not-reader': 'wrongRoleRetired',
  rebalanced: 'connectionsRebalanced',
};

function errorFacts(error: unknown): { code: string | undefined; errno: number | undefined } {
  const e = (error ?? {}) as { code?: unknown; errno?: unknown };
  return {
    code: typeof e.code === 'string' ? e.code : undefined,
    errno: typeof e.errno === 'number' ? e.errno : undefined,
  };
}
