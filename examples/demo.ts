/**
 * `npm run demo`: the whole IAM login path on this machine, no AWS account needed.
 * Starts the local RDS IAM emulator in front of MariaDB on 127.0.0.1:3306, then runs a small app
 * through createIamPool and prints what happens: token signed, cached, reused, refreshed.
 */
import type { RowDataPacket } from 'mysql2';
import { createIamPool } from '../src/index.js';
import { MINUTES, settle, startLocalRds } from './shared/local-rds.js';

const step = (text: string) => console.log(`\n== ${text}`);
const note = (text: string) => console.log(`   ${text}`);

const rds = await startLocalRds('demo');
const { emulator } = rds;
step(
  `emulator: ${emulator.host}:${emulator.endpointPort} (region ${emulator.region}) on 127.0.0.1:${emulator.port}`,
);
note('it checks IAM logins the way RDS does, then relays each session to the local MariaDB');

const pool = createIamPool({ ...rds.iamOptions, connectionLimit: 5 });
pool.iam.on('tokenSigned', (info) =>
  note(
    `token signed for ${info.username}@${info.hostname}:${info.port}, valid until ${info.expiresAt.toISOString()}`,
  ),
);
pool.iam.on('retry', (r) => note(`login retry #${r.attempt} (${r.reason})`));

/**
 * 20 queries at once, each holding its connection a moment: more than the pool's 5 connections, so
 * every connection is used (quick ones would be served by the first connections, and fewer log in).
 */
const twentyQueries = () =>
  Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      pool.query<Array<RowDataPacket & { n: number; who: string }>>(
        'SELECT ? AS n, CURRENT_USER() AS who, SLEEP(0.1)',
        [i],
      ),
    ),
  );

try {
  step('20 concurrent queries over a 5-connection pool');
  const results = await twentyQueries();
  note(`${results.length} queries answered, logged in as IAM user ${pool.iam.user}`);
  note(
    `(MariaDB's CURRENT_USER() is ${results[0]?.[0][0]?.who}: the emulator logs in to MariaDB with its own ` +
      `account; on RDS it would be ${pool.iam.user}@%)`,
  );
  const s1 = pool.iam.stats();
  note(
    `connections opened: ${s1.connectionsOpened}, tokens signed: ${s1.tokensSigned}, reused from cache: ${s1.cacheHits}`,
  );

  step('16 minutes later (clock moved on both sides): the first token has expired');
  rds.advanceClock(16 * MINUTES);
  await pool.query('SELECT 1');
  const sLater = pool.iam.stats();
  note(
    `a query on an open connection still works (connections opened: ${sLater.connectionsOpened}, tokens ` +
      `signed: ${sLater.tokensSigned}): a token is checked only when a connection logs in`,
  );

  step(
    'a fault injected on purpose: the emulator drops all 5 connections (as a failover or a restart would)',
  );
  emulator.faults.dropAllConnections(); // not the expiry: the next queries need new logins
  await settle();
  note('20 more queries need 5 new logins, and the expired token cannot log them in');
  await twentyQueries();
  const s2 = pool.iam.stats();
  note(
    `${s2.connectionsOpened - s1.connectionsOpened} new logins, ${s2.tokensSigned - s1.tokensSigned} new token ` +
      '(one refresh for all of them, not one per connection)',
  );
  note(`connections opened: ${s2.connectionsOpened}, tokens signed: ${s2.tokensSigned}`);

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
  await rds.stop();
}
