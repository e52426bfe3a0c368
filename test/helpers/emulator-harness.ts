import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { AwsCredentialIdentity } from '@smithy/types';
import mysql, { type Connection, type ConnectionOptions } from 'mysql2/promise';
import { type Emulator, type EmulatorOptions, startEmulator } from '../../src/emulator/index.js';
import { signAuthToken } from '../../src/token/sign.js';

/** Obviously fake credentials the emulator is told to trust. Never real AWS keys. */
export const TEST_KEY = {
  accessKeyId: 'AKIAEMULATORTEST0001',
  secretAccessKey: 'emulator-test-secret-not-a-real-key',
} as const;

/** Temporary-credential flavour: the token must carry this session token. */
export const TEST_SESSION_KEY = {
  accessKeyId: 'ASIAEMULATORTEST0002',
  secretAccessKey: 'emulator-test-session-secret-not-real',
  sessionToken: 'emulator-test-session-token-not-real',
} as const;

/** A key the emulator does not trust. */
export const UNTRUSTED_KEY = {
  accessKeyId: 'AKIAEMULATORUNKNOWN9',
  secretAccessKey: 'emulator-untrusted-secret-not-a-real-key',
} as const;

export const MARIADB = {
  host: process.env.MARIADB_HOST ?? '127.0.0.1',
  port: Number(process.env.MARIADB_PORT ?? 3306),
  user: 'root',
  password: '',
};

export interface TokenOverrides {
  /** DBUser in the token; defaults to the login user. */
  tokenUser?: string;
  tokenHost?: string;
  tokenPort?: number;
  tokenRegion?: string;
  signingDate?: Date;
  expiresIn?: number;
  credentials?: AwsCredentialIdentity;
}

export interface ConnectOptions extends TokenOverrides {
  /** IAM user to log in as; defaults to the fixture's first IAM user. */
  user?: string;
  /** Database to select; null for none; defaults to the fixture's database. */
  database?: string | null;
  /** Use this exact token instead of signing one. */
  token?: string;
  /** false = plaintext (the client still answers mysql_clear_password); default: verified TLS. */
  ssl?: ConnectionOptions['ssl'] | false;
  connectTimeout?: number;
  multipleStatements?: boolean;
  /** Cluster mode: the endpoint name to reach (TLS server name and token host); default the emulator's host. */
  endpoint?: string;
  /** The emulator port to dial; default the emulator's (in cluster mode the cluster endpoint's, which serves every name by SNI). */
  listenPort?: number;
}

export interface EmulatorFixture {
  emulator: Emulator;
  database: string;
  /** IAM user name -> backend user it maps to. */
  backendUsers: Record<string, string>;
  /** A token for `user` (default: first IAM user) signed with TEST_KEY unless overridden. */
  token(user?: string, overrides?: TokenOverrides): Promise<string>;
  /** Opens a mysql2/promise connection the way rds-iam-pool does: RDS host name in TLS, tunnelled port. */
  connect(options?: ConnectOptions): Promise<Connection>;
  /** Stops the emulator and drops the database and backend users. */
  teardown(): Promise<void>;
}

export interface FixtureOptions {
  /** Short unique name per test file; the database is `rip_<name>_<run id>`. */
  name: string;
  /** IAM user names; each gets its own backend user. Default ['iam_app']. */
  iamUsers?: string[];
  /** Extra or overriding emulator options (users/backend are filled in). */
  emulator?: Partial<EmulatorOptions>;
}

/**
 * Tells this test run's databases and backend users from those of a run in another checkout
 * against the same MariaDB (which would otherwise drop them, or reset their passwords, mid-test).
 */
export const RUN_ID = randomBytes(3).toString('hex');

async function rootConnection(): Promise<Connection> {
  return mysql.createConnection({ ...MARIADB, multipleStatements: true });
}

/** Creates `rip_<name>` with a table, one backend user per IAM user, and an emulator in front of MariaDB. */
export async function createEmulatorFixture(options: FixtureOptions): Promise<EmulatorFixture> {
  const database = `rip_${options.name}_${RUN_ID}`;
  const iamUsers = options.iamUsers ?? ['iam_app'];
  const backendUsers: Record<string, string> = {};
  const users: EmulatorOptions['users'] = {};
  const root = await rootConnection();
  try {
    await root.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await root.query(`CREATE DATABASE \`${database}\``);
    await root.query(`CREATE TABLE \`${database}\`.items (id INT PRIMARY KEY, name VARCHAR(50))`);
    await root.query(`INSERT INTO \`${database}\`.items VALUES (1, 'one'), (2, 'two')`);
    for (const [i, iamUser] of iamUsers.entries()) {
      const backendUser = `${database}_u${i}`.slice(0, 80);
      const password = randomBytes(12).toString('hex');
      await root.query(`DROP USER IF EXISTS '${backendUser}'@'%'`);
      await root.query(`CREATE USER '${backendUser}'@'%' IDENTIFIED BY '${password}'`);
      await root.query(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO '${backendUser}'@'%'`);
      backendUsers[iamUser] = backendUser;
      users[iamUser] = { backendUser, backendPassword: password };
    }
  } finally {
    await root.end();
  }

  const emulator = await startEmulator({
    backend: { host: MARIADB.host, port: MARIADB.port, user: MARIADB.user, password: MARIADB.password },
    users,
    keys: [TEST_KEY, TEST_SESSION_KEY],
    ...options.emulator,
  });
  const defaultUser = iamUsers[0] ?? 'iam_app';

  const token = (user = defaultUser, o: TokenOverrides = {}) =>
    signAuthToken({
      hostname: o.tokenHost ?? emulator.host,
      port: o.tokenPort ?? emulator.endpointPort,
      username: o.tokenUser ?? user,
      region: o.tokenRegion ?? emulator.region,
      credentials: o.credentials ?? TEST_KEY,
      ...(o.signingDate ? { signingDate: o.signingDate } : {}),
      ...(o.expiresIn ? { expiresIn: o.expiresIn } : {}),
    });

  const connect = async (o: ConnectOptions = {}): Promise<Connection> => {
    const user = o.user ?? defaultUser;
    const host = o.endpoint ?? emulator.host;
    const authToken = o.token ?? (await token(user, { tokenHost: host, ...o }));
    const ssl =
      o.ssl === false
        ? undefined
        : (o.ssl ?? {
            ca: emulator.ca,
            rejectUnauthorized: true,
            verifyIdentity: true,
            minVersion: 'TLSv1.2',
          });
    return mysql.createConnection({
      host,
      port: emulator.endpointPort,
      user,
      ...(o.database === null ? {} : { database: o.database ?? database }),
      stream: () => net.connect(o.listenPort ?? emulator.port, '127.0.0.1'),
      ...(ssl ? { ssl } : {}),
      authPlugins: { mysql_clear_password: () => () => Buffer.from(`${authToken}\0`) },
      connectTimeout: o.connectTimeout ?? 10_000,
      multipleStatements: o.multipleStatements ?? false,
    });
  };

  const teardown = async () => {
    await emulator.stop();
    // Cluster mode: the read-only accounts the emulator made for this fixture's backend users.
    const readerAccounts = (emulator.cluster?.readerAccounts ?? []).filter(
      (a) => a.managed && Object.values(backendUsers).includes(a.backendUser),
    );
    const root = await rootConnection();
    try {
      await root.query(`DROP DATABASE IF EXISTS \`${database}\``);
      for (const backendUser of Object.values(backendUsers)) {
        await root.query(`DROP USER IF EXISTS '${backendUser}'@'%'`);
      }
      for (const account of readerAccounts) {
        await root.query('DROP USER IF EXISTS ?@?', [account.user, account.host]);
      }
    } finally {
      await root.end();
    }
  };

  return { emulator, database, backendUsers, token, connect, teardown };
}

/** Runs `fn` and returns the error it rejected with (fails if it resolved). */
/** The environment examples/lambda/handler.ts reads its pool options from, pointed at `fx`'s emulator. */
export function lambdaHandlerEnv(fx: EmulatorFixture): Record<string, string> {
  return {
    DB_HOST: fx.emulator.host,
    DB_PORT: String(fx.emulator.endpointPort),
    DB_USER: 'iam_app',
    DB_NAME: fx.database,
    DB_CONNECT_HOST: '127.0.0.1',
    DB_CONNECT_PORT: String(fx.emulator.port),
    DB_CA_PEM: fx.emulator.ca,
  };
}

export async function rejectionOf(
  fn: () => Promise<unknown>,
): Promise<Error & { errno?: number; code?: string }> {
  try {
    const result = await fn();
    if (result && typeof (result as Connection).end === 'function') await (result as Connection).end();
  } catch (err) {
    return err as Error & { errno?: number };
  }
  throw new Error('expected a rejection, but it resolved');
}

/** A raw TCP socket to the emulator, collecting everything it receives, for hostile-input tests. */
export interface RawClient {
  socket: net.Socket;
  received(): Buffer;
  /** Resolves when the emulator closes the connection (or after `timeoutMs`, with closed=false). */
  closed(timeoutMs?: number): Promise<{ closed: boolean; data: Buffer }>;
  /** Resolves once at least `n` bytes have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<Buffer>;
}

export function rawConnect(port: number, host = '127.0.0.1'): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    const chunks: Buffer[] = [];
    let isClosed = false;
    const closeWaiters: Array<() => void> = [];
    const dataWaiters: Array<() => void> = [];
    socket.on('data', (d) => {
      chunks.push(d);
      for (const w of dataWaiters.splice(0)) w();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      isClosed = true;
      for (const w of closeWaiters.splice(0)) w();
      for (const w of dataWaiters.splice(0)) w();
    });
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => Buffer.concat(chunks),
        closed: (timeoutMs = 5000) =>
          new Promise((res) => {
            const done = () => {
              clearTimeout(timer);
              res({ closed: isClosed, data: Buffer.concat(chunks) });
            };
            const timer = setTimeout(done, timeoutMs);
            if (isClosed) done();
            else closeWaiters.push(done);
          }),
        waitFor: (n, timeoutMs = 5000) =>
          new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`timed out waiting for ${n} bytes`)), timeoutMs);
            const check = () => {
              const data = Buffer.concat(chunks);
              if (data.length >= n) {
                clearTimeout(timer);
                res(data);
              } else if (isClosed) {
                clearTimeout(timer);
                rej(new Error(`closed after ${data.length} bytes`));
              } else dataWaiters.push(check);
            };
            check();
          }),
      }),
    );
    socket.once('error', reject);
  });
}

export { CLIENT_FLAGS } from '../../bench/chaos/client-flags.js';

/** Frames a payload as a MySQL packet. */
export function packet(sequenceId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequenceId;
  return Buffer.concat([header, payload]);
}
