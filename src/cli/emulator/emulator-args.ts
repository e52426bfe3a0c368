import { randomBytes } from 'node:crypto';
import type { IamUserMapping, TrustedKey } from '../../emulator/index.js';
import { validateUserName } from '../shared/db-user.js';
import { UsageError } from '../shared/failures.js';

export interface BackendLogin {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** `mysql://user:password@host:port` (or `mariadb://`); user defaults to root, port to 3306. */
export function parseBackendUrl(text: string): BackendLogin {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--backend "${text}" is not a URL`, 'For example mysql://root@127.0.0.1:3306.');
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
    throw new UsageError(`--backend must be a mysql:// or mariadb:// URL, got ${url.protocol}//`);
  }
  if (url.hostname === '')
    throw new UsageError('--backend has no host', 'For example mysql://root@127.0.0.1:3306.');
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? 3306 : Number(url.port),
    user: url.username === '' ? 'root' : decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}

/**
 * `iam_user[:backend_user[:backend_password]]`: the IAM user name clients log in as, and the backend
 * login its session runs as (default: the --backend URL's login). The password may contain colons.
 */
export function parseUserSpec(spec: string): [string, IamUserMapping] {
  const [iamUser = '', backendUser, ...passwordParts] = spec.split(':');
  validateUserName(iamUser, 80);
  if (backendUser === undefined || backendUser === '') return [iamUser, {}];
  return [
    iamUser,
    passwordParts.length === 0 ? { backendUser } : { backendUser, backendPassword: passwordParts.join(':') },
  ];
}

/**
 * `iam_user:reader_user[:reader_password]`: the read-only backend account the IAM user's sessions on
 * a reader log in as (cluster mode). The password may contain colons.
 */
export function parseReaderUserSpec(
  spec: string,
): [
  string,
  Required<Pick<IamUserMapping, 'readerBackendUser'>> & Pick<IamUserMapping, 'readerBackendPassword'>,
] {
  const [iamUser = '', readerUser, ...passwordParts] = spec.split(':');
  validateUserName(iamUser, 80);
  if (readerUser === undefined || readerUser === '') {
    throw new UsageError(
      `--reader-user "${spec}" names no reader account`,
      'For example --reader-user app_iam:app_ro:ro-password.',
    );
  }
  return [
    iamUser,
    passwordParts.length === 0
      ? { readerBackendUser: readerUser }
      : { readerBackendUser: readerUser, readerBackendPassword: passwordParts.join(':') },
  ];
}

/**
 * Test credentials the emulator trusts: the ones given, or a fresh pair that is visibly fake
 * (AWS secret keys are 40 base64 characters; these say "emulator").
 */
export function testKey(
  accessKeyId: string | undefined,
  secretAccessKey: string | undefined,
  sessionToken: string | undefined,
): TrustedKey & { generated: boolean } {
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new UsageError('--access-key-id and --secret-access-key go together');
  }
  if (accessKeyId !== undefined && secretAccessKey !== undefined) {
    return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}), generated: false };
  }
  if (sessionToken !== undefined)
    throw new UsageError('--session-token needs --access-key-id and --secret-access-key');
  return {
    accessKeyId: `AKIAEMULATOR${randomBytes(4).toString('hex').toUpperCase()}`,
    secretAccessKey: `emulator-secret-${randomBytes(16).toString('hex')}`,
    generated: true,
  };
}
