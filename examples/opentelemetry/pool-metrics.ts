/**
 * An IAM pool's metrics in OpenTelemetry: gauges and counters read from `pool.iam.stats()` when the
 * metric reader collects, and counters broken down by reason from the diagnostics channels.
 * docs/production.md ("Metrics with OpenTelemetry") shows this file; a test keeps the two identical.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { BatchObservableResult, Meter } from '@opentelemetry/api';
// In your project: from 'rds-iam-pool'
import {
  type AcquireTimeoutMessage,
  type ConnectionRetiredMessage,
  DIAGNOSTICS_CHANNELS,
  type IamPool,
  type IamPoolStats,
  type LoginFailedMessage,
  type TokenSignedMessage,
} from '../../src/index.js';

/** Cumulative totals from `stats()`, reported as observable counters. */
const TOTALS = {
  tokensSigned: 'rds_iam.tokens.signed',
  cacheHits: 'rds_iam.token_cache.hits',
  credentialRequests: 'rds_iam.credentials.requests',
  connectionsOpened: 'rds_iam.connections.opened',
  connectFailures: 'rds_iam.connect.failures',
  authRetries: 'rds_iam.login.auth_retries',
  transientRetries: 'rds_iam.login.transient_retries',
  loginsDelayed: 'rds_iam.logins.delayed',
  deadOnBorrow: 'rds_iam.connections.dead_on_borrow',
  connectionsRetired: 'rds_iam.connections.max_lifetime_retired',
  connectionsInterrupted: 'rds_iam.connections.interrupted',
  acquireTimeouts: 'db.client.connection.timeouts',
} as const satisfies Partial<Record<keyof IamPoolStats, string>>;

/** Starts reporting one pool's metrics on `meter`; the function returned stops it. */
export function reportPoolMetrics(pool: IamPool, meter: Meter): () => void {
  const { host, port, user } = pool.iam;
  const attributes = {
    'db.system.name': 'mysql',
    'db.client.connection.pool.name': `${user}@${host}:${port}`,
  };

  // Read when the metric reader collects: one stats() call per collection.
  const connections = meter.createObservableUpDownCounter('db.client.connection.count', {
    description: 'Connections by state: idle, used (borrowed), opening (connecting or logging in)',
  });
  const pending = meter.createObservableUpDownCounter('db.client.connection.pending_requests', {
    description: 'Callers waiting for a connection',
  });
  const waitTime = meter.createObservableGauge('rds_iam.acquire_time', {
    description: 'Time borrows waited for a connection over the latest 1024 borrows, by quantile',
    unit: 'ms',
  });
  const totals = Object.entries(TOTALS).map(
    ([field, name]) => [field as keyof typeof TOTALS, meter.createObservableCounter(name)] as const,
  );
  const observe = (result: BatchObservableResult) => {
    const stats = pool.iam.stats();
    for (const state of ['idle', 'opening'] as const) {
      result.observe(connections, stats.connections[state], {
        ...attributes,
        'db.client.connection.state': state,
      });
    }
    result.observe(connections, stats.connections.borrowed, {
      ...attributes,
      'db.client.connection.state': 'used',
    });
    result.observe(pending, stats.connections.waiting, attributes);
    for (const quantile of ['p50', 'p95', 'p99', 'max'] as const) {
      result.observe(waitTime, stats.acquireTimeMs[quantile], { ...attributes, quantile });
    }
    for (const [field, counter] of totals) result.observe(counter, stats[field], attributes);
  };
  const observables = [connections, pending, waitTime, ...totals.map(([, counter]) => counter)];
  meter.addBatchObservableCallback(observe, observables);

  // Counted as they happen, with the reason the totals above do not carry. The channels are
  // process-wide: keep the messages about this pool's endpoint and user.
  const ours = (m: { host: string; port: number; user: string }) =>
    m.host === host && m.port === port && m.user === user;
  const signings = meter.createCounter('rds_iam.token.signings');
  const loginFailures = meter.createCounter('rds_iam.login.failures');
  const retirements = meter.createCounter('rds_iam.connection.retirements');
  const acquireTimeouts = meter.createCounter('rds_iam.acquire.timeouts');
  const handlers = {
    [DIAGNOSTICS_CHANNELS.tokenSigned]: (message: unknown) => {
      const m = message as TokenSignedMessage;
      if (ours({ host: m.hostname, port: m.port, user: m.username })) {
        signings.add(1, { ...attributes, limited_by_credentials: m.limitedByCredentials });
      }
    },
    [DIAGNOSTICS_CHANNELS.loginFailed]: (message: unknown) => {
      const m = message as LoginFailedMessage;
      if (ours(m))
        loginFailures.add(1, { ...attributes, reason: m.reason, 'error.type': m.code ?? 'unknown' });
    },
    [DIAGNOSTICS_CHANNELS.connectionRetired]: (message: unknown) => {
      const m = message as ConnectionRetiredMessage;
      if (ours(m)) retirements.add(1, { ...attributes, reason: m.reason });
    },
    [DIAGNOSTICS_CHANNELS.acquireTimeout]: (message: unknown) => {
      const m = message as AcquireTimeoutMessage;
      // With a cause, new connections could not be opened; without one, every connection stayed borrowed.
      const cause = (m.error as { cause?: unknown }).cause === undefined ? 'pool-busy' : 'connect-failed';
      if (ours(m)) acquireTimeouts.add(1, { ...attributes, cause });
    },
  };
  for (const [name, handler] of Object.entries(handlers)) subscribe(name, handler);

  return () => {
    meter.removeBatchObservableCallback(observe, observables);
    for (const [name, handler] of Object.entries(handlers)) unsubscribe(name, handler);
  };
}
