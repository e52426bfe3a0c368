/**
 * `npm run demo`: the whole IAM login path on this machine, no AWS account needed.
 * Starts the local RDS IAM emulator in front of MariaDB on 127.0.0.1:3306, then runs a small app
 * through createIamPool and prints what happens: token signed, cached, reused, refreshed.
 */
import type { RowDataPacket } from 'mysql2';
import { startEmulator } from '../src/emulator/index.js';
import { createIamPool } from '../src/index.js';

const MARIADB = {
  host: process.env.MARIADB_HOST ?? '127.0.0.1',
  port: Number(process.env.MARIADB_PORT ?? 3306),
  user: process.env.MARIADB_USER ?? 'root',
  password: process.env.MARIADB_PASSWORD ?? '',
};
// Test credentials the emulator trusts. They are not AWS keys and sign nothing outside this demo.
const DEMO_KEY = {
  accessKeyId: 'AKIADEMOEMULATOR0001',
  secretAccessKey: 'demo-secret-for-the-local-emulator',
};

/** Lets the pool see the server-side close before the next query borrows a connection. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 200));
const step = (text: string) => console.log(`\n== ${text}`);
const note = (text: string) => console.log(`   ${text}`);

const emulator = await startEmulator({
  backend: MARIADB,
  users: { app_iam: {} },
  keys: [DEMO_KEY],
});
step(
  `emulator: ${emulator.host}:${emulator.endpointPort} (region ${emulator.region}) on 127.0.0.1:${emulator.port}`,
);

let clockOffsetMs = 0; // lets the demo move time past the 15-minute token lifetime without waiting
const pool = createIamPool({
  host: emulator.host,
  user: 'app_iam',
  database: 'test',
  connectionLimit: 5,
  connectHost: '127.0.0.1',
  connectPort: emulator.port,
  ssl: { ca: emulator.ca },
  credentials: async () => DEMO_KEY,
  clock: () => Date.now() + clockOffsetMs,
});
pool.iam.on('tokenSigned', (info) =>
  note(
    `token signed for ${info.username}@${info.hostname}:${info.port}, valid until ${info.expiresAt.toISOString()}`,
  ),
);
pool.iam.on('retry', (r) => note(`login retry #${r.attempt} (${r.reason})`));

try {
  step('20 concurrent queries over a 5-connection pool');
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      pool.query<Array<RowDataPacket & { n: number; who: string }>>('SELECT ? AS n, CURRENT_USER() AS who', [
        i,
      ]),
    ),
  );
  note(`${results.length} queries answered; the server saw user ${results[0]?.[0][0]?.who}`);
  const s1 = pool.iam.stats();
  note(
    `connections opened: ${s1.connectionsOpened}, tokens signed: ${s1.tokensSigned}, reused from cache: ${s1.cacheHits}`,
  );

  step('16 minutes later (clock moved on both sides): the first token has expired');
  clockOffsetMs += 16 * 60_000;
  emulator.faults.shiftClock(16 * 60_000);
  emulator.faults.dropAllConnections(); // force new logins
  await settle();
  const [rows] = await pool.query<Array<RowDataPacket & { ok: number }>>('SELECT 1 AS ok');
  note(`query after the drop: ok=${rows[0]?.ok}`);
  const s2 = pool.iam.stats();
  note(
    `connections opened: ${s2.connectionsOpened}, tokens signed: ${s2.tokensSigned} (one refresh, not one per connection)`,
  );

  step('the server refuses the next 2 logins: the pool re-signs and retries');
  emulator.faults.rejectNextLogins(2);
  emulator.faults.dropAllConnections();
  await settle();
  await pool.query('SELECT 1');
  note(`auth retries: ${pool.iam.stats().authRetries}`);

  const e = emulator.stats();
  step('emulator stats');
  note(
    `logins accepted ${e.loginsAccepted}, rejected ${JSON.stringify(e.loginsRejected)}, distinct tokens ${e.distinctTokens}`,
  );
} finally {
  await pool.end();
  await emulator.stop();
}
