/**
 * The four clients the `aurora-failover` scenario compares, behind one small interface so the same
 * workload runs on each: rds-iam-pool set up as a user on AWS sets it up (the cluster endpoint, no
 * behaviour option: verifyWriter and topology following are on by default for it); the same pool
 * with every write through `withTransaction`, which retries what is known not to have committed;
 * mysql2 wired by hand with @aws-sdk/rds-signer (the bench's baseline,
 * bench/lib/sign-per-connection.ts); and aws-advanced-nodejs-wrapper with its `iam` and `failover`
 * plugins. Ours and the wrapper dial each endpoint's own port of the emulator, as DNS would lead them
 * there (ours through `connectTo`, the wrapper through mysql2's `stream`), so an instance that is down
 * refuses TCP with outage 'refuse'; the hand-wired pool uses only the cluster endpoint, on its port.
 */
import net from 'node:net';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Pool, PoolConnection } from 'mysql2/promise';
import type { ClusterEmulator } from '../../src/emulator/index.js';
import {
  createIamPool,
  type IamPool,
  type TopologyChangedMessage,
  withTransaction,
} from '../../src/index.js';
import type { EmulatorAddress } from '../lib/emulator-process.js';
import { IAM_USER as HAND_WIRED_USER } from '../lib/env.js';
import { signPerConnectionPool } from '../lib/sign-per-connection.js';

/**
 * Wall-clock time in ms since the epoch, to a fraction of a millisecond: which of a request's start
 * and a socket's close came first is often decided within the same millisecond.
 */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

export const CLIENT_NAMES = ['ours-defaults', 'ours-transaction', 'hand-wired', 'aws-wrapper'] as const;
export type ClientName = (typeof CLIENT_NAMES)[number];

export const CLIENT_LABELS: Record<ClientName, string> = {
  'ours-defaults': 'rds-iam-pool, defaults',
  'ours-transaction': 'rds-iam-pool, defaults + withTransaction',
  'hand-wired': 'mysql2 pool + @aws-sdk/rds-signer, hand-wired',
  'aws-wrapper': "aws-advanced-nodejs-wrapper 2.0.1, plugins 'iam,failover'",
};

/** The IAM users the scenario's emulator must accept: ours and the wrapper log in as the first. */
export const AURORA_IAM_USER = 'chaos_app';
export const AURORA_IAM_USERS = [AURORA_IAM_USER, HAND_WIRED_USER] as const;

export type Row = Record<string, unknown>;
export type Statement = (sql: string, values?: unknown[]) => Promise<Row[]>;

/** What the workload needs from a client. `worker` is the caller: the wrapper gives each its own connection. */
export interface FailoverClient {
  readonly name: ClientName;
  /** One statement through the client's everyday API (`pool.query`, or the caller's connection). */
  query(worker: number, sql: string, values?: unknown[]): Promise<Row[]>;
  /**
   * A transaction on one connection. On an error it rolls back and gives the connection back, as
   * ORMs and query builders do (a connection whose rollback fails too is destroyed).
   */
  transaction<T>(worker: number, body: (statement: Statement) => Promise<T>): Promise<T>;
  /** When this client found the new writer by itself (the pool's topologyChanged event), ms since the epoch. */
  writerFoundAt(): number[];
  /**
   * Ours: each connection the pool opened, the endpoint it reached, and when the process saw it
   * close (its socket's 'end' or 'close'), ms since the epoch. The server cuts a connection at once;
   * the client learns of it only when its event loop reads that socket, and a request that borrowed
   * the connection before then is sent into a connection already gone.
   */
  connectionsSeen?(): ConnectionSeen[];
  /** Counters worth showing next to the figures (connections replaced, retired, signings...). */
  counters(): Record<string, number>;
  end(): Promise<void>;
}

export interface ConnectionSeen {
  /** The endpoint name it logged in to (the cluster endpoint, or an instance endpoint). */
  host: string;
  openedAt: number;
  closeSeenAt: number | undefined;
}

export interface ClientSetup {
  emulator: ClusterEmulator;
  database: string;
  credentials: AwsCredentialIdentityProvider;
  /** Keys for the AWS wrapper, which reads credentials from the environment only. */
  environmentKey: { accessKeyId: string; secretAccessKey: string };
  /** Connections per pool, and callers (the wrapper opens one connection per caller). */
  connections: number;
  /** Our pools are handed to the leak check. */
  onPool?(pool: IamPool): void;
}

export async function createFailoverClient(name: ClientName, setup: ClientSetup): Promise<FailoverClient> {
  switch (name) {
    case 'ours-defaults':
      return oursClient(name, setup, false);
    case 'ours-transaction':
      return oursClient(name, setup, true);
    case 'hand-wired':
      return handWiredClient(setup);
    case 'aws-wrapper':
      return awsWrapperClient(setup);
  }
}

/** Transactions over a mysql2/promise pool, ORM style. */
async function poolTransaction<T>(pool: Pool, body: (statement: Statement) => Promise<T>): Promise<T> {
  const connection: PoolConnection = await pool.getConnection();
  const statement: Statement = async (sql, values) => {
    const [rows] = await connection.query(sql, values);
    return rows as Row[];
  };
  try {
    await connection.beginTransaction();
    const result = await body(statement);
    await connection.commit();
    connection.release();
    return result;
  } catch (err) {
    try {
      await connection.rollback();
      connection.release();
    } catch {
      connection.destroy();
    }
    throw err;
  }
}

/**
 * rds-iam-pool as a user on AWS creates it: the cluster endpoint as `host` (its default port), the
 * user, database, CA, credentials and pool size, and no behaviour option. `connectTo` stands in for
 * DNS: each endpoint name goes to the emulator's own port for it. With `helper`, every write goes
 * through withTransaction, which decides what is retried; reads stay plain `pool.query()` calls.
 */
function oursClient(name: ClientName, setup: ClientSetup, helper: boolean): FailoverClient {
  const { emulator } = setup;
  const pool = createIamPool({
    host: emulator.cluster.endpoint.host,
    user: AURORA_IAM_USER,
    database: setup.database,
    ssl: { ca: emulator.ca },
    credentials: setup.credentials,
    connectionLimit: setup.connections,
    connectTo: (host) => ({
      host: emulator.listenHost,
      // An unknown name gets the cluster endpoint's port, where the TLS server name picks the
      // endpoint (the emulator closes a connection naming no endpoint of its cluster).
      port: emulator.cluster.endpointFor(host)?.port ?? emulator.port,
    }),
  });
  setup.onPool?.(pool);
  const found: number[] = [];
  pool.iam.on('topologyChanged', (m: TopologyChangedMessage) => found.push(m.foundAt));
  // Instrumentation only (mysql2's connection.stream is the TLS socket once 'connection' is emitted).
  const seen: ConnectionSeen[] = [];
  pool.pool.on('connection', (connection) => {
    const internals = connection as unknown as { stream?: NodeJS.EventEmitter; config: { host: string } };
    const record: ConnectionSeen = {
      host: internals.config.host,
      openedAt: preciseNow(),
      closeSeenAt: undefined,
    };
    seen.push(record);
    const note = () => {
      record.closeSeenAt ??= preciseNow();
    };
    internals.stream?.once('end', note);
    internals.stream?.once('close', note);
  });
  const query = async (sql: string, values?: unknown[]) => {
    const [rows] = await pool.query(sql, values);
    return rows as Row[];
  };
  return {
    name,
    query: (_worker, sql, values) =>
      helper && !/^\s*select/i.test(sql)
        ? withTransaction(pool, async (connection) => {
            const [rows] = await connection.query(sql, values);
            return rows as Row[];
          })
        : query(sql, values),
    transaction: (_worker, body) =>
      helper
        ? withTransaction(pool, (connection) =>
            body(async (sql, values) => {
              const [rows] = await connection.query(sql, values);
              return rows as Row[];
            }),
          )
        : poolTransaction(pool, body),
    writerFoundAt: () => [...found],
    connectionsSeen: () => seen.map((c) => ({ ...c })),
    counters() {
      const s = pool.iam.stats();
      return {
        'connections opened': s.connectionsOpened,
        'wrong role retired': s.wrongRoleRetired,
        'dead on borrow': s.deadOnBorrow,
        'connect failures': s.connectFailures,
        'acquire timeouts': s.acquireTimeouts,
        'tokens signed': s.tokensSigned,
        ...(s.topology ? { 'failovers followed': s.topology.failovers } : {}),
      };
    },
    end: () => pool.end(),
  };
}

function handWiredClient(setup: ClientSetup): FailoverClient {
  const { emulator } = setup;
  const address: EmulatorAddress = {
    host: emulator.cluster.endpoint.host,
    endpointPort: emulator.endpointPort,
    region: emulator.region,
    listenHost: emulator.listenHost,
    port: emulator.port,
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
    async query(_worker, sql, values) {
      const [rows] = await pool.query(sql, values);
      return rows as Row[];
    },
    transaction: (_worker, body) => poolTransaction(pool, body),
    writerFoundAt: () => [],
    counters: () => ({ 'tokens signed': signings.count }),
    end: () => pool.end(),
  };
}

/**
 * aws-advanced-nodejs-wrapper's IAM plugin takes credentials from the default provider chain only:
 * puts the emulator's test key into the environment (and keeps the chain off instance metadata), and
 * returns what puts the environment back.
 */
export function wrapperCredentialsEnvironment(key: {
  accessKeyId: string;
  secretAccessKey: string;
}): () => void {
  const saved = { ...process.env };
  process.env.AWS_ACCESS_KEY_ID = key.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = key.secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  return () => {
    process.env = saved;
  };
}

/** The subset of the wrapper's AwsMySQLClient the workload uses. */
interface WrapperClient {
  connect(): Promise<void>;
  query(options: { sql: string; values?: unknown[] }): Promise<[unknown, unknown]>;
  end(): Promise<unknown>;
}

/**
 * aws-advanced-nodejs-wrapper: one AwsMySQLClient (one connection) per caller, the way its failover
 * examples use it. After a failover it reconnects by itself and throws FailoverSuccessError (or
 * TransactionResolutionUnknownError inside a transaction) to the caller of the interrupted
 * statement; the caller goes on with the same client. A client whose failover failed is replaced.
 */
async function awsWrapperClient(setup: ClientSetup): Promise<FailoverClient> {
  const { emulator } = setup;
  const { AwsMySQLClient } = await import('aws-advanced-nodejs-wrapper/mysql');
  const restoreEnvironment = wrapperCredentialsEnvironment(setup.environmentKey);
  const config = {
    host: emulator.cluster.endpoint.host,
    port: emulator.endpointPort,
    user: AURORA_IAM_USER,
    database: setup.database,
    plugins: 'iam,failover',
    ssl: { ca: emulator.ca, rejectUnauthorized: true },
    enableCleartextPlugin: true,
    // Each endpoint on its own port, as DNS would lead there: an instance that is down refuses TCP
    // there with outage 'refuse'. (mysql2 calls `stream` with the connection's options.)
    stream: (opts: { config: { host?: string } }) =>
      net.connect(
        emulator.cluster.endpointFor(opts.config.host ?? '')?.port ?? emulator.port,
        emulator.listenHost,
      ),
  };
  const counters = { 'clients replaced': 0, 'failovers reported': 0 };
  const clients = new Map<number, Promise<WrapperClient>>();
  const open = (): Promise<WrapperClient> => {
    const client = new AwsMySQLClient(config) as unknown as WrapperClient;
    return client.connect().then(
      () => client,
      async (err: unknown) => {
        await client.end().catch(() => {});
        throw err;
      },
    );
  };
  const clientFor = (worker: number): Promise<WrapperClient> => {
    let client = clients.get(worker);
    if (!client) {
      client = open();
      clients.set(worker, client);
      // A client that could not connect is forgotten: the caller's next request opens another.
      client.catch(() => {
        if (clients.get(worker) === client) clients.delete(worker);
      });
    }
    return client;
  };
  /**
   * After an error the caller keeps its client, as the wrapper intends: after FailoverSuccessError
   * (or TransactionResolutionUnknownError) it is connected to the new writer, and a connection lost
   * elsewhere makes its next statement fail over. Only a client whose failover failed is replaced.
   */
  const afterError = (worker: number, client: WrapperClient, err: unknown) => {
    const kind = (err as Error | null)?.constructor?.name ?? '';
    if (kind === 'FailoverSuccessError' || kind === 'TransactionResolutionUnknownError') {
      counters['failovers reported']++;
    } else if (kind === 'FailoverFailedError') {
      counters['clients replaced']++;
      clients.delete(worker);
      void client.end().catch(() => {});
    }
  };
  const run = async <T>(worker: number, body: (client: WrapperClient) => Promise<T>): Promise<T> => {
    const client = await clientFor(worker);
    try {
      return await body(client);
    } catch (err) {
      afterError(worker, client, err);
      throw err;
    }
  };
  return {
    name: 'aws-wrapper',
    query: (worker, sql, values) =>
      run(worker, async (client) => {
        const [rows] = await client.query({ sql, ...(values ? { values } : {}) });
        return rows as Row[];
      }),
    transaction: (worker, body) =>
      run(worker, async (client) => {
        const statement: Statement = async (sql, values) => {
          const [rows] = await client.query({ sql, ...(values ? { values } : {}) });
          return rows as Row[];
        };
        // As statements, not beginTransaction()/commit(): its failover plugin watches query() (and
        // connect) only, so a connection lost in commit() would reach the caller as a bare
        // PROTOCOL_CONNECTION_LOST with no failover. query() also tracks the transaction state.
        await statement('START TRANSACTION');
        try {
          const result = await body(statement);
          await statement('COMMIT');
          return result;
        } catch (err) {
          await statement('ROLLBACK').catch(() => {});
          throw err;
        }
      }),
    writerFoundAt: () => [],
    counters: () => ({ ...counters }),
    async end() {
      const all = await Promise.allSettled(clients.values());
      clients.clear();
      await Promise.all(
        all.map((c) => (c.status === 'fulfilled' ? c.value.end().catch(() => {}) : undefined)),
      );
      restoreEnvironment();
    },
  };
}
