import type { SslOptions } from 'mysql2';
import type { IamSslOptions } from '../options.js';
import { defaultRdsCa } from './ca-bundle.js';

/**
 * mysql2 `ssl` options for an IAM pool: verification always on (certificate chain and host name),
 * TLS 1.2 or newer, CA = the bundled RDS CAs and Amazon roots unless the caller supplies `ca`.
 */
export function buildSslOptions(overrides: IamSslOptions): SslOptions {
  return {
    minVersion: 'TLSv1.2',
    ...overrides,
    ca: overrides.ca ?? defaultRdsCa(),
    rejectUnauthorized: true,
    // mysql2 checks the certificate against `host` only when asked to.
    verifyIdentity: true,
  };
}
