/**
 * ConnectionRoles with fake connections that answer `@@innodb_read_only`: which connections are
 * checked, what a check concludes for a writer pool and a reader pool, and which read-only errors
 * count as signs of a failover.
 */
import type { PoolConnection } from 'mysql2';
import { describe, expect, it } from 'vitest';
import { READ_ONLY_QUERY } from '../../src/pool/own-queries.js';
import { ConnectionRoles } from '../../src/pool/roles.js';

/** A connection on a server whose read-only flag is `readOnly` (undefined: it never answers). */
function on(readOnly: 0 | 1 | undefined) {
  const statements: string[] = [];
  const connection = {
    statements,
    query: (options: { sql: string }, callback: (err: unknown, rows?: unknown) => void) => {
      statements.push(options.sql);
      if (readOnly === undefined) return;
      if (options.sql === READ_ONLY_QUERY) queueMicrotask(() => callback(null, [[readOnly]]));
      else queueMicrotask(() => callback(null, { affectedRows: 0 }));
    },
  };
  return connection as unknown as PoolConnection & { statements: string[] };
}

describe('ConnectionRoles', () => {
  it('a writer pool checks every new connection once, and replaces one on a reader', async () => {
    const roles = new ConnectionRoles('writer');
    const writer = on(0);
    const reader = on(1);
    expect(roles.needsCheck(writer)).toBe(true);
    expect(await roles.check(writer, 100)).toBeUndefined();
    expect(roles.needsCheck(writer)).toBe(false);
    expect(await roles.check(reader, 100)).toBe('not-writer');
    expect(await roles.check(on(undefined), 10)).toBe('failed-validation');
  });

  it('a read-only error is a failover only when the server confirms it is read-only', async () => {
    const roles = new ConnectionRoles('writer');
    const writer = on(0);
    await roles.check(writer, 100);
    expect(roles.statementFailed(writer, { errno: 1792 })).toBe(true); // START TRANSACTION READ ONLY
    expect(roles.needsCheck(writer)).toBe(true);
    expect(await roles.check(writer, 100)).toBeUndefined(); // the writer: kept
    const demoted = on(1);
    roles.statementFailed(demoted, { errno: 1290 });
    expect(await roles.check(demoted, 100)).toBe('read-only');
    expect(roles.statementFailed(writer, { errno: 1146 })).toBe(false);
  });

  it('a pool that checks nothing ("any") checks only after a read-only error', async () => {
    const roles = new ConnectionRoles('any');
    const connection = on(1);
    expect(roles.needsCheck(connection)).toBe(false);
    roles.statementFailed(connection, { errno: 1836 });
    expect(await roles.check(connection, 100)).toBe('read-only');
  });

  it('a reader pool refuses the writer, unless it is the fallback, made read-only for the session', async () => {
    let fallback = false;
    const roles = new ConnectionRoles('reader', () => fallback);
    expect(await roles.check(on(1), 100)).toBeUndefined();
    expect(await roles.check(on(0), 100)).toBe('not-reader');
    fallback = true;
    const writer = on(0);
    expect(await roles.check(writer, 100)).toBeUndefined();
    expect(writer.statements).toEqual([READ_ONLY_QUERY, 'SET SESSION TRANSACTION READ ONLY']);
    // Writes through a reader pool fail with read-only errors by design: not a sign of anything.
    expect(roles.statementFailed(writer, { errno: 1290 })).toBe(true);
    expect(roles.needsCheck(writer)).toBe(false);
  });

  it('remembers connections to retire when next seen, and why', () => {
    const roles = new ConnectionRoles('writer');
    const connection = on(0);
    roles.retireLater(connection, 'writer-changed');
    expect(roles.retirementOf(connection)).toBe('writer-changed');
  });
});
