import type { SslOptions } from 'mysql2';
import { describeValue as describe, IamOptionsError } from '../errors.js';
import { defaultRdsCa } from './ca-bundle.js';

/** TLS options a caller may set; verification itself (`rejectUnauthorized`, `verifyIdentity`) stays on. */
export type IamSslOptions = Omit<SslOptions, 'rejectUnauthorized' | 'verifyIdentity'> & {
  /** Only `true` is accepted: certificate verification cannot be turned off. */
  rejectUnauthorized?: true;
  /** Only `true` is accepted: the certificate must match `host`. */
  verifyIdentity?: true;
};

const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
const PEM_CERTIFICATE = '-----BEGIN CERTIFICATE-----';

/**
 * mysql2 `ssl` options for an IAM connection: verification always on (certificate chain and host
 * name), TLS 1.2 or newer, CA = the bundled RDS CAs and Amazon roots unless the caller supplies `ca`.
 * `overrides` were checked by `checkSslOverrides`.
 */
export function buildSslOptions(overrides: IamSslOptions): SslOptions {
  return {
    ...overrides,
    // A spread-in `minVersion: undefined` must not fall back to whatever Node was started with.
    minVersion: overrides.minVersion ?? 'TLSv1.2',
    ca: overrides.ca ?? defaultRdsCa(),
    rejectUnauthorized: true,
    // mysql2 checks the certificate against `host` only when asked to.
    verifyIdentity: true,
  };
}

/** Checks the caller's `ssl` overrides; throws IamOptionsError naming the option and the fix. */
export function checkSslOverrides(ssl: unknown, name = 'ssl'): IamSslOptions {
  if (ssl === undefined) return {};
  if (ssl === null || typeof ssl !== 'object' || Array.isArray(ssl)) {
    throw new IamOptionsError(
      name,
      `must be an object of TLS overrides, got ${describe(ssl)}`,
      'IAM tokens are only ever sent over verified TLS. Leave `ssl` out for the bundled RDS CAs, or pass ' +
        '{ ca } to trust another CA.',
    );
  }
  const s = ssl as Record<string, unknown>;
  if (s.rejectUnauthorized !== undefined && s.rejectUnauthorized !== true) {
    throw new IamOptionsError(
      `${name}.rejectUnauthorized`,
      'cannot be turned off: an IAM token is a bearer credential',
      'Remove it. If the server certificate is not from RDS, pass its CA as `ssl.ca`.',
    );
  }
  if (s.verifyIdentity !== undefined && s.verifyIdentity !== true) {
    throw new IamOptionsError(
      `${name}.verifyIdentity`,
      'cannot be turned off: the certificate must match `host`',
      'Remove it. To connect through a tunnel or an IP, keep `host` as the endpoint name and set `connectHost`.',
    );
  }
  if (s.ca !== undefined) checkCa(s.ca, `${name}.ca`);
  for (const field of ['minVersion', 'maxVersion'] as const) {
    const value = s[field];
    if (value !== undefined && !(TLS_VERSIONS as readonly unknown[]).includes(value)) {
      throw new IamOptionsError(
        `${name}.${field}`,
        `${describe(value)} is below TLS 1.2 or not a TLS version`,
        'Use "TLSv1.2" or "TLSv1.3", or leave it out.',
      );
    }
  }
  if (s.minVersion === 'TLSv1.3' && s.maxVersion === 'TLSv1.2') {
    throw new IamOptionsError(
      `${name}.maxVersion`,
      'is below ssl.minVersion',
      'Leave maxVersion out, or make it at least minVersion.',
    );
  }
  if (s.secureProtocol !== undefined) {
    throw new IamOptionsError(
      `${name}.secureProtocol`,
      'can pin an old TLS version (e.g. TLSv1_method), which minVersion would not catch',
      'Remove it; use ssl.minVersion / ssl.maxVersion ("TLSv1.2" or "TLSv1.3").',
    );
  }
  if (s.ciphers !== undefined) checkCiphers(s.ciphers, `${name}.ciphers`);
  if (s.checkServerIdentity !== undefined) {
    throw new IamOptionsError(
      `${name}.checkServerIdentity`,
      'could weaken the host name check that keeps the token away from another server',
      'Remove it. To connect through a tunnel or an IP, keep `host` as the endpoint name and set `connectHost`.',
    );
  }
  return ssl as IamSslOptions;
}

/**
 * Checks the `ssl` options mysql2 will really use (after every merge): the same rules, and a CA and
 * a minimum version must be there. Throws IamOptionsError.
 */
export function checkSslOptions(ssl: unknown, name = 'ssl'): void {
  if (ssl === null || typeof ssl !== 'object' || Array.isArray(ssl)) {
    throw new IamOptionsError(
      name,
      `is ${describe(ssl)} in the options mysql2 would use: the IAM token would not be protected by verified TLS`,
      'Leave `ssl` to rds-iam-pool (pass `ssl: { ca }` in the IAM options to trust another CA); do not ' +
        'replace it in a library option, a spread or a `uri`.',
    );
  }
  const s = checkSslOverrides(ssl, name) as Record<string, unknown>;
  if (s.rejectUnauthorized !== true || s.verifyIdentity !== true) {
    throw new IamOptionsError(
      name,
      'does not verify the certificate and the host name in the options mysql2 would use',
      'Leave `ssl` to rds-iam-pool; do not replace it in a library option, a spread or a `uri`.',
    );
  }
  checkCa(s.ca, `${name}.ca`);
  if (s.minVersion === undefined) {
    throw new IamOptionsError(
      `${name}.minVersion`,
      'is not set in the options mysql2 would use, so an older TLS version could be negotiated',
      'Leave `ssl` to rds-iam-pool, or set ssl.minVersion to "TLSv1.2" or "TLSv1.3".',
    );
  }
}

/**
 * Cipher-string terms that would let TLS run without encryption (NULL ciphers: the token readable on
 * the wire in a session that still verifies), without authentication (anonymous ciphers), or with
 * export-grade or broken ciphers, or that lower OpenSSL's security level to allow them. A term that
 * removes them (`!aNULL`, `-eNULL`) is fine.
 */
const WEAKENING_CIPHER_TERM =
  /NULL|anon|^A(?:E)?CDH|^ADH|EXP|COMPLEMENTOF|@SECLEVEL=0|^RC4|^DES\b|^IDEA|^SEED/i;

/** A cipher string may narrow the choice, never allow ciphers that give the token away. */
function checkCiphers(ciphers: unknown, name: string): void {
  if (typeof ciphers !== 'string' || ciphers.trim() === '') {
    throw new IamOptionsError(
      name,
      `must be an OpenSSL cipher string, got ${describe(ciphers)}`,
      "Leave it out for Node's defaults.",
    );
  }
  const allowing = ciphers
    .split(/[:, ]+/)
    .filter((term) => term !== '' && !term.startsWith('!') && !term.startsWith('-'))
    .filter((term) => WEAKENING_CIPHER_TERM.test(term));
  if (allowing.length > 0) {
    throw new IamOptionsError(
      name,
      `allows ciphers without encryption or authentication, or broken ones (${allowing.join(', ')}): ` +
        'an IAM token is a bearer credential',
      "Leave `ssl.ciphers` out (Node's defaults are strong), or list only AEAD ciphers such as " +
        '"TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256".',
    );
  }
}

/** A CA must be a PEM certificate (string or Buffer) or a non-empty array of them. */
function checkCa(ca: unknown, name: string): void {
  const entries = Array.isArray(ca) ? ca : [ca];
  const valid =
    entries.length > 0 &&
    entries.every(
      (entry) =>
        (typeof entry === 'string' || Buffer.isBuffer(entry)) && entry.toString().includes(PEM_CERTIFICATE),
    );
  if (!valid) {
    throw new IamOptionsError(
      name,
      `must be a PEM certificate (string or Buffer) or a non-empty array of them, got ${describe(ca)}: ` +
        "an empty or missing CA would make Node trust its public root store instead of the server's CA",
      'Pass the CA bundle file contents (e.g. readFileSync("global-bundle.pem")), or leave `ssl.ca` out ' +
        'for the bundled RDS CAs. If it comes from an environment variable, check that it is set.',
    );
  }
}
