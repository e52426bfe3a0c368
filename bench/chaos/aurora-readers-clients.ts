/**
 * The four read clients the `aurora-readers` scenario compares, behind one small interface so the
 * same read workload runs on each:
 *
 * - `ours-reader`: rds-iam-pool's reader pool, `createIamCluster(...).reader` with
 *   `reader: { fallbackToWriter: false }` (so any read on the writer is a fault), its connections on
 *   the reader *instance* endpoints; the cluster object's writer pool carries a light write load, so
 *   the login cap is shared as in an application.
 * - `ours-endpoint`: `createIamPool` on the reader endpoint (`cluster-ro-`), `topologyFailover: false`.
 * - `hand-wired`: `mysql2.createPool` on the reader endpoint, signing a token with
 *   `@aws-sdk/rds-signer` at every login (the benchmark's baseline, bench/lib/sign-per-connection.ts).
 * - `aws-wrapper`: aws-advanced-nodejs-wrapper 2.0.1 with `plugins: 'readWriteSplitting,failover,iam'`:
 *   one `AwsMySQLClient` per connection, each connected to the cluster endpoint and switched to a
 *   reader with `setReadOnly(true)` (the plugin's documented use), shared by the callers through a
 *   small queue.
 *
 * Every client reaches each endpoint at that endpoint's own port, as DNS would lead it on AWS (ours
 * through `connectTo`, the others through mysql2's `stream`), so a removed or failed reader refuses
 * TCP there as Aurora's do.
 */
import net from 'node:net';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Pool } from 'mysql2/promise';
import type { ClusterEmulator } from '../../src/emulator/index.js';
import { createIamCluster, createIamPool, type IamPool, type IamPoolOptions } from '../../src/index.js';
import type { EmulatorAddress } from '../lib/emulator-process.js';
import { IAM_USER as HAND_WIRED_USER } from '../lib/env.js';
import { signPerConnectionPool } from '../lib/sign-per-connection.js';
import { wrapperCredentialsEnvironment } from './aurora-clients.js';

export const READER_CLIENT_NAMES = ['ours-reader', 'ours-endpoint', 'hand-wired', 'aws-wrapper'] as const;
export type ReaderClientName = (typeof READER_CLIENT_NAMES)[number];

export const READER_CLIENT_LABELS: Record<ReaderClientName, string> = {
  'ours-reader': 'rds-iam-pool createIamCluster().reader, fallbackToWriter: false',
  'ours-endpoint': 'rds-iam-pool createIamPool on the reader endpoint, topologyFailover: false',
  'hand-wired': 'mysql2 pool + @aws-sdk/rds-signer on the reader endpoint, hand-wired',
  'aws-wrapper': "aws-advanced-nodejs-wrapper 2.0.1, plugins 'readWriteSplitting,failover,iam'",
};

/** The IAM users the scenario's emulator must accept: ours and the wrapper log in as the first. */
export const READERS_IAM_USER = 'chaos_app';
export const READERS_IAM_USERS = [READERS_IAM_USER, HAND_WIRED_USER] as const;

/** Who served a read: `@@aurora_server_id` and `@@innodb_read_only` of its session. */
export interface Served {
  instance: string;
  readOnly: boolean;
}

const ROLE_SQL = 'SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro';

/** What the read workload needs from a client. */
export interface ReadClient {
  readonly name: ReaderClientName;
  /**
   * One read on one connection: who serves it (`ROLE_SQL`), then `workSql` (the server-side work a
   * real read does, holding the connection meanwhile). `onConnection` hears the connection's id
   * (the server's connection id, as in the emulator's sessions()) once it has one, where the client
   * exposes it.
   */
  read(workSql: string, onConnection: (threadId: number | undefined) => void): Promise<Served>;
  /**
   * A write through the reader client: it must be refused. On a borrowed connection, given back
   * after: mysql2's `pool.query()` destroys a connection after a read-only error (1290), so probing
   * with it would recycle a connection per probe and move the pool's connections behind the
   * measurement's back.
   */
  write(sql: string, values: unknown[]): Promise<void>;
  /** ours-reader: a write through the cluster object's writer pool (the cluster's other load). */
  writerWrite?(sql: string, values: unknown[]): Promise<void>;
  /** ours-reader: the reader pool's own view of its connections per instance endpoint. */
  connectionsByInstance?(): Record<string, number>;
  /** Counters worth showing next to the figures. */
  counters(): Record<string, number>;
  /** ours: tokens signed per endpoint name (from the pools' tokenSigned events); undefined when not known. */
  signingsByHost(): Record<string, number> | undefined;
  /** The login cap the client keeps across all its pools (logins per second), if it has one. */
  readonly loginCap: number | undefined;
  end(): Promise<void>;
}

export interface ReadClientSetup {
  emulator: ClusterEmulator;
  database: string;
  credentials: AwsCredentialIdentityProvider;
  /** Keys for the AWS wrapper, which reads credentials from the environment only. */
  environmentKey: { accessKeyId: string; secretAccessKey: string };
  /** Connections on the readers. */
  connections: number;
  /** How often ours reads the topology when no failover is followed (`topologyFailover.refreshIntervalMs`). */
  refreshIntervalMs: number;
  /** Our pools are handed to the leak check. */
  onPool?(pool: IamPool): void;
}

export async function createReadClient(name: ReaderClientName, setup: ReadClientSetup): Promise<ReadClient> {
  switch (name) {
    case 'ours-reader':
      return oursReaderClient(setup);
    case 'ours-endpoint':
      return oursEndpointClient(setup);
    case 'hand-wired':
      return handWiredClient(setup);
    case 'aws-wrapper':
      return awsWrapperClient(setup);
  }
}

type Rows = Array<Record<string, unknown>>;

function served(rows: Rows): Served {
  const row = rows[0] ?? {};
  return { instance: String(row.id), readOnly: Number(row.ro) === 1 };
}

/** A read on a mysql2/promise pool: one borrowed connection for both statements, given back after. */
async function poolRead(
  pool: Pool,
  workSql: string,
  onConnection: (threadId: number | undefined) => void,
): Promise<Served> {
  const connection = await pool.getConnection();
  onConnection(connection.threadId ?? undefined);
  try {
    const [rows] = await connection.query(ROLE_SQL);
    await connection.query(workSql);
    return served(rows as Rows);
  } finally {
    connection.release();
  }
}

/** A write on a borrowed connection, given back after (see ReadClient.write). */
async function poolWrite(pool: Pool, sql: string, values: unknown[]): Promise<void> {
  const connection = await pool.getConnection();
  try {
    await connection.query(sql, values);
  } finally {
    connection.release();
  }
}

/** Each endpoint at its own port, as DNS leads there on AWS. */
function ownPort(emulator: ClusterEmulator) {
  return (host: string) => ({
    host: emulator.listenHost,
    // An unknown name gets a port nothing listens on: refused, as an unresolvable name would fail.
    port: emulator.cluster.endpointFor(host)?.port ?? 1,
  });
}

function oursOptions(setup: ReadClientSetup): IamPoolOptions {
  const { emulator } = setup;
  return {
    host: emulator.cluster.endpoint.host,
    port: emulator.endpointPort,
    user: READERS_IAM_USER,
    database: setup.database,
    connectTo: ownPort(emulator),
    ssl: { ca: emulator.ca },
    credentials: setup.credentials,
  };
}

/** Tokens signed per endpoint name, from `tokenSigned` events of the pools given. */
function countSignings(pools: IamPool[]): Record<string, number> {
  const byHost: Record<string, number> = {};
  for (const pool of pools) {
    pool.iam.on('tokenSigned', (info) => {
      byHost[info.hostname] = (byHost[info.hostname] ?? 0) + 1;
    });
  }
  return byHost;
}

function oursReaderClient(setup: ReadClientSetup): ReadClient {
  const cluster = createIamCluster({
    ...oursOptions(setup),
    // The writer pool's size; the reader pool's is below.
    connectionLimit: 2,
    topologyFailover: { refreshIntervalMs: setup.refreshIntervalMs },
    reader: { connectionLimit: setup.connections, fallbackToWriter: false },
  });
  setup.onPool?.(cluster.writer);
  setup.onPool?.(cluster.reader);
  const signings = countSignings([cluster.writer, cluster.reader]);
  return {
    name: 'ours-reader',
    read: (workSql, onConnection) => poolRead(cluster.reader, workSql, onConnection),
    write: (sql, values) => poolWrite(cluster.reader, sql, values),
    async writerWrite(sql, values) {
      await cluster.writer.query(sql, values);
    },
    connectionsByInstance: () => ({ ...(cluster.stats().reader.connectionsByInstance ?? {}) }),
    counters() {
      const { reader, writer } = cluster.stats();
      return {
        'reader connections opened': reader.connectionsOpened,
        'reader connections rebalanced': reader.connectionsRebalanced,
        'reader connections dead on borrow': reader.deadOnBorrow,
        'reader connect failures': reader.connectFailures,
        'reader acquire timeouts': reader.acquireTimeouts,
        'writer connections opened': writer.connectionsOpened,
        'logins delayed by the cap': reader.loginsDelayed,
        'tokens signed': reader.tokensSigned + writer.tokensSigned,
      };
    },
    signingsByHost: () => ({ ...signings }),
    // Both pools and the topology's own connections share one cap (the default, 20 a second).
    loginCap: 20,
    end: () => cluster.end(),
  };
}

function oursEndpointClient(setup: ReadClientSetup): ReadClient {
  const pool = createIamPool({
    ...oursOptions(setup),
    host: setup.emulator.cluster.readerEndpoint.host,
    connectionLimit: setup.connections,
    topologyFailover: false,
  });
  setup.onPool?.(pool);
  const signings = countSignings([pool]);
  return {
    name: 'ours-endpoint',
    read: (workSql, onConnection) => poolRead(pool, workSql, onConnection),
    write: (sql, values) => poolWrite(pool, sql, values),
    counters() {
      const s = pool.iam.stats();
      return {
        'connections opened': s.connectionsOpened,
        'dead on borrow': s.deadOnBorrow,
        'connect failures': s.connectFailures,
        'acquire timeouts': s.acquireTimeouts,
        'tokens signed': s.tokensSigned,
      };
    },
    signingsByHost: () => ({ ...signings }),
    loginCap: 20,
    end: () => pool.end(),
  };
}

function handWiredClient(setup: ReadClientSetup): ReadClient {
  const { emulator } = setup;
  const readerEndpoint = emulator.cluster.readerEndpoint;
  const address: EmulatorAddress = {
    host: readerEndpoint.host,
    endpointPort: emulator.endpointPort,
    region: emulator.region,
    listenHost: emulator.listenHost,
    // The reader endpoint's own port: refused while its DNS record names a reader that is down.
    port: readerEndpoint.port,
    ca: emulator.ca,
  };
  const signings = { count: 0 };
  const pool = signPerConnectionPool(
    { emulator: address, database: setup.database, connectionLimit: setup.connections },
    setup.credentials,
    signings,
  );
  return {
    name: 'hand-wired',
    read: (workSql, onConnection) => poolRead(pool, workSql, onConnection),
    write: (sql, values) => poolWrite(pool, sql, values),
    counters: () => ({ 'tokens signed': signings.count }),
    signingsByHost: () => ({ [readerEndpoint.host]: signings.count }),
    loginCap: undefined,
    end: () => pool.end(),
  };
}

/** The subset of the wrapper's AwsMySQLClient the workload uses. */
interface WrapperClient {
  connect(): Promise<void>;
  setReadOnly(readOnly: boolean): Promise<unknown>;
  query(options: { sql: string; values?: unknown[] }): Promise<[unknown, unknown]>;
  end(): Promise<unknown>;
}

/**
 * aws-advanced-nodejs-wrapper's read/write splitting: `setReadOnly(true)` on a client connected to
 * the cluster endpoint opens a connection to a reader chosen by `readerHostSelectorStrategy`
 * (default `random`) from the topology, and routes the client's statements there. One client per
 * connection; callers take a free client from a queue, as a pool would hand out a connection. After
 * an error a client is kept (its failover plugin reconnects it); one that failed to connect, or
 * whose failover failed, is replaced.
 */
async function awsWrapperClient(setup: ReadClientSetup): Promise<ReadClient> {
  const { emulator } = setup;
  const { AwsMySQLClient } = await import('aws-advanced-nodejs-wrapper/mysql');
  const restoreEnvironment = wrapperCredentialsEnvironment(setup.environmentKey);
  const port = ownPort(emulator);
  const config = {
    host: emulator.cluster.endpoint.host,
    port: emulator.endpointPort,
    user: READERS_IAM_USER,
    database: setup.database,
    plugins: 'readWriteSplitting,failover,iam',
    ssl: { ca: emulator.ca, rejectUnauthorized: true },
    enableCleartextPlugin: true,
    // mysql2 calls `stream` with the connection's options: each endpoint at its own port.
    stream: (opts: { config: { host?: string } }) => {
      const target = port(opts.config.host ?? '');
      return net.connect(target.port, target.host);
    },
  };
  const counters = { 'clients opened': 0, 'clients replaced': 0, 'failovers reported': 0 };
  const all = new Set<WrapperClient>();
  let ended = false;
  const open = async (): Promise<WrapperClient> => {
    counters['clients opened']++;
    const client = new AwsMySQLClient(config) as unknown as WrapperClient;
    try {
      await client.connect();
      await client.setReadOnly(true);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    all.add(client);
    return client;
  };
  const idle: WrapperClient[] = [];
  const waiting: Array<(client: WrapperClient | undefined) => void> = [];
  let slots = setup.connections;
  /** A client (or, undefined, its slot: the next taker opens one) goes to the next waiting caller. */
  const give = (client: WrapperClient | undefined) => {
    const next = waiting.shift();
    if (next) next(client);
    else if (client) idle.push(client);
    else slots++;
  };
  const openInSlot = () =>
    open().catch((err: unknown) => {
      give(undefined);
      throw err;
    });
  /** A client for one request: an idle one, a new one while there is room, or the next one given back. */
  const take = async (): Promise<WrapperClient> => {
    if (ended) throw new Error('the wrapper clients were ended');
    const client = idle.pop();
    if (client) return client;
    if (slots > 0) {
      slots--;
      return openInSlot();
    }
    const given = await new Promise<WrapperClient | undefined>((resolve) => waiting.push(resolve));
    if (given) return given;
    if (ended) throw new Error('the wrapper clients were ended');
    return openInSlot();
  };
  const run = async <T>(body: (client: WrapperClient) => Promise<T>): Promise<T> => {
    const client = await take();
    try {
      const result = await body(client);
      give(client);
      return result;
    } catch (err) {
      const kind = (err as Error | null)?.constructor?.name ?? '';
      if (kind === 'FailoverSuccessError' || kind === 'TransactionResolutionUnknownError') {
        counters['failovers reported']++;
      }
      if (kind === 'FailoverFailedError') {
        counters['clients replaced']++;
        all.delete(client);
        void client.end().catch(() => {});
        give(undefined);
      } else {
        give(client);
      }
      throw err;
    }
  };
  return {
    name: 'aws-wrapper',
    read: (workSql) =>
      run(async (client) => {
        const [rows] = await client.query({ sql: ROLE_SQL });
        await client.query({ sql: workSql });
        return served(rows as Rows);
      }),
    write: (sql, values) =>
      run(async (client) => {
        await client.query({ sql, values });
      }),
    counters: () => ({ ...counters }),
    signingsByHost: () => undefined,
    loginCap: undefined,
    async end() {
      ended = true;
      for (const resolve of waiting.splice(0)) resolve(undefined);
      await Promise.all([...all].map((c) => c.end().catch(() => {})));
      restoreEnvironment();
    },
  };
}
