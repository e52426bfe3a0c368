import { describe, expect, it } from 'vitest';
import { expectNoTokenInOutput, runExample } from './examples-shared.js';

/** `name{labels} value` lines of one section of the example's output, as a map. */
function dataPoints(lines: string[]): Map<string, number> {
  return new Map(
    lines
      .filter((line) => line.startsWith('  '))
      .map((line) => {
        const [point, value] = line.trim().split(' ');
        return [point ?? '', Number(value)];
      }),
  );
}

describe('the OpenTelemetry example runs with one command', () => {
  it('exports the pool state, the stats totals and the channel events with their real counts', {
    timeout: 60_000,
  }, async () => {
    const run = await runExample('opentelemetry', 'rip_examples_opentelemetry');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    const fifth = lines.indexOf('the fifth caller: RDS_IAM_ACQUIRE_TIMEOUT');
    const afterEnd = lines.indexOf('after end():');
    expect(lines[0]).toBe('while every connection is borrowed and a fifth caller waits:');
    expect(fifth).toBeGreaterThan(0);
    expect(afterEnd).toBeGreaterThan(fifth);

    // Collected while 4 connections were borrowed and a fifth caller waited.
    const busy = dataPoints(lines.slice(1, fifth));
    expect(busy.get('db.client.connection.count{db.client.connection.state=used}')).toBe(4);
    expect(busy.get('db.client.connection.count{db.client.connection.state=idle}')).toBe(0);
    expect(busy.get('db.client.connection.pending_requests')).toBe(1);
    expect(busy.get('db.client.connection.timeouts')).toBe(0);

    // Collected after end(): totals from stats() and events from the diagnostics channels agree.
    const end = dataPoints(lines.slice(afterEnd + 1));
    expect(end.get('db.client.connection.count{db.client.connection.state=used}')).toBe(0);
    expect(end.get('db.client.connection.timeouts')).toBe(1);
    expect(end.get('rds_iam.acquire.timeouts{cause=pool-busy}')).toBe(1);
    expect(end.get('rds_iam.connections.opened')).toBe(8);
    expect(end.get('rds_iam.login.auth_retries')).toBe(2);
    expect(end.get('rds_iam.login.failures{reason=auth-rejected,error.type=ER_ACCESS_DENIED_ERROR}')).toBe(2);
    expect(end.get('rds_iam.tokens.signed')).toBe(3);
    expect(end.get('rds_iam.token.signings{limited_by_credentials=false}')).toBe(3);
    expect(end.get('rds_iam.connections.interrupted')).toBe(1);
    expect(end.get('rds_iam.connection.retirements{reason=end-timeout}')).toBe(1);
    for (const quantile of ['p50', 'p95', 'p99', 'max']) {
      expect(end.get(`rds_iam.acquire_time{quantile=${quantile}}`)).toBeGreaterThanOrEqual(0);
    }
    // The first logins waited their turn under the login rate cap.
    expect(end.get('rds_iam.acquire_time{quantile=max}')).toBeGreaterThan(0);
    expectNoTokenInOutput(run);
  });
});
