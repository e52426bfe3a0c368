import { Signer } from '@aws-sdk/rds-signer';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import mysql, { type Pool } from 'mysql2/promise';
import { emulatorSocket } from '../children/config.js';
import { IAM_USER } from './env.js';
import { countingCredentials, type VariantOptions, verifiedTls } from './pools.js';

/**
 * Hand-wired signing per connection: raw mysql2 whose cleartext auth plugin asks
 * `@aws-sdk/rds-signer` for a new token at every login, the usual fix for `password: token` expiring.
 */
export function signPerConnectionPool(
  o: VariantOptions,
  credentials: AwsCredentialIdentityProvider = countingCredentials(),
  signings = { count: 0 },
): Pool {
  const signer = new Signer({
    hostname: o.emulator.host,
    port: o.emulator.endpointPort,
    username: IAM_USER,
    region: o.emulator.region,
    credentials,
  });
  return mysql.createPool({
    host: o.emulator.host,
    port: o.emulator.endpointPort,
    user: IAM_USER,
    database: o.database,
    connectionLimit: o.connectionLimit,
    ssl: verifiedTls(o.emulator),
    stream: () => emulatorSocket(o.emulator.port, o.emulator.listenHost),
    authPlugins: {
      mysql_clear_password: () => async () => {
        signings.count++;
        return Buffer.from(`${await signer.getAuthToken()}\0`);
      },
    },
  });
}
