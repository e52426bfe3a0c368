/**
 * `npm run example:opentelemetry`: an IAM pool's metrics in OpenTelemetry, against the local RDS IAM
 * emulator. Runs some traffic (with refused logins, dropped connections, an acquire timeout and an
 * end() that has to cut off a connection), has the SDK collect once into an in-memory exporter, and prints every data point.
 * In production, replace the in-memory exporter with your own (OTLP, Prometheus, ...).
 */
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { createIamPool } from '../../src/index.js';
import { settle, startLocalRds } from '../shared/local-rds.js';
import { reportPoolMetrics } from './pool-metrics.js';

const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
// The interval is long on purpose: this run collects once, with forceFlush() below.
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
const provider = new MeterProvider({ readers: [reader] });

const rds = await startLocalRds('opentelemetry');
// On RDS: createIamPool({ host: '<endpoint>', user: 'app_iam', database: 'app', connectionLimit: 4 })
const pool = createIamPool({
  ...rds.iamOptions,
  connectionLimit: 4,
  acquireTimeoutMs: 1000,
  endTimeoutMs: 300,
});
const stopReporting = reportPoolMetrics(pool, provider.getMeter('rds-iam-pool'));

try {
  // 20 queries over 4 connections, each holding its connection a moment: 4 logins, one signing.
  await Promise.all(Array.from({ length: 20 }, (_, i) => pool.query('SELECT ? AS n, SLEEP(0.1)', [i])));

  // The server drops every connection and refuses the next 2 logins: the next borrow finds the idle
  // connections dead, logs in again, and re-signs after each refusal.
  rds.emulator.faults.rejectNextLogins(2);
  rds.emulator.faults.dropAllConnections();
  await settle();
  await pool.query('SELECT 1');

  // Every connection borrowed and one more caller: it waits, then gives up after acquireTimeoutMs.
  const held = await Promise.all(Array.from({ length: 4 }, () => pool.getConnection()));
  const extraCaller = pool.query('SELECT 1').catch((err: { code?: string }) => err.code);
  await settle(100);
  await provider.forceFlush(); // a collection while the caller waits
  console.log('while every connection is borrowed and a fifth caller waits:');
  console.log(dataPoints((name) => name.startsWith('db.client.connection.')).join('\n'));
  console.log(`the fifth caller: ${await extraCaller}`);
  for (const connection of held.slice(1)) connection.release();

  // Shutting down with a connection still borrowed: end() cuts it off after endTimeoutMs.
  await pool.end();
  await provider.forceFlush();
  console.log('after end():');
  console.log(dataPoints(() => true).join('\n'));
} finally {
  stopReporting();
  await provider.shutdown();
  await pool.end();
  await rds.stop();
}

/** The latest collection's data points, one per line, without the attributes every point carries. */
function dataPoints(include: (metricName: string) => boolean): string[] {
  const lines: string[] = [];
  for (const scope of exporter.getMetrics().at(-1)?.scopeMetrics ?? []) {
    for (const metric of scope.metrics) {
      if (!include(metric.descriptor.name)) continue;
      for (const point of metric.dataPoints) {
        const {
          'db.system.name': _system,
          'db.client.connection.pool.name': _pool,
          ...rest
        } = point.attributes;
        const labels = Object.entries(rest).map(([k, v]) => `${k}=${String(v)}`);
        const value = typeof point.value === 'number' ? point.value : JSON.stringify(point.value);
        lines.push(`  ${metric.descriptor.name}${labels.length ? `{${labels.join(',')}}` : ''} ${value}`);
      }
    }
  }
  return lines.sort();
}
