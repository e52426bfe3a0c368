/**
 * Cold start, part 2: from the first line of a fresh process to the first query's answer, with
 * credentials from the environment as Lambda provides them (each variant's default provider chain).
 * argv[2]: ours | hand-wired | wrapper | mysql2-static.
 */
import { pathToFileURL } from 'node:url';
import type { PackageEntry } from '../lib/pools.js';
import { handWiredConnection, readChildConfig, report } from './config.js';

const variant = process.argv[2];
const config = readChildConfig();
const { emulator } = config;

const start = performance.now();
const since = () => performance.now() - start;
let importMs = 0;
let firstQueryMs = 0;

switch (variant) {
  case 'ours': {
    const { createIamPool } = (await import(pathToFileURL(config.packageEntry).href)) as PackageEntry;
    importMs = since();
    const pool = createIamPool({
      host: emulator.host,
      port: emulator.endpointPort,
      user: config.iamUser,
      database: config.database,
      connectHost: emulator.listenHost,
      connectPort: emulator.port,
      ssl: { ca: emulator.ca },
    });
    await pool.query('SELECT 1 AS one');
    firstQueryMs = since();
    await pool.end();
    break;
  }
  case 'hand-wired': {
    const [{ default: mysql }, { Signer }] = await Promise.all([
      import('mysql2/promise'),
      import('@aws-sdk/rds-signer'),
    ]);
    importMs = since();
    const signer = new Signer({
      hostname: emulator.host,
      port: emulator.endpointPort,
      username: config.iamUser,
      region: emulator.region,
    });
    const pool = mysql.createPool({
      ...handWiredConnection(config),
      password: await signer.getAuthToken(),
      enableCleartextPlugin: true,
    });
    await pool.query('SELECT 1 AS one');
    firstQueryMs = since();
    await pool.end();
    break;
  }
  case 'wrapper': {
    const { AwsMySQLClient } = await import('aws-advanced-nodejs-wrapper/mysql');
    importMs = since();
    const client = new AwsMySQLClient({
      ...handWiredConnection(config),
      plugins: 'iam',
      // mysql2 refuses the cleartext password request unless asked; the IAM plugin sets `password`.
      enableCleartextPlugin: true,
    });
    await client.connect();
    await client.query({ sql: 'SELECT 1 AS one' });
    firstQueryMs = since();
    await client.end();
    break;
  }
  case 'mysql2-static': {
    const { default: mysql } = await import('mysql2/promise');
    importMs = since();
    const pool = mysql.createPool({
      ...handWiredConnection(config),
      password: config.staticToken,
      enableCleartextPlugin: true,
    });
    await pool.query('SELECT 1 AS one');
    firstQueryMs = since();
    await pool.end();
    break;
  }
  default:
    throw new Error(`unknown variant ${variant}`);
}
report({ importMs, firstQueryMs });
process.exit(0);
