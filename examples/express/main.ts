/**
 * `npm run example:express`: an Express service on an IAM pool, against the local RDS IAM
 * emulator. It starts the service, calls it a few times (write, read, /health, /health 16 minutes
 * later), prints what it got and shuts down. `KEEP_RUNNING=1` keeps it serving until Ctrl-C.
 */
import type { AddressInfo } from 'node:net';
import { createIamPool } from '../../src/index.js';
import { MINUTES, settle, startLocalRds } from '../shared/local-rds.js';
import { createApp, type Health } from './app.js';

const rds = await startLocalRds('express');
// On RDS: createIamPool({ host: '<endpoint>', user: 'app_iam', database: 'app', connectionLimit: 10 })
const pool = createIamPool({ ...rds.iamOptions, connectionLimit: 3 });
await pool.query('CREATE TABLE notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(100) NOT NULL)');

const server = createApp(pool).listen(Number(process.env.PORT ?? 0), '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function shutdown() {
  await new Promise((resolve) => server.close(resolve));
  await pool.end();
  await rds.stop();
}

if (process.env.KEEP_RUNNING === '1') {
  console.log(`serving on ${base} (GET /health, GET /notes, POST /notes {"body":"..."}); Ctrl-C stops`);
  process.once('SIGINT', () => void shutdown());
} else {
  try {
    const created = await fetch(`${base}/notes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ body: 'hello' }),
    });
    console.log(`POST /notes -> ${created.status} ${JSON.stringify(await created.json())}`);
    const notes = await fetch(`${base}/notes`);
    console.log(`GET /notes -> ${notes.status} ${JSON.stringify(await notes.json())}`);

    const health = (await (await fetch(`${base}/health`)).json()) as Health;
    const { tokensSigned, connectionsOpened } = health.pool;
    console.log(
      `GET /health -> ${health.status}, tokens signed: ${tokensSigned}, connections opened: ${connectionsOpened}, ` +
        `token signed at ${health.token.signedAt}`,
    );

    rds.advanceClock(16 * MINUTES); // the token has expired
    rds.emulator.faults.dropAllConnections(); // the next request needs a new login
    await settle();
    const later = (await (await fetch(`${base}/health`)).json()) as Health;
    console.log(
      `16 minutes later: GET /health -> ${later.status}, tokens signed: ${later.pool.tokensSigned}, ` +
        `token expires at ${later.token.expiresAt}`,
    );
  } finally {
    await shutdown();
  }
}
