/**
 * Memory: RSS and heap of a process holding one pool with 64 open connections, after a full GC,
 * and the same figures just before the pool was created (modules already loaded).
 * Run with --expose-gc. argv[2]: ours | static.
 */
import { pathToFileURL } from 'node:url';
import type { Pool } from 'mysql2/promise';
import type { PackageEntry } from '../lib/pools.js';
import { type ChildConfig, handWiredConnection, readChildConfig, report } from './config.js';

const CONNECTIONS = 64;

interface CountedPool {
  pool: Pool;
  /** Connections that logged in so far. */
  opened(): number;
}

/** Loads the variant's modules and returns a function that creates its pool. */
async function loadVariant(variant: string | undefined, config: ChildConfig): Promise<() => CountedPool> {
  const { emulator } = config;
  if (variant === 'ours') {
    const { createIamPool } = (await import(pathToFileURL(config.packageEntry).href)) as PackageEntry;
    return () => {
      const pool = createIamPool({
        host: emulator.host,
        port: emulator.endpointPort,
        user: config.iamUser,
        database: config.database,
        connectionLimit: CONNECTIONS,
        connectHost: emulator.listenHost,
        connectPort: emulator.port,
        ssl: { ca: emulator.ca },
        // Memory does not depend on login pacing; without the cap, 64 logins take ms, not 3 s.
        maxLoginsPerSecond: 0,
        credentials: async () => ({
          accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '',
          secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '',
          sessionToken: process.env.AWS_SESSION_TOKEN ?? '',
        }),
      });
      return { pool, opened: () => pool.iam.stats().connectionsOpened };
    };
  }
  if (variant === 'static') {
    const { default: mysql } = await import('mysql2/promise');
    return () => {
      let count = 0;
      const pool = mysql.createPool({
        ...handWiredConnection(config),
        connectionLimit: CONNECTIONS,
        password: config.staticToken,
        enableCleartextPlugin: true,
      });
      pool.pool.on('connection', () => count++);
      return { pool, opened: () => count };
    };
  }
  throw new Error(`unknown variant ${variant}`);
}

function usage() {
  if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
  globalThis.gc();
  globalThis.gc();
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external };
}

const createPool = await loadVariant(process.argv[2], readChildConfig());
const before = usage();
const { pool, opened } = createPool();
const connections = await Promise.all(Array.from({ length: CONNECTIONS }, () => pool.getConnection()));
await Promise.all(connections.map((c) => c.query('SELECT 1 AS one')));
for (const c of connections) c.release();
if (opened() !== CONNECTIONS) throw new Error(`expected ${CONNECTIONS} logins, saw ${opened()}`);
report({ before, after: usage() });
await pool.end();
process.exit(0);
