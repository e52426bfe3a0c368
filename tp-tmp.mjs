import { readFileSync } from 'node:fs';
import net from 'node:net';
import mysql from 'mysql2/promise';

const { createIamPool } = await import('./dist/index.js');
const host = 'mydb.abc123.us-east-1.rds.amazonaws.com';
const ca = readFileSync('/tmp/rds-iam-pool-emulator-o676BB/ca.pem', 'utf8');
const which = process.argv[2];
let pool;
if (which === 'ours')
  pool = createIamPool({
    host,
    user: 'app_iam',
    connectHost: '127.0.0.1',
    connectPort: 36369,
    ssl: { ca },
    connectionLimit: 16,
    maxLoginsPerSecond: 0,
  });
else {
  const { TokenCache } = await import('./dist/index.js');
  const token = await new TokenCache().getToken({
    hostname: host,
    port: 3306,
    username: 'app_iam',
    region: 'us-east-1',
    credentials: async () => ({
      accessKeyId: process.env.AWS_ACCESS_KEY_ID,
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
    }),
  });
  pool = mysql.createPool({
    host,
    user: 'app_iam',
    password: token,
    enableCleartextPlugin: true,
    stream: () => net.connect(36369, '127.0.0.1'),
    ssl: { ca, verifyIdentity: true },
    connectionLimit: 16,
  });
}
await Promise.all(Array.from({ length: 64 }, () => pool.query('SELECT 1')));
const run = async (n) => {
  let left = n;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (left-- > 0) await pool.query('SELECT 1');
    }),
  );
};
await run(3000);
const c0 = process.cpuUsage();
const t0 = performance.now();
await run(20000);
const c = process.cpuUsage(c0);
const t = performance.now() - t0;
console.log(
  which,
  'cpu/query us',
  ((c.user + c.system) / 20000).toFixed(1),
  'q/s',
  ((20000 / t) * 1000).toFixed(0),
);
await pool.end();
