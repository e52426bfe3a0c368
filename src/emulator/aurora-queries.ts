import type { ResultColumn, ResultValue } from '../protocol/mysql-packets.js';
import type { TopologyRow } from './cluster.js';
import { type Token, TokenCursor, tokenize } from './sql-tokens.js';

/** What an Aurora MySQL instance knows about itself and its cluster, at the moment a query arrives. */
export interface AuroraFacts {
  /** `@@aurora_server_id`: the instance identifier this session runs on. */
  instanceId: string;
  /** `@@innodb_read_only`: 1 on a reader. */
  readOnly: boolean;
  /** `@@port`: the endpoint port clients sign tokens for. */
  port: number;
  /** The rows of `information_schema.replica_host_status`. */
  topology: readonly TopologyRow[];
  /** Emulator clock, ms since the epoch (for `now()` in the freshness filter). */
  now: number;
}

export type QueryAnswer =
  | {
      kind: 'rows';
      /** What was asked: system variables (identity, role, version) or the topology table. */
      about: 'variables' | 'topology';
      columns: ResultColumn[];
      rows: ResultValue[][];
    }
  | { kind: 'error'; code: number; sqlState: string; message: string };

/** The `aurora_version` an Aurora MySQL 3 (MySQL 8.0 compatible) instance reports. */
export const AURORA_VERSION = '3.08.0';

const SUPPORTED =
  "SHOW VARIABLES LIKE 'aurora_version' | 'aurora_server_id' | 'innodb_read_only'; " +
  'SELECT of @@aurora_server_id, @@innodb_read_only, @@aurora_version, AURORA_VERSION(), @@hostname, ' +
  "CONCAT('...', @@variable, ...); " +
  'SELECT of SERVER_ID, SESSION_ID, CPU, REPLICA_LAG_IN_MILLISECONDS, LAST_UPDATE_TIMESTAMP and ' +
  "CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END FROM information_schema.replica_host_status " +
  "[WHERE conditions on SESSION_ID, SERVER_ID (= '...' or = @@aurora_server_id) or " +
  'time_to_sec(timediff(now(), LAST_UPDATE_TIMESTAMP)) joined by AND / OR]';

/**
 * System variables only Aurora has, or whose value differs per instance (the backend has one
 * `@@hostname` for every emulated instance; AWS's wrappers use `@@hostname:@@port` as a host alias).
 */
const AURORA_VARIABLES = new Set(['aurora_server_id', 'innodb_read_only', 'aurora_version', 'hostname']);

type ColumnName =
  | 'server_id'
  | 'session_id'
  | 'cpu'
  | 'replica_lag_in_milliseconds'
  | 'last_update_timestamp';
const TOPOLOGY_COLUMNS: Record<ColumnName, ResultColumn['type']> = {
  server_id: 'string',
  session_id: 'string',
  cpu: 'double',
  replica_lag_in_milliseconds: 'double',
  last_update_timestamp: 'datetime',
};

class Unsupported extends Error {}
class UnknownColumn extends Error {
  constructor(
    readonly column: string,
    readonly clause: 'field list' | 'where clause',
  ) {
    super(column);
  }
}

/** A value for one topology row (or the same for every row, for system variables). */
type Expr = (row: TopologyRow | undefined) => ResultValue;
interface SelectItem {
  column: ResultColumn;
  value: Expr;
  needsRow: boolean;
}
type Condition = (row: TopologyRow) => boolean;

/**
 * Answers the statements AWS's Aurora-aware drivers send to learn the topology (read from
 * aws-advanced-nodejs-wrapper 2.0.1's AuroraMySQLDatabaseDialect), or returns null when the
 * statement is not one of them and should go to the backend. A statement that asks about Aurora
 * in a form this does not understand gets ER_NOT_SUPPORTED_YET rather than the backend's
 * "unknown variable", so nobody mistakes the backend's answer for Aurora's.
 */
export function answerAuroraQuery(sql: string, facts: () => AuroraFacts): QueryAnswer | null {
  const tokens = tokenize(sql);
  if (!tokens || !mentionsAurora(tokens)) return null;
  try {
    const cursor = new TokenCursor(tokens);
    if (cursor.acceptWord('show')) return showVariables(cursor, facts());
    if (cursor.acceptWord('select')) return select(cursor, sql, facts());
    throw new Unsupported();
  } catch (err) {
    if (err instanceof UnknownColumn) {
      return {
        kind: 'error',
        code: 1054,
        sqlState: '42S22',
        message: `Unknown column '${err.column}' in '${err.clause}'`,
      };
    }
    if (err instanceof Unsupported) {
      return {
        kind: 'error',
        code: 1235,
        sqlState: '42000',
        message: `The RDS IAM emulator answers Aurora topology queries only in these forms: ${SUPPORTED}`,
      };
    }
    throw err;
  }
}

function mentionsAurora(tokens: readonly Token[]): boolean {
  if (tokens[0]?.kind === 'word' && tokens[0].value === 'show') {
    const pattern = tokens.find((t) => t.kind === 'string');
    return pattern !== undefined && AURORA_VARIABLES.has(pattern.value.toLowerCase());
  }
  return tokens.some(
    (t, i) =>
      (t.kind === 'sysvar' && AURORA_VARIABLES.has(t.value)) ||
      (t.kind === 'word' && t.value === 'replica_host_status') ||
      (t.kind === 'word' && t.value === 'aurora_version' && tokens[i + 1]?.value === '('),
  );
}

function variableValue(name: string, facts: AuroraFacts): { type: ResultColumn['type']; value: ResultValue } {
  if (name === 'aurora_server_id') return { type: 'string', value: facts.instanceId };
  if (name === 'innodb_read_only') return { type: 'integer', value: facts.readOnly ? 1 : 0 };
  if (name === 'aurora_version') return { type: 'string', value: AURORA_VERSION };
  if (name === 'hostname') return { type: 'string', value: facts.instanceId };
  if (name === 'port') return { type: 'integer', value: facts.port };
  throw new Unsupported();
}

/** SHOW [GLOBAL|SESSION|LOCAL] VARIABLES LIKE '<one of ours>': Variable_name, Value (ON/OFF for booleans). */
function showVariables(cursor: TokenCursor, facts: AuroraFacts): QueryAnswer {
  cursor.acceptWord('global') || cursor.acceptWord('session') || cursor.acceptWord('local');
  if (!cursor.acceptWord('variables') || !cursor.acceptWord('like')) throw new Unsupported();
  const pattern = cursor.next();
  if (pattern?.kind !== 'string' || !cursor.atEnd()) throw new Unsupported();
  const name = pattern.value.toLowerCase();
  const { type, value } = variableValue(name, facts);
  return {
    kind: 'rows',
    about: 'variables',
    columns: [
      { name: 'Variable_name', type: 'string' },
      { name: 'Value', type: 'string' },
    ],
    rows: [[name, type === 'integer' ? (value === 1 ? 'ON' : 'OFF') : value]],
  };
}

function select(cursor: TokenCursor, sql: string, facts: AuroraFacts): QueryAnswer {
  const items: SelectItem[] = [];
  do items.push(selectItem(cursor, sql, facts));
  while (cursor.acceptPunct(','));

  let fromTopology = false;
  let where: Condition = () => true;
  if (cursor.acceptWord('from')) {
    if (
      !cursor.acceptWord('information_schema') ||
      !cursor.acceptPunct('.') ||
      !cursor.acceptWord('replica_host_status')
    ) {
      throw new Unsupported();
    }
    fromTopology = true;
    if (cursor.acceptWord('where')) where = condition(cursor, facts);
  }
  if (!cursor.atEnd()) throw new Unsupported();
  if (!fromTopology) {
    const rowDependent = items.find((item) => item.needsRow);
    if (rowDependent) throw new UnknownColumn(rowDependent.column.name, 'field list');
  }
  const rows = fromTopology ? facts.topology.filter(where) : [undefined];
  return {
    kind: 'rows',
    about: fromTopology ? 'topology' : 'variables',
    columns: items.map((item) => item.column),
    rows: rows.map((row) => items.map((item) => item.value(row))),
  };
}

function selectItem(cursor: TokenCursor, sql: string, facts: AuroraFacts): SelectItem {
  const first = cursor.peek();
  if (!first) throw new Unsupported();
  let type: ResultColumn['type'];
  let value: Expr;
  let needsRow = false;
  if (first.kind === 'sysvar') {
    cursor.next();
    const v = variableValue(first.value, facts);
    type = v.type;
    value = () => v.value;
  } else if (first.kind === 'word' && first.value === 'aurora_version' && cursor.peek(1)?.value === '(') {
    cursor.next();
    if (!cursor.acceptPunct('(') || !cursor.acceptPunct(')')) throw new Unsupported();
    type = 'string';
    value = () => AURORA_VERSION;
  } else if (first.kind === 'word' && first.value === 'concat' && cursor.peek(1)?.value === '(') {
    cursor.next();
    const parts = concatArguments(cursor, facts);
    type = 'string';
    value = () => parts.join('');
  } else if (first.kind === 'word' && first.value === 'case') {
    cursor.next();
    const test = caseWhen(cursor, facts);
    type = 'integer';
    needsRow = true;
    value = (row) => (test(row!) ? 1 : 0);
  } else {
    const name = columnName(cursor, 'field list');
    type = TOPOLOGY_COLUMNS[name];
    needsRow = true;
    value = (row) => columnValue(row!, name);
  }
  // Without an alias MySQL names a column by the expression's text as written.
  const text = sql.slice(first.start, cursor.previous()!.end);
  const alias = aliasOf(cursor, sql);
  return { column: { name: alias ?? text, type }, value, needsRow };
}

/** CONCAT('literal' | @@variable, ...), as in the wrapper's host alias query. */
function concatArguments(cursor: TokenCursor, facts: AuroraFacts): string[] {
  if (!cursor.acceptPunct('(')) throw new Unsupported();
  const parts: string[] = [];
  do {
    const t = cursor.next();
    if (t?.kind === 'string') parts.push(t.value);
    else if (t?.kind === 'sysvar') parts.push(String(variableValue(t.value, facts).value));
    else throw new Unsupported();
  } while (cursor.acceptPunct(','));
  if (!cursor.acceptPunct(')')) throw new Unsupported();
  return parts;
}

/** CASE WHEN <comparison> THEN TRUE|1 ELSE FALSE|0 END */
function caseWhen(cursor: TokenCursor, facts: AuroraFacts): Condition {
  if (!cursor.acceptWord('when')) throw new Unsupported();
  const test = comparison(cursor, facts);
  if (!cursor.acceptWord('then')) throw new Unsupported();
  const yes = cursor.next();
  if (!cursor.acceptWord('else')) throw new Unsupported();
  const no = cursor.next();
  if (!cursor.acceptWord('end')) throw new Unsupported();
  const truthy = (t: Token | undefined) => t?.value === 'true' || t?.value === '1';
  const falsy = (t: Token | undefined) => t?.value === 'false' || t?.value === '0';
  if (truthy(yes) && falsy(no)) return test;
  if (falsy(yes) && truthy(no)) return (row) => !test(row);
  throw new Unsupported();
}

/** `[AS] alias`, where the alias is a bare word (kept as written), a quoted string or a `quoted` identifier. */
function aliasOf(cursor: TokenCursor, sql: string): string | undefined {
  const explicit = cursor.acceptWord('as');
  const t = cursor.peek();
  if (
    t &&
    (t.kind === 'string' || t.kind === 'identifier' || (t.kind === 'word' && !RESERVED.has(t.value)))
  ) {
    cursor.next();
    return t.kind === 'word' ? sql.slice(t.start, t.end) : t.value;
  }
  if (explicit) throw new Unsupported();
  return undefined;
}

const RESERVED = new Set(['from', 'where', 'and', 'or', 'as']);

function columnName(cursor: TokenCursor, clause: 'field list' | 'where clause'): ColumnName {
  const t = cursor.next();
  if (!t || (t.kind !== 'word' && t.kind !== 'identifier')) throw new Unsupported();
  const name = t.value.toLowerCase();
  if (!Object.hasOwn(TOPOLOGY_COLUMNS, name)) throw new UnknownColumn(t.value, clause);
  return name as ColumnName;
}

function columnValue(row: TopologyRow, name: ColumnName): ResultValue {
  switch (name) {
    case 'server_id':
      return row.serverId;
    case 'session_id':
      return row.sessionId;
    case 'cpu':
      return row.cpu;
    case 'replica_lag_in_milliseconds':
      return row.replicaLagMs;
    case 'last_update_timestamp':
      return formatDatetime(row.lastUpdateMs);
  }
}

/** DATETIME(6) text in UTC, as an Aurora instance (time_zone UTC by default) prints it. */
export function formatDatetime(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').replace('Z', '')}000`;
}

/** term ((AND | OR) term)*, AND binding tighter than OR. */
function condition(cursor: TokenCursor, facts: AuroraFacts): Condition {
  const anyOf: Condition[][] = [[comparison(cursor, facts)]];
  for (;;) {
    if (cursor.acceptWord('and')) anyOf[anyOf.length - 1]!.push(comparison(cursor, facts));
    else if (cursor.acceptWord('or')) anyOf.push([comparison(cursor, facts)]);
    else break;
  }
  return (row) => anyOf.some((all) => all.every((c) => c(row)));
}

/**
 * column (= | <> | !=) ('literal' | @@aurora_server_id), or
 * time_to_sec(timediff(now(), LAST_UPDATE_TIMESTAMP)) (<= | < | >= | > | =) number.
 */
function comparison(cursor: TokenCursor, facts: AuroraFacts): Condition {
  if (cursor.peek()?.value === 'time_to_sec') {
    cursor.next();
    const shape = ['(', 'timediff', '(', 'now', '(', ')', ','];
    for (const expected of shape) if (cursor.next()?.value !== expected) throw new Unsupported();
    if (columnName(cursor, 'where clause') !== 'last_update_timestamp') throw new Unsupported();
    if (!cursor.acceptPunct(')') || !cursor.acceptPunct(')')) throw new Unsupported();
    const op = cursor.next()?.value;
    const bound = cursor.next();
    if (bound?.kind !== 'number') throw new Unsupported();
    const limit = Number(bound.value);
    const now = facts.now;
    const age = (row: TopologyRow) => Math.floor((now - row.lastUpdateMs) / 1000);
    switch (op) {
      case '<=':
        return (row) => age(row) <= limit;
      case '<':
        return (row) => age(row) < limit;
      case '>=':
        return (row) => age(row) >= limit;
      case '>':
        return (row) => age(row) > limit;
      case '=':
        return (row) => age(row) === limit;
      default:
        throw new Unsupported();
    }
  }
  const name = columnName(cursor, 'where clause');
  if (name !== 'server_id' && name !== 'session_id') throw new Unsupported();
  const op = cursor.next()?.value;
  if (op !== '=' && op !== '<>' && op !== '!=') throw new Unsupported();
  const operand = cursor.next();
  let expected: string;
  if (operand?.kind === 'string') expected = operand.value;
  else if (operand?.kind === 'sysvar' && operand.value === 'aurora_server_id') expected = facts.instanceId;
  else throw new Unsupported();
  // Aurora's information_schema columns compare case-insensitively (utf8 general collation).
  const equal = (row: TopologyRow) =>
    (name === 'server_id' ? row.serverId : row.sessionId).toLowerCase() === expected.toLowerCase();
  return op === '=' ? equal : (row) => !equal(row);
}
