import type { AwsCredentialIdentityProvider } from '@smithy/types';
import mysql, { type Pool } from 'mysql2/promise';
import type { IamPool, IamPoolOptions } from '../../src/index.js';
// Signing is not part of the public API; the benchmark signs with the library's own code.
import { signAuthToken } from '../../src/token/sign.js';
import { emulatorSocket } from '../children/config.js';
import type { BackendLogin } from './database.js';
import type { EmulatorAddress } from './emulator-process.js';
import { BENCH_KEY, IAM_USER, MARIADB } from './env.js';

/** The package's public entry, as built (`createIamPool` from the private tsup build). */
export type PackageEntry = typeof import('../../src/index.js');

/** A credential provider that counts its calls, answering with the benchmark key. */
export function countingCredentials(): AwsCredentialIdentityProvider & { calls: number } {
  const provider = Object.assign(
    async () => {
      provider.calls++;
      return { ...BENCH_KEY };
    },
    { calls: 0 },
  );
  return provider;
}

/** What both sides of every comparison share: pool size, database, TLS verified against the emulator CA. */
export interface VariantOptions {
  emulator: EmulatorAddress;
  database: string;
  connectionLimit: number;
}

export function verifiedTls(emulator: EmulatorAddress) {
  return { ca: emulator.ca, rejectUnauthorized: true, verifyIdentity: true, minVersion: 'TLSv1.2' } as const;
}

/** Sections that open connections as fast as they can switch the login cap (default 20/s) off. */
export const NO_LOGIN_CAP = { maxLoginsPerSecond: 0 } as const;

/**
 * rds-iam-pool: `createIamPool` with a cached token, pointed at the emulator like a tunnel; every
 * other setting at its default unless `settings` says otherwise.
 */
export function oursPool(
  entry: PackageEntry,
  o: VariantOptions,
  credentials: AwsCredentialIdentityProvider = countingCredentials(),
  settings: Partial<IamPoolOptions> = {},
): IamPool {
  return entry.createIamPool({
    host: o.emulator.host,
    port: o.emulator.endpointPort,
    user: IAM_USER,
    database: o.database,
    connectionLimit: o.connectionLimit,
    connectHost: o.emulator.listenHost,
    connectPort: o.emulator.port,
    ssl: { ca: o.emulator.ca },
    credentials,
    ...settings,
  });
}

/**
 * The static-password baseline: raw mysql2 with one pre-signed token as its fixed password
 * (`password` + `enableCleartextPlugin`, exactly what hand-wiring `password: token` does), over the
 * same TLS settings and the same emulator path. The emulator accepts the token for 15 minutes,
 * longer than any section runs.
 */
export function staticTokenPool(o: VariantOptions, token: string): Pool {
  return mysql.createPool({
    host: o.emulator.host,
    port: o.emulator.endpointPort,
    user: IAM_USER,
    database: o.database,
    connectionLimit: o.connectionLimit,
    password: token,
    enableCleartextPlugin: true,
    ssl: verifiedTls(o.emulator),
    stream: () => emulatorSocket(o.emulator.port, o.emulator.listenHost),
  });
}

/**
 * Reference only, not a baseline: mysql2 straight to MariaDB with the backend user's password, no
 * TLS and no emulator relay. Shows what the local test path itself costs.
 */
export function directMariaDbPool(backend: BackendLogin, connectionLimit: number): Pool {
  return mysql.createPool({
    host: MARIADB.host,
    port: MARIADB.port,
    user: backend.user,
    password: backend.password,
    database: backend.database,
    connectionLimit,
  });
}

/** One token for the static baseline, signed with the same key the emulator trusts. */
export function presignStaticToken(emulator: EmulatorAddress): Promise<string> {
  return signAuthToken({
    hostname: emulator.host,
    port: emulator.endpointPort,
    username: IAM_USER,
    region: emulator.region,
    credentials: BENCH_KEY,
  });
}
