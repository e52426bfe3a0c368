/**
 * `npm run example:lambda`: runs handler.ts the way Lambda does, on this machine. Starts the local
 * RDS IAM emulator in front of MariaDB on 127.0.0.1:3306, points the handler at it through
 * environment variables, invokes it, then "freezes" the process while the emulator drops every
 * connection, and invokes it again. No AWS account, nothing leaves the machine.
 */
import { startEmulator } from '../../src/emulator/index.js';
import { EXAMPLE_KEY, MARIADB } from '../shared/local-rds.js';
import { freezeProcess } from './freeze.js';

const emulator = await startEmulator({ backend: MARIADB, users: { app_iam: {} }, keys: [EXAMPLE_KEY] });
Object.assign(process.env, {
  DB_HOST: emulator.host,
  DB_PORT: String(emulator.endpointPort),
  DB_USER: 'app_iam',
  DB_CONNECT_HOST: '127.0.0.1',
  DB_CONNECT_PORT: String(emulator.port),
  DB_CA_PEM: emulator.ca,
  // What Lambda puts in the environment for the execution role; here, the emulator's test key.
  AWS_ACCESS_KEY_ID: EXAMPLE_KEY.accessKeyId,
  AWS_SECRET_ACCESS_KEY: EXAMPLE_KEY.secretAccessKey,
});
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_PROFILE;

// Cold start: the module-scope pool is created on import.
const { handler, pool } = await import('./handler.js');

try {
  for (let i = 1; i <= 3; i++) console.log(`warm invocation ${i}:`, (await handler({ orderId: i })).body);
  for (let round = 1; round <= 2; round++) {
    emulator.faults.dropAllConnections();
    freezeProcess(1000);
    console.log(
      `after a 1 s freeze that lost the connection:`,
      (await handler({ orderId: 100 + round })).body,
    );
  }
  const s = pool.iam.stats();
  console.log(
    `tokens signed: ${s.tokensSigned}, logins: ${s.connectionsOpened}, dead connections replaced on borrow: ${s.deadOnBorrow}`,
  );
} finally {
  await pool.end();
  await emulator.stop();
}
