/**
 * A reader stays read-only whatever its client sends: the session runs on the backend as an account
 * that can only read, so no statement, prepared statement or protocol command lifts it. Each case
 * below tries one way around it and then writes; the write must be refused with Aurora's 1290 and
 * must not reach the table. The same holds for a demoted writer (the old writer back as a reader).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEmulator } from '../../src/emulator/index.js';
import { createEmulatorFixture, type EmulatorFixture, rejectionOf } from '../helpers/emulator-harness.js';

type Row = RowDataPacket & Record<string, unknown>;

let fx: EmulatorFixture;
let emulator: ClusterEmulator;
let writer: Connection;
let nextId = 1000;

beforeAll(async () => {
  fx = await createEmulatorFixture({ name: 'emu_cluster_ro', emulator: { cluster: {} } });
  emulator = fx.emulator as ClusterEmulator;
});
afterAll(async () => {
  await writer?.end();
  await fx?.teardown();
});

/** Where the writer is now (the cluster endpoint may still lead to the old one during a DNS lag). */
async function writerConnection(): Promise<Connection> {
  const id = emulator.cluster.topology().writer;
  const endpoint = emulator.cluster.instanceEndpoints.find((e) => e.instanceId === id)!;
  return fx.connect({ endpoint: endpoint.host });
}

async function rowExists(id: number): Promise<boolean> {
  const [rows] = await writer.query<Row[]>('SELECT COUNT(*) AS n FROM items WHERE id = ?', [id]);
  return rows[0]?.n === 1;
}

/**
 * mysql2 sends COM_CHANGE_USER without connect attributes; this one carries 70 KiB of them, so the
 * command is larger than what a relay that inspects only small packets looks at.
 */
function withPaddedChangeUser<T>(run: () => Promise<T>): Promise<T> {
  const require = createRequire(import.meta.url);
  // Not an exported subpath: loaded by file, the same module instance mysql2 itself uses.
  const packets = require(join(dirname(require.resolve('mysql2')), 'lib/packets/index.js')) as {
    ChangeUser: new (opts: Record<string, unknown>) => object;
  };
  const original = packets.ChangeUser;
  packets.ChangeUser = class extends original {
    constructor(opts: Record<string, unknown>) {
      super({ ...opts, connectAttributes: { padding: 'x'.repeat(70 * 1024) } });
    }
  };
  return run().finally(() => {
    packets.ChangeUser = original;
  });
}

/** Each way around a read-only session, given a reader connection, ending with the write it enables. */
const bypasses: Array<[string, (conn: Connection, id: number) => Promise<unknown>]> = [
  [
    'SET tx_read_only = DEFAULT',
    async (conn, id) => {
      await conn.query('SET tx_read_only = DEFAULT');
      return conn.query('INSERT INTO items VALUES (?, ?)', [id, 'default']);
    },
  ],
  [
    'SET @@session.tx_read_only = (0)',
    async (conn, id) => {
      await conn.query('SET @@session.tx_read_only = (0)');
      return conn.query('INSERT INTO items VALUES (?, ?)', [id, 'parenthesised']);
    },
  ],
  [
    'SET tx_read_only = 1 - 1',
    async (conn, id) => {
      await conn.query('SET tx_read_only = 1 - 1');
      return conn.query('INSERT INTO items VALUES (?, ?)', [id, 'arithmetic']);
    },
  ],
  [
    'a statement over 16 KiB',
    async (conn, id) => {
      await conn.query(`SET SESSION TRANSACTION READ WRITE /* ${'x'.repeat(17 * 1024)} */`);
      return conn.query('INSERT INTO items VALUES (?, ?)', [id, 'long']);
    },
  ],
  [
    'PREPARE from a user variable',
    async (conn, id) => {
      await conn.query("SET @lift = CONCAT('SET SESSION TRANSACTION READ ', 'WRITE')");
      await conn.query('PREPARE lift FROM @lift');
      await conn.query('EXECUTE lift');
      return conn.query('INSERT INTO items VALUES (?, ?)', [id, 'prepared from a variable']);
    },
  ],
  [
    'COM_STMT_PREPARE / COM_STMT_EXECUTE of SET tx_read_only = 0',
    async (conn, id) => {
      await conn.execute('SET tx_read_only = 0');
      return conn.execute('INSERT INTO items VALUES (?, ?)', [id, 'binary protocol']);
    },
  ],
  [
    'COM_STMT_PREPARE / COM_STMT_EXECUTE of SET SESSION TRANSACTION READ WRITE',
    async (conn, id) => {
      await conn.execute('SET SESSION TRANSACTION READ WRITE');
      return conn.query('INSERT INTO items VALUES (?, ?)', [id, 'prepared']);
    },
  ],
  [
    'COM_RESET_CONNECTION, then READ WRITE',
    async (conn, id) => {
      await conn.reset();
      await conn.query('SET tx_read_only = DEFAULT');
      return conn.query('INSERT INTO items VALUES (?, ?)', [id, 'after reset']);
    },
  ],
];

describe.each([
  { role: 'a reader', demoted: false },
  { role: 'a demoted writer (the old writer back as a reader)', demoted: true },
])('$role refuses every write, whatever its client sends first', ({ demoted }) => {
  let instance: string;
  beforeAll(async () => {
    if (demoted) {
      const failover = emulator.cluster.failover({ promotionMs: 50, dnsLagMs: 0 });
      await failover.completed;
      instance = failover.from;
    } else {
      instance = emulator.cluster.topology().instances.find((i) => i.role === 'reader')!.id;
    }
    await writer?.end();
    writer = await writerConnection();
  });

  const readerConnection = () =>
    fx.connect({ endpoint: emulator.cluster.instanceEndpoints.find((e) => e.instanceId === instance)!.host });

  it.each(bypasses)('after %s', async (_name, attempt) => {
    const conn = await readerConnection();
    const id = nextId++;
    try {
      const [role] = await conn.query<Row[]>('SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro');
      expect(role[0]).toEqual({ id: instance, ro: 1 });
      const err = await rejectionOf(() => attempt(conn, id));
      expect(err).toMatchObject({ errno: 1290, code: 'ER_OPTION_PREVENTS_STATEMENT', sqlState: 'HY000' });
      expect(await rowExists(id)).toBe(false);
    } finally {
      conn.destroy();
    }
  });

  it('refuses COM_CHANGE_USER, even one larger than 64 KiB, and ends the session', async () => {
    for (const padded of [false, true]) {
      const conn = await readerConnection();
      const id = nextId++;
      try {
        const change = () => conn.changeUser({ user: 'root', password: '' });
        const err = await rejectionOf(() => (padded ? withPaddedChangeUser(change) : change()));
        expect(err.errno, `padded: ${padded}`).toBe(1235);
        // Had the backend switched to root, this write would succeed; the session is gone instead.
        await rejectionOf(() => conn.query('INSERT INTO items VALUES (?, ?)', [id, 'as root']));
        expect(await rowExists(id)).toBe(false);
      } finally {
        conn.destroy();
      }
    }
  });

  it('refuses DDL, DROP DATABASE and NEXTVAL-style writes with 1290, and passes refused reads as they are', async () => {
    const conn = await readerConnection();
    try {
      for (const sql of [
        'CREATE TABLE reader_made (id INT)',
        'DROP TABLE items',
        'TRUNCATE items',
        `DROP DATABASE \`${fx.database}\``,
        'CREATE PROCEDURE reader_proc() SELECT 1',
        "UPDATE items SET name = 'x'",
        'DELETE FROM items',
      ]) {
        expect((await rejectionOf(() => conn.query(sql))).errno, sql).toBe(1290);
      }
      // A read the backend account may not do either is refused as such, not as a write.
      expect((await rejectionOf(() => conn.query('SELECT * FROM mysql.user'))).errno).toBe(1142);
      const [rows] = await conn.query<Row[]>('SELECT COUNT(*) AS n FROM items');
      expect(rows[0]?.n).toBeGreaterThanOrEqual(2);
    } finally {
      conn.destroy();
    }
  });

  it('allows temporary tables, as Aurora MySQL 3 readers do', async () => {
    const conn = await readerConnection();
    try {
      await conn.query('CREATE TEMPORARY TABLE scratch (id INT)');
      await conn.query('INSERT INTO scratch VALUES (1), (2)');
      const [rows] = await conn.query<Row[]>('SELECT COUNT(*) AS n FROM scratch');
      expect(rows[0]?.n).toBe(2);
    } finally {
      conn.destroy();
    }
  });
});

describe('reader accounts', () => {
  it('lists the read-only account reader sessions run as, one per backend account', async () => {
    const backendUser = fx.backendUsers.iam_app!;
    expect(emulator.cluster.readerAccounts).toEqual([
      { backendUser, user: expect.stringMatching(/^rdsiam_ro_[0-9a-f]{16}$/), host: '%', managed: true },
    ]);
    const conn = await fx.connect({ endpoint: emulator.cluster.readerEndpoint.host });
    try {
      const [rows] = await conn.query<Row[]>('SELECT CURRENT_USER() AS me');
      expect(rows[0]?.me).toBe(`${emulator.cluster.readerAccounts[0]!.user}@%`);
    } finally {
      conn.destroy();
    }
  });

  it('logs reader sessions in again after one changed its own password (SET PASSWORD needs no privilege)', async () => {
    const conn = await fx.connect({ endpoint: emulator.cluster.readerEndpoint.host });
    await conn.query("SET PASSWORD = PASSWORD('changed-behind-the-emulators-back')");
    conn.destroy();
    const again = await fx.connect({ endpoint: emulator.cluster.readerEndpoint.host });
    try {
      const [rows] = await again.query<Row[]>('SELECT @@innodb_read_only AS ro');
      expect(rows[0]?.ro).toBe(1);
    } finally {
      again.destroy();
    }
  });
});
