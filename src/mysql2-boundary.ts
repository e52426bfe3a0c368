/**
 * The mysql2 boundary: the only module that relies on what mysql2 does not promise (private fields,
 * message texts, the order in which it calls things). Everything else in the library uses mysql2's
 * public API, or these functions.
 *
 * What we rely on, and why (mysql2 3.24: lib/base/pool.js, lib/pool_connection.js,
 * lib/base/connection.js, lib/commands/auth_switch.js):
 * - the pool's connection lists (`_allConnections`, `_freeConnections`: ring queues with `length`
 *   and `get`), its `_closed` and `config.connectionLimit`, to count connections and drain the pool
 *   on `end()`; the pool never lets mysql2 queue a caller (it keeps its own queue), so mysql2's
 *   `_connectionQueue` stays empty;
 * - that mysql2 calls `releaseConnection` when a connection leaves the pool (closed, broken or
 *   removed), not only when it is released, so `BoundaryPool` hears of the room it made; and that a
 *   released connection goes to its free list there, so `BoundaryPool` can hand it on instead, clearing
 *   the connection's `_released` as mysql2 does when it hands one out (else its next release() is
 *   ignored) — not with `resetOnRelease`, which mysql2 applies in between;
 * - `PoolConnection#_removeFromPool` and `#_realEnd` (COM_QUIT) to close a pooled connection, and
 *   its `_pool`, `_closing`, `_fatalError`, `_protocolError` and `stream` to tell a dead one;
 * - the handshake command's `error` / `end` events, to see a login's outcome inside the auth plugin;
 * - `Connection#addCommand`, a command's `onResult` and the connection's `_command` (the command in
 *   flight), to see a statement fail with a read-only error on a borrowed connection, and whether a
 *   statement cut by a lost connection had been sent (see watchStatementErrors);
 * - the `{ config }` a `stream` factory is called with (the connection's own ConnectionConfig): its
 *   `host`, set to route a connection, and its `enableKeepAlive` / `keepAliveInitialDelay`, which
 *   mysql2 applies only to sockets it opens itself (routeNewConnection, streamKeepAlive);
 * - the texts of Node's "TLS handshake cut" error and of mysql2's "closed state" error.
 *
 * Three safeguards hold it together: test/integration/mysql2-contract.test.ts checks every item above
 * against the installed mysql2; `assertPoolContract` runs when a pool is created (and
 * `assertConnectionContract` when its first connection opens) and fails at once with
 * `IamDriverError` naming the mysql2 version and the missing piece; and CI runs the integration
 * suite on the lowest mysql2 the package.json range allows.
 */
import type { EventEmitter } from 'node:events';
import mysql, {
  type AuthPlugin,
  type Pool as CorePool,
  type PoolConnection as CorePoolConnection,
  type PoolOptions,
} from 'mysql2';
import { IamDriverError } from './errors.js';

/**
 * mysql2's runtime exports that its type declarations describe only as interfaces: `Pool` and
 * `PoolConnection` are classes (exported from its index.js), `ConnectionConfig` too.
 */
const runtime = mysql as unknown as {
  Pool: new (options: { config: object }) => CorePool;
  PoolConnection: { prototype: object };
  ConnectionConfig: new (
    options: object,
  ) => { connectAttributes?: Record<string, unknown> };
  // parseUrl is a static of ConnectionConfig (see parseMysqlUri).
};

export type GetConnectionCallback = (err: Error | null, connection?: CorePoolConnection) => void;
export type EndCallback = (err: NodeJS.ErrnoException | null) => void;

/** mysql2's ring queue. */
interface RingQueue<T> {
  readonly length: number;
  get(index: number): T | undefined;
}

interface PoolInternals {
  /** Every connection: idle, borrowed, and those still logging in. */
  _allConnections: RingQueue<CorePoolConnection>;
  /** Idle connections; getConnection pops the most recently released one. */
  _freeConnections: RingQueue<CorePoolConnection>;
  _closed: boolean;
  config: { connectionLimit: number; connectionConfig: { connectAttributes?: Record<string, unknown> } };
}

interface ConnectionInternals {
  /** The owning pool; null once the connection has left it. */
  _pool: unknown;
  /** Set by release(); while set, release() does nothing. mysql2 clears it when it hands the connection out. */
  _released: boolean;
  _fatalError: unknown;
  _protocolError: unknown;
  _closing: boolean | undefined;
  stream?: { destroyed?: boolean; readableEnded?: boolean; destroy?: () => void };
  _removeFromPool(): void;
  /** The plain Connection.end (COM_QUIT); PoolConnection.end only releases. */
  _realEnd(callback?: (err?: Error) => void): void;
}

const POOL_QUEUES = ['_allConnections', '_freeConnections'] as const;
const QUEUE_METHODS = ['get', 'push'] as const;
const CONNECTION_METHODS = ['_removeFromPool', '_realEnd', 'addCommand'] as const;
const CONNECTION_FIELDS = [
  '_pool',
  '_released',
  '_fatalError',
  '_protocolError',
  '_command',
  'stream',
] as const;

/**
 * The options mysql2's ConnectionConfig and PoolConfig accept (its private `validOptions`); it only
 * prints a warning for others. Kept here so a misspelt option is refused before mysql2 sees it.
 */
export const MYSQL2_OPTION_NAMES: ReadonlySet<string> = new Set([
  'authPlugins',
  'authSwitchHandler',
  'bigNumberStrings',
  'charset',
  'charsetNumber',
  'compress',
  'connectAttributes',
  'connectTimeout',
  'database',
  'dateStrings',
  'debug',
  'decimalNumbers',
  'enableKeepAlive',
  'flags',
  'host',
  'insecureAuth',
  'infileStreamFactory',
  'isServer',
  'keepAliveInitialDelay',
  'localAddress',
  'maxPreparedStatements',
  'multipleStatements',
  'namedPlaceholders',
  'nestTables',
  'password',
  'password1',
  'password2',
  'password3',
  'passwordSha1',
  'pool',
  'port',
  'queryFormat',
  'rowsAsArray',
  'socketPath',
  'ssl',
  'stream',
  'stringifyObjects',
  'supportBigNumbers',
  'timezone',
  'trace',
  'typeCast',
  'uri',
  'user',
  'disableEval',
  'enableCleartextPlugin',
  'connectionLimit',
  'maxIdle',
  'idleTimeout',
  'Promise',
  'queueLimit',
  'resetOnRelease',
  'waitForConnections',
  'jsonStrings',
  'gracefulEnd',
]);

/**
 * The options a `mysql://` URI carries, parsed the way mysql2 parses `uri` (query values as JSON
 * where they parse). Empty user, password and database and a missing port come back as undefined.
 */
export function parseMysqlUri(uri: string): Record<string, unknown> {
  const parsed = (
    runtime.ConnectionConfig as unknown as { parseUrl(url: string): Record<string, unknown> }
  ).parseUrl(uri);
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (value === '' || (typeof value === 'number' && Number.isNaN(value))) continue;
    options[key] = value;
  }
  return options;
}

/**
 * The connection options mysql2 would really use for `options`: what its ConnectionConfig derives
 * (`uri` parameters applied, an `ssl` profile name resolved, defaults filled in).
 */
export function effectiveConnectionConfig(options: object): Record<string, unknown> {
  return new runtime.ConnectionConfig({ ...options }) as unknown as Record<string, unknown>;
}

/** The mysql2 version in use, as mysql2 reports it to the server in its connection attributes. */
export function mysql2Version(): string {
  try {
    const version = new runtime.ConnectionConfig({}).connectAttributes?._client_version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function missing(piece: string): IamDriverError {
  return new IamDriverError(mysql2Version(), piece);
}

/** Fails with IamDriverError unless the pool has every private member this module uses. */
export function assertPoolContract(pool: CorePool): void {
  const p = pool as unknown as Record<string, unknown>;
  for (const name of POOL_QUEUES) {
    const queue = p[name] as Record<string, unknown> | undefined;
    if (queue === null || typeof queue !== 'object') throw missing(`Pool#${name}`);
    if (typeof queue.length !== 'number') throw missing(`Pool#${name}.length`);
    for (const method of QUEUE_METHODS) {
      if (typeof queue[method] !== 'function') throw missing(`Pool#${name}.${method}()`);
    }
  }
  if (typeof p._closed !== 'boolean') throw missing('Pool#_closed');
  const poolPrototype = runtime.Pool.prototype as unknown as Record<string, unknown>;
  if (typeof poolPrototype.releaseConnection !== 'function') throw missing('Pool#releaseConnection()');
  const config = p.config as { connectionLimit?: unknown } | undefined;
  if (typeof config?.connectionLimit !== 'number') throw missing('Pool#config.connectionLimit');
  const prototype = runtime.PoolConnection.prototype as Record<string, unknown>;
  for (const method of CONNECTION_METHODS) {
    if (typeof prototype[method] !== 'function') throw missing(`PoolConnection#${method}()`);
  }
}

/** Fails with IamDriverError unless a pool connection has every private member this module reads. */
export function assertConnectionContract(connection: CorePoolConnection): void {
  const c = connection as unknown as Record<string, unknown>;
  for (const field of CONNECTION_FIELDS) {
    if (!(field in c)) throw missing(`PoolConnection#${field}`);
  }
  for (const method of CONNECTION_METHODS) {
    if (typeof c[method] !== 'function') throw missing(`PoolConnection#${method}()`);
  }
}

/** What a pool does instead of mysql2's own getConnection and end (see BoundaryPool). */
export interface PoolPolicy {
  /** A caller's getConnection: from user code, `query()`, `execute()` or the promise wrapper. */
  getConnection(callback: GetConnectionCallback): void;
  end(callback: EndCallback): void;
  /** A connection left the pool (closed, broken, removed): there is room for another. */
  connectionLeft(): void;
  /**
   * A borrowed connection is being released: return true to take it instead of mysql2's free list
   * (a caller is waiting for it), and hand it on later with `handOnReleased`; false leaves it to
   * mysql2 (idle, with a 'release' event).
   */
  takeReleased(connection: CorePoolConnection): boolean;
}

/**
 * PoolConfig is not exported by mysql2; `createPool` is `new Pool({ config: new PoolConfig(options) })`,
 * so the class is taken from the config of a pool that createPool made (which opens nothing).
 */
let poolConfigClass: (new (options: PoolOptions) => object) | undefined;
function PoolConfig(): new (options: PoolOptions) => object {
  if (poolConfigClass === undefined) {
    const probe = mysql.createPool({ connectionLimit: 1, maxIdle: 1 });
    const config = (probe as unknown as { config?: { constructor?: unknown } }).config;
    if (typeof config?.constructor !== 'function' || config.constructor === Object) {
      throw missing('Pool#config (a PoolConfig instance)');
    }
    poolConfigClass = config.constructor as new (options: PoolOptions) => object;
  }
  return poolConfigClass;
}

/** Marks the policy's own callbacks (a property rather than a WeakSet: this runs on every borrow). */
const OWN_CALLBACK = Symbol("rds-iam-pool: the policy's own getConnection callback");

/**
 * mysql2's own `Pool`, with `getConnection` and `end` handed to a policy. A real `mysql.Pool`
 * (its promise wrapper, query(), execute() and every ORM work on it), constructed the way
 * `mysql.createPool` constructs one.
 *
 * The policy's own calls (`mysql2GetConnection`) go to mysql2's getConnection, marked so that a call mysql2
 * makes back through `this.getConnection` with one of them is told apart from a caller's.
 */
export class BoundaryPool extends runtime.Pool {
  #policy: PoolPolicy | undefined;
  /** Whether a released connection may be handed on as it is: not when mysql2 resets it first. */
  readonly #handsOnReleased: boolean;

  constructor(options: PoolOptions) {
    const Config = PoolConfig();
    super({ config: new Config(options) });
    assertPoolContract(this);
    this.#handsOnReleased = this.poolConfig.resetOnRelease !== true;
  }

  /** The effective mysql2 connection options (after `uri` and defaults were applied by mysql2). */
  get connectionConfig(): Record<string, unknown> {
    return (this as unknown as { config: { connectionConfig: Record<string, unknown> } }).config
      .connectionConfig;
  }

  /** The effective pool settings mysql2 derived (connectionLimit, queueLimit, waitForConnections...). */
  get poolConfig(): Record<string, unknown> {
    return (this as unknown as { config: Record<string, unknown> }).config;
  }

  setPolicy(policy: PoolPolicy): void {
    this.#policy = policy;
  }

  override getConnection(callback: Parameters<CorePool['getConnection']>[0]): void {
    const cb = callback as GetConnectionCallback;
    if (this.#policy === undefined || (cb as { [OWN_CALLBACK]?: true })[OWN_CALLBACK]) {
      super.getConnection(callback);
      return;
    }
    this.#policy.getConnection(cb);
  }

  override end(callback?: EndCallback): void {
    const cb = callback ?? (() => {});
    if (this.#policy === undefined) super.end(cb as Parameters<CorePool['end']>[0]);
    else this.#policy.end(cb);
  }

  /**
   * mysql2's own getConnection for the policy: an idle connection, a new login, or a place in the
   * wait queue (and a re-dispatch from there) for `callback`. While an idle connection is there
   * (hasFreeConnection()), each call is answered once, on the next tick, in the order of the calls:
   * one callback can serve many borrows, matched first in, first out (the Acquirer does).
   */
  mysql2GetConnection(callback: GetConnectionCallback): void {
    (callback as { [OWN_CALLBACK]?: true })[OWN_CALLBACK] = true;
    super.getConnection(callback as Parameters<CorePool['getConnection']>[0]);
  }

  /** mysql2's own end(): closes every connection the pool still holds. */
  endRaw(callback: EndCallback): void {
    super.end(callback as Parameters<CorePool['end']>[0]);
  }

  #internals(): PoolInternals {
    return this as unknown as PoolInternals;
  }

  /** Connections in the pool (idle, borrowed and logging in), and idle ones. */
  counts(): { all: number; free: number } {
    const p = this.#internals();
    return { all: p._allConnections.length, free: p._freeConnections.length };
  }

  hasFreeConnection(): boolean {
    return this.#internals()._freeConnections.length > 0;
  }

  /** How many more connections the pool may open (`connectionLimit` less those it holds). */
  room(): number {
    const p = this.#internals();
    const limit = p.config.connectionLimit;
    return limit > 0 ? limit - p._allConnections.length : Number.POSITIVE_INFINITY;
  }

  /** mysql2 calls this for a released connection and for one that left the pool (see the header). */
  override releaseConnection(connection: CorePoolConnection): void {
    const left = conn(connection)._pool == null;
    if (!left && this.#handsOnReleased && this.#policy?.takeReleased(connection)) return;
    super.releaseConnection(connection);
    if (left) this.#policy?.connectionLeft();
  }

  allConnections(): CorePoolConnection[] {
    return snapshot(this.#internals()._allConnections);
  }

  freeConnections(): CorePoolConnection[] {
    return snapshot(this.#internals()._freeConnections);
  }
}

const conn = (connection: CorePoolConnection) => connection as unknown as ConnectionInternals;

/**
 * A connection the policy took in `takeReleased` goes to its next borrower (or back to the pool):
 * cleared for release() again, as mysql2 clears a connection it hands out.
 */
export function handOnReleased(connection: CorePoolConnection): void {
  conn(connection)._released = false;
}

/**
 * Whether the connection is known to be unusable without asking the server: it left the pool, a
 * fatal or protocol error was seen, it is closing, or its socket is gone or was ended by the server.
 */
export function isKnownDead(connection: CorePoolConnection): boolean {
  const c = conn(connection);
  return c._pool == null || isBroken(c);
}

/** A fatal or protocol error was seen, it is closing, or its socket is gone or was ended. */
function isBroken(c: ConnectionInternals): boolean {
  return (
    Boolean(c._fatalError) ||
    Boolean(c._protocolError) ||
    c._closing === true ||
    c.stream?.destroyed === true ||
    c.stream?.readableEnded === true
  );
}

/**
 * Takes the connection out of the pool and closes it politely: COM_QUIT, so the server does not
 * count an aborted client, then the socket is destroyed if the server has not closed it soon.
 * A waiting caller is then served by a new connection (mysql2 re-dispatches it on removal).
 */
export function quitConnection(connection: CorePoolConnection, graceMs = 1000): void {
  const c = conn(connection);
  c._removeFromPool();
  if (c._closing || c._fatalError || c._protocolError) {
    connection.destroy();
    return;
  }
  try {
    c._realEnd(() => {});
  } catch {
    // Already unusable: destroy below.
  }
  const timer = setTimeout(() => c.stream?.destroy?.(), graceMs);
  timer.unref();
}

/** Takes the connection out of the pool and destroys its socket at once. */
export function destroyConnection(connection: CorePoolConnection): void {
  conn(connection)._removeFromPool();
  connection.destroy();
}

/**
 * Takes a borrowed connection out of the pool and cuts its socket so that a command in flight
 * fails with `error` instead of waiting forever. (mysql2's destroy() marks the connection as
 * closing, and a closing connection never reports the lost socket to its pending commands.)
 */
export function interruptConnection(connection: CorePoolConnection, error: Error): void {
  const c = conn(connection);
  c._removeFromPool();
  // With no command in flight mysql2 emits the error on the connection itself.
  connection.on('error', () => {});
  if (!c._closing && !c._fatalError && !c._protocolError) c._protocolError = error;
  if (c.stream?.destroy) c.stream.destroy();
  else connection.destroy();
}

/** A mysql2 command (Query, Execute, ...) as `addCommand` receives it. */
interface CommandInternals {
  onResult?: (error: unknown, ...rest: unknown[]) => unknown;
}

/**
 * Whether a statement that failed with a lost connection had reached the server: 'unknown' when it
 * was the command in flight (it may have run), 'not-sent' when it was still queued behind another
 * or the connection was already closed. Kept on the error; an error that mysql2 hands to several
 * commands keeps 'unknown' once any of them was in flight.
 */
export type DeliveryMark = 'not-sent' | 'unknown';

const DELIVERY = Symbol('rds-iam-pool: whether the failed statement had reached the server');

function markDelivery(error: object, mark: DeliveryMark): void {
  const e = error as { [DELIVERY]?: DeliveryMark };
  if (e[DELIVERY] !== 'unknown') e[DELIVERY] = mark;
}

/** mysql2's text for a statement given to a connection that had already failed: it was never sent. */
const CLOSED_STATE = /^Can't add new command when connection is in closed state$/;

/** What the pool learned of a failed statement's delivery (see DeliveryMark), if anything. */
export function deliveryOf(error: unknown): DeliveryMark | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const mark = (error as { [DELIVERY]?: DeliveryMark })[DELIVERY];
  if (mark !== undefined) return mark;
  return error instanceof Error && CLOSED_STATE.test(error.message) ? 'not-sent' : undefined;
}

/**
 * Calls `onError` with the error of every statement on this connection that fails, before its
 * caller sees it, and marks a lost connection's error with whether the statement had been sent
 * (see deliveryOf): `Connection#addCommand` receives every command, a command with a callback
 * (every promise-API call, every callback-API call) reports through `onResult`, and the command in
 * flight is the connection's `_command` while mysql2 reports its failure. Commands without a
 * callback (a streamed `query()` whose rows are read as events) are not watched.
 */
export function watchStatementErrors(
  connection: CorePoolConnection,
  onError: (error: { errno?: unknown; fatal?: unknown }) => void,
): void {
  const c = connection as unknown as { addCommand(command: CommandInternals): unknown; _command?: unknown };
  const addCommand = c.addCommand;
  if (typeof addCommand !== 'function') throw missing('Connection#addCommand()');
  c.addCommand = function watchedAddCommand(command: CommandInternals) {
    const onResult = command.onResult;
    if (typeof onResult === 'function') {
      // mysql2 answers a command with at most (error, rows, fields): named, not a rest array, as
      // this runs for every statement.
      command.onResult = (error: unknown, rows?: unknown, fields?: unknown) => {
        if (error) {
          const e = error as { errno?: unknown; fatal?: unknown };
          if (e.fatal === true && typeof error === 'object') {
            markDelivery(error, c._command === command ? 'unknown' : 'not-sent');
          }
          onError(e);
        }
        return onResult.call(command, error, rows, fields);
      };
    }
    return addCommand.call(this, command);
  };
}

/**
 * Points one new pool connection at `host` (its TLS server name, certificate check and token), from
 * inside the `stream` factory mysql2 calls with `{ config }`: that config is the connection's own
 * copy (mysql2 3.24's Pool#_createConnectionConfig), read for TLS and login only later.
 */
export function routeNewConnection(streamOptions: unknown, host: string): void {
  const config = (streamOptions as { config?: { host?: string } } | undefined)?.config;
  if (config === undefined) throw missing('the { config } argument of the stream factory');
  config.host = host;
}

/** The keep-alive settings of the connection a `stream` factory is opening a socket for. */
export interface StreamKeepAlive {
  enabled: boolean;
  initialDelayMs: number | undefined;
}

/**
 * The connection's `enableKeepAlive` / `keepAliveInitialDelay`, from the `{ config }` mysql2 passes a
 * `stream` factory (its ConnectionConfig: on, with no initial delay, unless set). mysql2 sets
 * keep-alive and TCP_NODELAY only on sockets it opens itself (BaseConnection's constructor, 3.x), so
 * a factory that opens one must do it too (src/connection/mysql2-options.ts).
 */
export function streamKeepAlive(streamOptions: unknown): StreamKeepAlive {
  const config = (
    streamOptions as { config?: { enableKeepAlive?: unknown; keepAliveInitialDelay?: unknown } } | undefined
  )?.config;
  if (config === undefined) throw missing('the { config } argument of the stream factory');
  const delay = config.keepAliveInitialDelay;
  return {
    enabled: config.enableKeepAlive !== false,
    initialDelayMs: typeof delay === 'number' ? delay : undefined,
  };
}

/** Fails unless each pool connection gets a config of its own (routeNewConnection relies on it). */
export function assertRoutingContract(pool: CorePool): void {
  if (
    typeof (pool as unknown as { _createConnectionConfig?: unknown })._createConnectionConfig !== 'function'
  ) {
    throw missing('Pool#_createConnectionConfig() (a config of its own per connection)');
  }
}

/** The context mysql2 hands an auth plugin. */
export type AuthPluginContext = Parameters<AuthPlugin>[0];

/** The socket a login's password would be written to (mysql2 types `connection.stream` loosely). */
export function loginSocket(context: AuthPluginContext): unknown {
  return (context.connection as unknown as { stream?: unknown }).stream;
}

/** Whether the connection behind an auth plugin call is already known dead (see isKnownDead). */
export function isLoginConnectionDead(context: AuthPluginContext): boolean {
  return isBroken(context.connection as unknown as ConnectionInternals);
}

/** The effective options of the connection an auth plugin is logging in. */
export function loginConfig(context: AuthPluginContext): Record<string, unknown> {
  return (context.connection as unknown as { config?: Record<string, unknown> }).config ?? {};
}

export interface LoginOutcome {
  /** The server refused the login (or the handshake failed after the plugin was asked). */
  failed(error: { errno?: unknown; code?: unknown }): void;
  /** The handshake finished without an error. */
  succeeded(): void;
}

/**
 * Reports how the login an auth plugin was asked for ends: mysql2 hands the plugin the handshake
 * command, which emits `error` when the server refuses the login and `end` when the handshake is
 * over. The command already has mysql2's own listeners, so these change nothing in its flow.
 */
export function watchLoginOutcome(context: AuthPluginContext, outcome: LoginOutcome): void {
  const command = context.command as unknown as EventEmitter | undefined;
  if (typeof command?.once !== 'function') return;
  let failed = false;
  command.once('error', (err: { errno?: unknown; code?: unknown }) => {
    failed = true;
    outcome.failed(err ?? {});
  });
  command.once('end', () => {
    if (!failed) outcome.succeeded();
  });
}

/** Node's message when the server closes the socket in the middle of the TLS handshake. */
const DISCONNECTED_DURING_TLS = /socket disconnected before secure TLS connection was established/i;

/**
 * A TLS handshake the server cut off (a restart, a failover). mysql2 labels every error during the
 * TLS upgrade HANDSHAKE_SSL_ERROR, overwriting Node's code, so only the message tells this network
 * failure apart from a certificate that did not verify.
 */
export function isTlsHandshakeCut(err: { code?: unknown; message?: unknown }): boolean {
  return (
    err.code === 'HANDSHAKE_SSL_ERROR' &&
    typeof err.message === 'string' &&
    DISCONNECTED_DURING_TLS.test(err.message)
  );
}

function snapshot<T>(queue: RingQueue<T>): T[] {
  const items: T[] = [];
  for (let i = 0; i < queue.length; i++) {
    const item = queue.get(i);
    if (item !== undefined) items.push(item);
  }
  return items;
}
