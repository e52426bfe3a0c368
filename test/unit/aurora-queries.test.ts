import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AuroraFacts, answerAuroraQuery, formatDatetime } from '../../src/emulator/aurora-queries.js';
import { isReaderWriteRefusal } from '../../src/emulator/read-only.js';
import { encodeErr } from '../../src/protocol/mysql-packets.js';

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const facts =
  (over: Partial<AuroraFacts> = {}) =>
  (): AuroraFacts => ({
    instanceId: 'db-instance-2',
    readOnly: true,
    port: 3306,
    now: NOW,
    topology: [
      {
        serverId: 'db-instance-1',
        sessionId: 'MASTER_SESSION_ID',
        cpu: 0,
        replicaLagMs: 0,
        lastUpdateMs: NOW,
      },
      {
        serverId: 'db-instance-2',
        sessionId: 'a-reader',
        cpu: 0,
        replicaLagMs: 0,
        lastUpdateMs: NOW - 10_000,
      },
      {
        serverId: 'db-instance-3',
        sessionId: 'b-reader',
        cpu: 0,
        replicaLagMs: 0,
        lastUpdateMs: NOW - 400_000,
      },
    ],
    ...over,
  });

const rows = (sql: string, f = facts()) => {
  const answer = answerAuroraQuery(sql, f);
  if (answer?.kind !== 'rows') throw new Error(`expected rows, got ${JSON.stringify(answer)}`);
  return answer;
};

describe('answerAuroraQuery', () => {
  it('leaves every statement that does not ask about Aurora to the backend', () => {
    for (const sql of [
      'SELECT 1',
      "SELECT 'replica_host_status' AS quoted_mention",
      'SHOW VARIABLES LIKE "version%"',
      'SELECT @@version, @@port',
      "INSERT INTO t VALUES ('@@aurora_server_id')",
      '/*!40101 SELECT @@aurora_server_id */',
    ]) {
      expect(answerAuroraQuery(sql, facts()), sql).toBeNull();
    }
  });

  it("applies the wrapper's freshness filter: stale readers drop out, the writer never does", () => {
    const topology = `SELECT server_id, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END as is_writer FROM information_schema.replica_host_status WHERE time_to_sec(timediff(now(), LAST_UPDATE_TIMESTAMP)) <= 300 OR SESSION_ID = 'MASTER_SESSION_ID' `;
    expect(rows(topology).rows).toEqual([
      ['db-instance-1', 1],
      ['db-instance-2', 0],
    ]);
  });

  it('binds AND tighter than OR, and compares with @@aurora_server_id and case-insensitively', () => {
    const sql =
      "select SERVER_ID from information_schema.replica_host_status where session_id = 'master_session_id' and server_id = @@aurora_server_id or server_id = 'DB-INSTANCE-3'";
    expect(rows(sql).rows).toEqual([['db-instance-3']]);
    expect(rows(sql, facts({ instanceId: 'db-instance-1' })).rows).toEqual([
      ['db-instance-1'],
      ['db-instance-3'],
    ]);
  });

  it('names unaliased columns by their text as written, aliased ones by the alias', () => {
    const answer = rows(
      'SELECT SERVER_ID, CASE WHEN SESSION_ID = \'MASTER_SESSION_ID\' THEN 1 ELSE 0 END, CPU cpu_now, `LAST_UPDATE_TIMESTAMP` AS "t" FROM information_schema.replica_host_status -- trailing comment',
    );
    expect(answer.columns).toEqual([
      { name: 'SERVER_ID', type: 'string' },
      { name: "CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN 1 ELSE 0 END", type: 'integer' },
      { name: 'cpu_now', type: 'double' },
      { name: 't', type: 'datetime' },
    ]);
    expect(answer.rows[0]?.[3]).toBe('2026-01-02 03:04:05.678000');
    expect(formatDatetime(NOW)).toBe('2026-01-02 03:04:05.678000');
  });

  it("answers the wrapper's host alias query per instance", () => {
    const answer = rows("SELECT CONCAT(@@hostname, ':', @@port)");
    expect(answer.columns).toEqual([{ name: "CONCAT(@@hostname, ':', @@port)", type: 'string' }]);
    expect(answer.rows).toEqual([['db-instance-2:3306']]);
  });

  it('answers with errors, not silence, for Aurora questions it cannot answer', () => {
    for (const [sql, code] of [
      ['SELECT * FROM information_schema.replica_host_status', 1235],
      ['SELECT server_id FROM information_schema.replica_host_status ORDER BY server_id', 1235],
      ['SELECT @@aurora_server_id, @@version_comment', 1235],
      ['SELECT server_id, @@aurora_server_id', 1054],
      ['SELECT iops FROM information_schema.replica_host_status', 1054],
      ["SHOW VARIABLES LIKE 'aurora_server_id' extra", 1235],
    ] as const) {
      expect(answerAuroraQuery(sql, facts()), sql).toMatchObject({ kind: 'error', code });
    }
  });
});

describe('answerAuroraQuery on arbitrary text', () => {
  // Words from the statements it parses, so generated text gets deep into the parser.
  const vocabulary = [
    'SELECT',
    'SHOW',
    'VARIABLES',
    'LIKE',
    "'aurora_version'",
    '@@aurora_server_id',
    '@@innodb_read_only',
    '@@hostname',
    'CONCAT',
    'AURORA_VERSION',
    'FROM',
    'information_schema',
    '.',
    'replica_host_status',
    'WHERE',
    'AND',
    'OR',
    'CASE',
    'WHEN',
    'THEN',
    'ELSE',
    'END',
    'TRUE',
    'FALSE',
    'server_id',
    'SESSION_ID',
    "'MASTER_SESSION_ID'",
    '=',
    '<=',
    '<>',
    '(',
    ')',
    ',',
    ';',
    'time_to_sec',
    'timediff',
    'now',
    'LAST_UPDATE_TIMESTAMP',
    '300',
    'AS',
    '`x`',
    '"y"',
    "'",
    '/*',
    '*/',
    '-- ',
    '#',
    '\\',
  ];

  it('answers, refuses or passes on, and never throws', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(fc.constantFrom(...vocabulary), { maxLength: 30 }).map((words) => words.join(' ')),
          fc.string({ maxLength: 200 }),
        ),
        (sql) => {
          const answer = answerAuroraQuery(sql, facts());
          expect(answer === null || answer.kind === 'rows' || answer.kind === 'error').toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('isReaderWriteRefusal', () => {
  const scope = { global: false, schemas: ['app', 'tenant\\_%'] };
  const refusal = (code: number, message: string, s = scope) =>
    isReaderWriteRefusal(encodeErr(code, '42000', message), s);

  it('takes a privilege refusal of a write for the read-only error, and leaves refused reads alone', () => {
    expect(refusal(1142, "INSERT command denied to user 'r'@'%' for table `app`.`t`")).toBe(true);
    expect(refusal(1142, "CREATE VIEW command denied to user 'r'@'%' for table `app`.`v`")).toBe(true);
    expect(refusal(1143, "UPDATE command denied to user 'r'@'%' for column 'c' in table 't'")).toBe(true);
    expect(refusal(1142, "SELECT command denied to user 'r'@'%' for table `mysql`.`user`")).toBe(false);
    expect(refusal(1142, "SHOW VIEW command denied to user 'r'@'%' for table `app`.`v`")).toBe(false);
    expect(refusal(1792, 'Cannot execute statement in a READ ONLY transaction')).toBe(true);
    expect(refusal(1227, 'Access denied; you need (at least one of) the CREATE USER privilege(s)')).toBe(
      false,
    );
    expect(refusal(1146, "Table 'app.nope' doesn't exist")).toBe(false);
  });

  it('takes 1044 for the read-only error only in a database the backend account could write in', () => {
    expect(refusal(1044, "Access denied for user 'r'@'%' to database 'app'")).toBe(true);
    expect(refusal(1044, "Access denied for user 'r'@'%' to database 'tenant_7'")).toBe(true);
    expect(refusal(1044, "Access denied for user 'r'@'%' to database 'tenantx7'")).toBe(false);
    expect(refusal(1044, "Access denied for user 'r'@'%' to database 'mysql'")).toBe(false);
    expect(
      refusal(1044, "Access denied for user 'r'@'%' to database 'mysql'", { global: true, schemas: [] }),
    ).toBe(true);
  });
});
