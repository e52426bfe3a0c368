import { randomBytes } from 'node:crypto';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import mysql, { type Connection } from 'mysql2/promise';
import { type Emulator, type EmulatorOptions, startEmulator } from '../../src/emulator/index.js';
import { createIamPool, type IamPool, type IamPoolOptions } from '../../src/index.js';
import { TcpProxy } from './tcp-proxy.js';

/** The shared local MariaDB (never restarted: other test runs use it). */
export const MARIADB = {
  host: process.env.MARIADB_HOST ?? '127.0.0.1',
  port: Number(process.env.MARIADB_PORT ?? 3306),
  user: 'root',
  password: '',
};

/**
 * This runner's own database and backend user, per process (as the benchmark's), so that two chaos
 * runs on one MariaDB (a shared machine) do not drop each other's database, user or the read-only
 * account the emulator derives from that user.
 */
export const CHAOS_DATABASE = `rip_chaos_${process.pid}`;
const BACKEND_USER = `rip_chaos_u_${process.pid}`;
export const IAM_USER = 'chaos_app';

/** Obviously fake credentials the emulator trusts. Never real AWS keys. */
export const CHAOS_KEY = {
  accessKeyId: 'AKIACHAOSTEST0000001',
  secretAccessKey: 'chaos-test-secret-not-a-real-key',
} as const;

export interface BackendLogin {
  user: string;
  password: string;
}

export function rootConnection(): Promise<Connection> {
  return mysql.createConnection({ ...MARIADB, database: CHAOS_DATABASE });
}

export async function createChaosDatabase(): Promise<BackendLogin> {
  const password = randomBytes(12).toString('hex');
  const root = await mysql.createConnection({ ...MARIADB });
  try {
    await root.query(`DROP DATABASE IF EXISTS \`${CHAOS_DATABASE}\``);
    await root.query(`CREATE DATABASE \`${CHAOS_DATABASE}\``);
    await root.query(`DROP USER IF EXISTS '${BACKEND_USER}'@'%'`);
    await root.query(`CREATE USER '${BACKEND_USER}'@'%' IDENTIFIED BY '${password}'`);
    await root.query(`GRANT ALL PRIVILEGES ON \`${CHAOS_DATABASE}\`.* TO '${BACKEND_USER}'@'%'`);
  } finally {
    await root.end();
  }
  return { user: BACKEND_USER, password };
}

export async function dropChaosDatabase(): Promise<void> {
  const root = await mysql.createConnection({ ...MARIADB });
  try {
    await root.query(`DROP DATABASE IF EXISTS \`${CHAOS_DATABASE}\``);
    await root.query(`DROP USER IF EXISTS '${BACKEND_USER}'@'%'`);
  } finally {
    await root.end();
  }
}

/** A clock both the pool and the emulator read, which a scenario can jump. */
export function jumpableClock() {
  let offsetMs = 0;
  return {
    now: () => Date.now() + offsetMs,
    jump(ms: number) {
      offsetMs += ms;
    },
  };
}

/**
 * One scenario's path, every hop on loopback:
 *
 *   pool --TCP--> front proxy --> emulator (TLS, IAM token check) --> backend proxy --> MariaDB
 *
 * The front proxy can refuse connections (network or DNS trouble on the way to the endpoint); the
 * backend proxy can cut and refuse the emulator's backend sessions (the database restarting).
 */
export interface Stack {
  emulator: Emulator;
  front: TcpProxy;
  backend: TcpProxy;
  pool: IamPool;
  close(): Promise<void>;
}

export interface StackOptions {
  login: BackendLogin;
  keys?: EmulatorOptions['keys'];
  emulatorClock?: () => number;
  credentials?: AwsCredentialIdentityProvider;
  pool?: Partial<IamPoolOptions>;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const backend = await TcpProxy.start({ host: MARIADB.host, port: MARIADB.port });
  const emulator = await startEmulator({
    backend: { host: '127.0.0.1', port: backend.port, user: MARIADB.user, password: MARIADB.password },
    users: { [IAM_USER]: { backendUser: options.login.user, backendPassword: options.login.password } },
    keys: options.keys ?? [CHAOS_KEY],
    ...(options.emulatorClock ? { clock: options.emulatorClock } : {}),
  });
  const front = await TcpProxy.start({ host: '127.0.0.1', port: emulator.port });
  const pool = createIamPool({
    host: emulator.host,
    port: emulator.endpointPort,
    user: IAM_USER,
    database: CHAOS_DATABASE,
    connectHost: '127.0.0.1',
    connectPort: front.port,
    ssl: { ca: emulator.ca },
    credentials: options.credentials ?? (async () => ({ ...CHAOS_KEY })),
    connectionLimit: 4,
    ...options.pool,
  });
  return {
    emulator,
    front,
    backend,
    pool,
    async close() {
      await front.close();
      await emulator.stop();
      await backend.close();
    },
  };
}
