/**
 * A stand-in for an RDS endpoint on this machine, for the examples: the local RDS IAM emulator in
 * front of MariaDB on 127.0.0.1:3306, and a database of the example's own. In production you need
 * none of this: point the IAM options at your RDS endpoint and leave `ssl`, `connectHost`,
 * `connectPort`, `credentials` and `clock` out.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { type ClusterEmulator, type Emulator, startEmulator } from '../../src/emulator/index.js';

/** The local MariaDB the emulator relays to (override with MARIADB_* variables). */
export const MARIADB = {
  host: process.env.MARIADB_HOST ?? '127.0.0.1',
  port: Number(process.env.MARIADB_PORT ?? 3306),
  user: process.env.MARIADB_USER ?? 'root',
  password: process.env.MARIADB_PASSWORD ?? '',
};

// Test credentials the emulator trusts. They are not AWS keys and sign nothing outside this machine.
export const EXAMPLE_KEY = {
  accessKeyId: 'AKIAEXAMPLEEMULATOR1',
  secretAccessKey: 'example-secret-for-the-local-emulator',
};

export interface LocalRds {
  emulator: Emulator;
  /** The example's database, created empty. */
  database: string;
  /** IAM options for this endpoint, as you would write them for RDS plus the local-only parts. */
  iamOptions: {
    host: string;
    port: number;
    user: string;
    database: string;
    connectHost: string;
    connectPort: number;
    ssl: { ca: string };
    credentials: () => Promise<typeof EXAMPLE_KEY>;
    clock: () => number;
  };
  /** Moves the clock of the app and of the emulator, to show what happens 16 minutes later. */
  advanceClock(ms: number): void;
  /** Stops the emulator and drops the database. */
  stop(): Promise<void>;
}

/**
 * Starts the emulator (IAM user `app_iam`) and creates an empty database for the example. Without a
 * MariaDB to relay to, it ends the script with what is missing and how to start it, not a stack trace.
 */
export async function startLocalRds(name: string): Promise<LocalRds> {
  const database = process.env.EXAMPLE_DATABASE ?? `rip_example_${name}`;
  if (!/^\w+$/.test(database)) throw new Error(`EXAMPLE_DATABASE must be a plain name, got ${database}`);
  const root = await mysql.createConnection(MARIADB).catch((err: unknown) => exitWithoutDatabase(err));
  try {
    await root.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await root.query(`CREATE DATABASE \`${database}\``);
  } finally {
    await root.end();
  }

  const emulator = await startEmulator({ backend: MARIADB, users: { app_iam: {} }, keys: [EXAMPLE_KEY] });
  let clockOffsetMs = 0;
  return {
    emulator,
    database,
    iamOptions: {
      host: emulator.host, // the RDS endpoint name: the token and the TLS check use it
      port: emulator.endpointPort,
      user: 'app_iam',
      database,
      connectHost: '127.0.0.1', // where TCP goes (the emulator), like an SSH tunnel
      connectPort: emulator.port,
      ssl: { ca: emulator.ca }, // the emulator's CA; on RDS the bundled RDS CAs apply
      credentials: async () => EXAMPLE_KEY,
      clock: () => Date.now() + clockOffsetMs,
    },
    advanceClock(ms) {
      clockOffsetMs += ms;
      emulator.faults.shiftClock(ms);
    },
    async stop() {
      await emulator.stop();
      const root = await mysql.createConnection(MARIADB);
      try {
        await root.query(`DROP DATABASE IF EXISTS \`${database}\``);
      } finally {
        await root.end();
      }
    },
  };
}

export interface LocalAurora {
  emulator: ClusterEmulator;
  database: string;
  /**
   * IAM options for the cluster, as you would write them for Aurora plus the local-only parts: `host`
   * is the cluster endpoint; every endpoint (cluster, reader, each instance's) is reached through one
   * local port, which tells them apart by TLS server name.
   */
  iamOptions: LocalRds['iamOptions'];
  /** Statements each DB instance has run so far, by instance id. */
  queriesByInstance(): Record<string, number>;
  /** The instances that ran statements since `before` (a queriesByInstance() snapshot), in order. */
  instancesThatRan(before: Record<string, number>): string[];
  /** Stops the emulator and drops the database and the accounts made for it. */
  stop(): Promise<void>;
}

/**
 * Starts the emulator as an Aurora cluster of 4 DB instances (a writer and 3 readers, each with its
 * own endpoint) and creates an empty database for the example, with a database account of its own
 * (the emulator gives that account a read-only twin for the readers' sessions).
 */
export async function startLocalAurora(name: string): Promise<LocalAurora> {
  const database = process.env.EXAMPLE_DATABASE ?? `rip_example_${name}`;
  if (!/^\w+$/.test(database)) throw new Error(`EXAMPLE_DATABASE must be a plain name, got ${database}`);
  const backendUser = `${database}_app`.slice(0, 80);
  const backendPassword = randomBytes(12).toString('hex');
  const root = await mysql.createConnection(MARIADB).catch((err: unknown) => exitWithoutDatabase(err));
  try {
    await root.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await root.query(`CREATE DATABASE \`${database}\``);
    await root.query('DROP USER IF EXISTS ?@?', [backendUser, '%']);
    await root.query('CREATE USER ?@? IDENTIFIED BY ?', [backendUser, '%', backendPassword]);
    await root.query(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO ?@?`, [backendUser, '%']);
  } finally {
    await root.end();
  }

  const emulator = (await startEmulator({
    backend: MARIADB,
    users: { app_iam: { backendUser, backendPassword } },
    keys: [EXAMPLE_KEY],
    cluster: { instances: 4 },
  })) as ClusterEmulator;
  const queriesByInstance = () =>
    Object.fromEntries(emulator.cluster.topology().instances.map((i) => [i.id, i.queries]));
  return {
    emulator,
    database,
    iamOptions: {
      host: emulator.cluster.endpoint.host, // the cluster (writer) endpoint
      port: emulator.endpointPort,
      user: 'app_iam',
      database,
      connectHost: '127.0.0.1', // where TCP goes (the emulator), like an SSH tunnel
      connectPort: emulator.port,
      ssl: { ca: emulator.ca }, // the emulator's CA; on RDS the bundled RDS CAs apply
      credentials: async () => EXAMPLE_KEY,
      clock: Date.now,
    },
    queriesByInstance,
    instancesThatRan(before) {
      return Object.entries(queriesByInstance())
        .filter(([id, n]) => n > (before[id] ?? 0))
        .map(([id]) => id)
        .sort();
    },
    async stop() {
      const readerAccounts = emulator.cluster.readerAccounts.filter(
        (a) => a.managed && a.backendUser === backendUser,
      );
      await emulator.stop();
      const root = await mysql.createConnection(MARIADB);
      try {
        await root.query(`DROP DATABASE IF EXISTS \`${database}\``);
        await root.query('DROP USER IF EXISTS ?@?', [backendUser, '%']);
        for (const account of readerAccounts) {
          await root.query('DROP USER IF EXISTS ?@?', [account.user, account.host]);
        }
      } finally {
        await root.end();
      }
    },
  };
}

/** Says what is missing and how to get it, on stderr, and ends the script with exit code 1. */
function exitWithoutDatabase(err: unknown): never {
  const { code, message } = err as { code?: string; message?: string };
  const where = `${MARIADB.host}:${MARIADB.port}`;
  const why =
    'The examples run the local RDS IAM emulator in front of a real MariaDB (or MySQL) server and create ' +
    'a database of their own on it.';
  const lines =
    code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR'
      ? [
          `MariaDB on ${where} refused user ${MARIADB.user}: ${message}`,
          why,
          'Set MARIADB_USER and MARIADB_PASSWORD to an account that may create databases (default: root, empty password).',
        ]
      : [
          `No MariaDB (or MySQL) is answering on ${where} (${code ?? message}).`,
          why,
          'Start one that lets root in with an empty password, e.g.:',
          '  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd   (MariaDB installed)',
          '  docker run -d -p 3306:3306 -e MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 mariadb:10.11',
          'or point MARIADB_HOST, MARIADB_PORT, MARIADB_USER and MARIADB_PASSWORD at a server you have.',
        ];
  console.error(lines.join('\n'));
  process.exit(1);
}

/** Lets a pool see the server-side close before the next query borrows a connection. */
export const settle = (ms = 200) => new Promise((resolve) => setTimeout(resolve, ms));

export const MINUTES = 60_000;
