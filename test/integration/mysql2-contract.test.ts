/**
 * The mysql2 contract: every private member, message text and call order src/mysql2-boundary.ts
 * relies on, checked against the installed mysql2 (and, in CI, against the lowest version the
 * package.json range allows). A mysql2 release that changes one of them fails here by name.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import mysql, { type PoolConnection } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIamPool, IamDriverError } from '../../src/index.js';
import {
  assertConnectionContract,
  assertPoolContract,
  BoundaryPool,
  type GetConnectionCallback,
  handOnReleased,
  isKnownDead,
  isTlsHandshakeCut,
  MYSQL2_OPTION_NAMES,
  mysql2Version,
  parseMysqlUri,
  quitConnection,
  streamKeepAlive,
  watchLoginOutcome,
  watchStatementErrors,
} from '../../src/mysql2-boundary.js';
import { createEmulatorFixture, type EmulatorFixture, MARIADB } from '../helpers/emulator-harness.js';
import { iamOptionsFor } from '../helpers/pool-fixture.js';
import { greeting } from '../helpers/raw-mysql-server.js';

const require = createRequire(import.meta.url);
const installed = (require('mysql2/package.json') as { version: string }).version;

const plainOptions = {
  host: MARIADB.host,
  port: MARIADB.port,
  user: MARIADB.user,
  password: MARIADB.password,
};

function borrow(pool: { getConnection(cb: GetConnectionCallback): void }): Promise<PoolConnection> {
  return new Promise((resolve, reject) =>
    pool.getConnection((err, connection) => (err || !connection ? reject(err) : resolve(connection))),
  );
}

function endPool(pool: BoundaryPool): Promise<void> {
  return new Promise((resolve) => pool.endRaw(() => resolve()));
}

let fx: EmulatorFixture;
beforeAll(async () => {
  fx = await createEmulatorFixture({ name: 'mysql2_contract' });
});
afterAll(async () => {
  await fx?.teardown();
});

describe('the mysql2 pool internals the pool layer reads', () => {
  it('reports the installed mysql2 version', () => {
    expect(mysql2Version()).toBe(installed);
  });

  it('constructs a real mysql.Pool the way createPool does, and passes the contract check', async () => {
    const pool = new BoundaryPool(plainOptions);
    expect(pool).toBeInstanceOf((mysql as unknown as { Pool: new () => object }).Pool);
    expect(() => assertPoolContract(pool)).not.toThrow();
    expect(pool.counts()).toEqual({ all: 0, free: 0 });
    await endPool(pool);
  });

  it.each(['_allConnections', '_freeConnections', '_closed', 'config'])(
    'fails with IamDriverError naming mysql2 and the member when Pool#%s is missing',
    async (member) => {
      const pool = new BoundaryPool(plainOptions);
      const saved = (pool as unknown as Record<string, unknown>)[member];
      delete (pool as unknown as Record<string, unknown>)[member];
      let error: unknown;
      try {
        assertPoolContract(pool);
      } catch (e) {
        error = e;
      }
      (pool as unknown as Record<string, unknown>)[member] = saved;
      await endPool(pool);
      expect(error).toBeInstanceOf(IamDriverError);
      expect(error).toMatchObject({ code: 'RDS_IAM_DRIVER_INCOMPATIBLE', step: 'driver' });
      expect((error as IamDriverError).missing).toContain(`Pool#${member}`);
      expect((error as Error).message).toContain(`mysql2 ${installed}`);
    },
  );

  it.each(['get', 'push'])('fails when the ring queue has no %s()', async (method) => {
    const pool = new BoundaryPool(plainOptions);
    const queue = (pool as unknown as { _freeConnections: Record<string, unknown> })._freeConnections;
    Object.defineProperty(queue, method, { value: undefined, configurable: true });
    expect(() => assertPoolContract(pool)).toThrow(IamDriverError);
    delete queue[method];
    await endPool(pool);
  });

  it('fails with IamDriverError when Pool#releaseConnection() is gone', async () => {
    const prototype = (mysql as unknown as { Pool: { prototype: Record<string, unknown> } }).Pool.prototype;
    let owner = prototype;
    while (!Object.hasOwn(owner, 'releaseConnection')) owner = Object.getPrototypeOf(owner);
    const saved = owner.releaseConnection;
    delete owner.releaseConnection;
    try {
      expect(() => new BoundaryPool(plainOptions)).toThrow('Pool#releaseConnection()');
    } finally {
      owner.releaseConnection = saved;
    }
  });

  it.each(['_removeFromPool', '_realEnd', 'addCommand'])(
    'createIamPool fails at once, typed, when PoolConnection#%s is gone',
    (method) => {
      // The prototype that owns the method (addCommand lives on mysql2's base Connection).
      let prototype = mysql.PoolConnection.prototype as unknown as Record<string, unknown>;
      while (!Object.hasOwn(prototype, method)) prototype = Object.getPrototypeOf(prototype);
      const saved = prototype[method];
      delete prototype[method];
      try {
        expect(() => createIamPool(iamOptionsFor(fx))).toThrow(IamDriverError);
        expect(() => createIamPool(iamOptionsFor(fx))).toThrow(`PoolConnection#${method}()`);
      } finally {
        prototype[method] = saved;
      }
    },
  );

  it('has the connection fields isKnownDead reads, and they say dead once it is destroyed', async () => {
    const pool = new BoundaryPool(plainOptions);
    const connection = await borrow(pool);
    expect(() => assertConnectionContract(connection)).not.toThrow();
    expect(isKnownDead(connection)).toBe(false);
    expect(pool.counts()).toMatchObject({ all: 1, free: 0 });
    connection.release();
    expect(pool.freeConnections()).toEqual([connection]);
    quitConnection(connection);
    expect(isKnownDead(connection)).toBe(true);
    expect(pool.counts()).toMatchObject({ all: 0, free: 0 });
    await endPool(pool);
  });

  it('a pool whose first connection lacks a field fails every borrow with IamDriverError', async () => {
    const pool = createIamPool(iamOptionsFor(fx));
    // Runs before the pool's own listener: as if mysql2 no longer set `_protocolError`.
    pool.pool.prependOnceListener('connection', (connection: PoolConnection) => {
      delete (connection as unknown as Record<string, unknown>)._protocolError;
    });
    await expect(pool.query('SELECT 1')).rejects.toMatchObject({
      code: 'RDS_IAM_DRIVER_INCOMPATIBLE',
      missing: 'PoolConnection#_protocolError',
    });
    await expect(pool.query('SELECT 1')).rejects.toBeInstanceOf(IamDriverError);
    await pool.end();
  });

  it('answers takes of idle connections once each, on a later tick, in the order they were made', async () => {
    const pool = new BoundaryPool({ ...plainOptions, connectionLimit: 3 });
    const opened = await Promise.all([borrow(pool), borrow(pool), borrow(pool)]);
    for (const connection of opened) connection.release();
    const answered: number[] = [];
    const taken: PoolConnection[] = [];
    for (const i of [0, 1, 2]) {
      expect(pool.hasFreeConnection()).toBe(true);
      pool.mysql2GetConnection((err, connection) => {
        expect(err).toBeNull();
        answered.push(i);
        if (connection) taken.push(connection);
      });
    }
    expect(answered).toEqual([]); // not synchronously
    await new Promise((r) => setImmediate(r));
    expect(answered).toEqual([0, 1, 2]);
    expect(new Set(taken).size).toBe(3);
    for (const connection of taken) connection.release();
    await endPool(pool);
  });

  it('calls releaseConnection when a connection leaves the pool, which BoundaryPool reports as room', async () => {
    const pool = new BoundaryPool({ ...plainOptions, connectionLimit: 2 });
    let left = 0;
    pool.setPolicy({
      getConnection: (cb) => pool.mysql2GetConnection(cb),
      end: (cb) => pool.endRaw(cb),
      connectionLeft: () => left++,
      takeReleased: () => false,
    });
    const first = await borrow(pool);
    const second = await borrow(pool);
    expect(pool.room()).toBe(0);
    first.release(); // a release is not a departure
    expect(left).toBe(0);
    first.destroy(); // destroyed while idle
    second.destroy(); // destroyed while borrowed
    expect(left).toBe(2);
    expect(pool.room()).toBe(2);
    expect(pool.counts()).toEqual({ all: 0, free: 0 });
    // A connection the server closes leaves too.
    const third = await borrow(pool);
    const closed = new Promise((resolve) => third.once('end', resolve));
    const root = await new Promise<PoolConnection>((resolve, reject) =>
      mysql.createPool(plainOptions).getConnection((err, c) => (err ? reject(err) : resolve(c))),
    );
    await root.promise().query(`KILL ${third.threadId}`);
    root.destroy();
    await closed;
    await new Promise((r) => setImmediate(r));
    expect(left).toBe(3);
    await endPool(pool);
  });

  it('offers a released connection to the policy before its idle list; handed on, it can be released again', async () => {
    const pool = new BoundaryPool({ ...plainOptions, connectionLimit: 1 });
    const offered: PoolConnection[] = [];
    let take = true;
    const released: PoolConnection[] = [];
    pool.on('release', (connection: PoolConnection) => released.push(connection));
    pool.setPolicy({
      getConnection: (cb) => pool.mysql2GetConnection(cb),
      end: (cb) => pool.endRaw(cb),
      connectionLeft: () => {},
      takeReleased: (connection) => {
        offered.push(connection);
        return take;
      },
    });
    const connection = await borrow(pool);
    connection.release();
    expect(offered).toEqual([connection]);
    // Taken: not idle in mysql2, no 'release' event, still counted as the pool's.
    expect(pool.counts()).toEqual({ all: 1, free: 0 });
    expect(released).toEqual([]);
    connection.release(); // released twice before it was handed on: ignored, as mysql2 ignores it
    expect(offered).toHaveLength(1);
    handOnReleased(connection);
    const [rows] = await connection.promise().query('SELECT 1 AS one');
    expect(rows).toEqual([{ one: 1 }]);
    take = false;
    connection.release(); // handed on, it releases again; declined, mysql2 keeps it idle
    expect(offered).toHaveLength(2);
    expect(pool.counts()).toEqual({ all: 1, free: 1 });
    expect(released).toEqual([connection]);
    await endPool(pool);
  });

  it('hands a released connection to mysql2 as it is under resetOnRelease (mysql2 resets it first)', async () => {
    const pool = new BoundaryPool({ ...plainOptions, connectionLimit: 1, resetOnRelease: true });
    let offered = 0;
    pool.setPolicy({
      getConnection: (cb) => pool.mysql2GetConnection(cb),
      end: (cb) => pool.endRaw(cb),
      connectionLeft: () => {},
      takeReleased: () => {
        offered++;
        return true;
      },
    });
    const connection = await borrow(pool);
    const idle = new Promise((resolve) => pool.once('release', resolve));
    connection.release();
    await idle;
    expect(offered).toBe(0);
    expect(pool.counts()).toEqual({ all: 1, free: 1 });
    await endPool(pool);
  });
});

describe('the statement errors the pool watches', () => {
  it('sees a failing statement through addCommand/onResult, on the promise and callback APIs', async () => {
    const pool = new BoundaryPool(plainOptions);
    const connection = await borrow(pool);
    const seen: unknown[] = [];
    watchStatementErrors(connection, (error) => seen.push(error.errno));
    await connection
      .promise()
      .query('SELECT * FROM test.no_such_table_anywhere')
      .catch(() => {});
    await new Promise((resolve) => connection.query('SELECT nope FROM dual', () => resolve(undefined)));
    await new Promise((resolve) =>
      connection.execute('SELECT ? FROM test.no_such_table', [1], () => resolve(undefined)),
    );
    await connection.promise().query('SELECT 1');
    expect(seen).toEqual([1146, 1054, 1146]);
    connection.release();
    await endPool(pool);
  });
});

describe('the mysql2 and Node message texts the pool layer recognises', () => {
  it('recognises a TLS handshake the server cut (HANDSHAKE_SSL_ERROR with Node’s message)', async () => {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.write(greeting(true));
      // The SSLRequest arrives, then the server goes away mid-handshake.
      socket.once('data', () => setTimeout(() => socket.destroy(), 20));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const error = await new Promise<unknown>((resolve) => {
      const connection = mysql.createConnection({
        host: '127.0.0.1',
        port,
        user: 'x',
        ssl: { rejectUnauthorized: true },
      });
      connection.on('error', resolve);
      connection.connect(resolve);
    });
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(error).toMatchObject({ code: 'HANDSHAKE_SSL_ERROR' });
    expect(isTlsHandshakeCut(error as Error)).toBe(true);
  });
});

describe('the { config } a stream factory is called with', () => {
  /** The keep-alive settings mysql2 hands a pool connection's stream factory, read by streamKeepAlive. */
  async function keepAliveSeen(options: { enableKeepAlive?: boolean; keepAliveInitialDelay?: number }) {
    let seen: ReturnType<typeof streamKeepAlive> | undefined;
    const pool = mysql.createPool({
      ...plainOptions,
      ...options,
      stream: (streamOptions: unknown) => {
        seen = streamKeepAlive(streamOptions);
        return connect(MARIADB.port, MARIADB.host);
      },
    } as mysql.PoolOptions);
    try {
      await new Promise<void>((resolve, reject) =>
        pool.query('SELECT 1', (err) => (err ? reject(err) : resolve())),
      );
    } finally {
      await new Promise((resolve) => pool.end(resolve));
    }
    return seen;
  }

  it("carries the connection's keep-alive settings, with mysql2's defaults filled in", async () => {
    expect(await keepAliveSeen({})).toEqual({ enabled: true, initialDelayMs: undefined });
    expect(await keepAliveSeen({ keepAliveInitialDelay: 5000 })).toEqual({
      enabled: true,
      initialDelayMs: 5000,
    });
    expect(await keepAliveSeen({ enableKeepAlive: false })).toMatchObject({ enabled: false });
  });

  it('fails with IamDriverError when a factory is called without it', () => {
    expect(() => streamKeepAlive(undefined)).toThrow(IamDriverError);
  });
});

describe('the login command events the auth plugin watches', () => {
  async function login(user: string, token: () => Promise<string>) {
    const outcomes: string[] = [];
    const error = await new Promise<unknown>((resolve) => {
      const connection = mysql.createConnection({
        host: fx.emulator.host,
        port: fx.emulator.endpointPort,
        user,
        ssl: { ca: fx.emulator.ca, rejectUnauthorized: true },
        stream: () => connect(fx.emulator.port, '127.0.0.1'),
        authPlugins: {
          mysql_clear_password: (context) => {
            watchLoginOutcome(context, {
              failed: (err) => outcomes.push(`failed ${String(err.errno)}`),
              succeeded: () => outcomes.push('succeeded'),
            });
            return async () => Buffer.from(`${await token()}\0`);
          },
        },
      });
      connection.connect((err) => {
        connection.destroy();
        resolve(err);
      });
    });
    return { outcomes, error };
  }

  it('reports a login the server accepted', async () => {
    const { outcomes, error } = await login('iam_app', () => fx.token());
    expect(error).toBeNull();
    expect(outcomes).toEqual(['succeeded']);
  });

  it('reports a login the server refused, with its errno', async () => {
    const { outcomes, error } = await login('iam_app', async () => 'not-a-token');
    expect(error).toMatchObject({ errno: 1045 });
    expect(outcomes).toEqual(['failed 1045']);
  });
});

describe('mysql2 option handling the effective-config check relies on', () => {
  it('knows exactly the options mysql2 accepts (its private validOptions)', () => {
    // mysql2's exports map hides lib/; read the file beside its entry point.
    const source = readFileSync(join(dirname(require.resolve('mysql2')), 'lib/connection_config.js'), 'utf8');
    const block = /const validOptions = \{([\s\S]*?)\};/.exec(source)?.[1] ?? '';
    const names = [...block.matchAll(/^\s*([A-Za-z0-9_]+): 1,/gm)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(40);
    expect([...MYSQL2_OPTION_NAMES].sort()).toEqual([...names].sort());
  });

  it('reads a uri the way mysql2 does: JSON query values, no empty parts', () => {
    expect(parseMysqlUri('mysql://app@db.example:3307/orders?debug=true&connectionLimit=5')).toEqual({
      host: 'db.example',
      port: 3307,
      user: 'app',
      database: 'orders',
      debug: true,
      connectionLimit: 5,
    });
    expect(parseMysqlUri('mysql://db.example')).toEqual({ host: 'db.example' });
  });
});
