import pRetry from 'p-retry';
import { IamAuthError, IamConnectError, IamCredentialsError, IamLoginError, IamTlsError } from './errors.js';
import { isTlsHandshakeCut } from './mysql2-boundary.js';

/** How failed logins and connect errors are retried. */
export interface IamRetryOptions {
  /** Retries after the first attempt. Default 3: enough to ride out a token race or a brief restart. */
  retries?: number;
  /** Delay before the first retry, in ms. Default 100. */
  minTimeoutMs?: number;
  /** Upper bound of one delay, in ms. Default 2000. Delays double and are randomised (x1 to x2). */
  maxTimeoutMs?: number;
}

export const DEFAULT_RETRY: Required<IamRetryOptions> = { retries: 3, minTimeoutMs: 100, maxTimeoutMs: 2000 };

/**
 * Marks a login error as coming after the token was sent (the auth plugin sees this, the retry
 * policy needs it). Carried on the error itself, so it travels wherever the error goes.
 */
const TOKEN_SENT = Symbol('rds-iam-pool: the token was sent before this login failed');

export function markTokenSent(error: object): void {
  (error as { [TOKEN_SENT]?: true })[TOKEN_SENT] = true;
}

/**
 * Whether this login error came after the token was sent. An "access denied" without a token
 * means the server never asked for one: the user is not an IAM user, and retrying cannot help.
 */
export function tokenWasSent(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { [TOKEN_SENT]?: true })[TOKEN_SENT] === true
  );
}

/** How a failed connect attempt is treated. */
export type ConnectFailure =
  /** The server refused the token: drop it, sign a fresh one, try again. */
  | 'auth-rejected'
  /** Network trouble or a server restarting: try again with the same token. */
  | 'transient'
  /** Cannot succeed by retrying (TLS, configuration, permission, pool closed). */
  | 'final';

// MySQL / MariaDB server error numbers met during an IAM login.
const ER_DBACCESS_DENIED_ERROR = 1044;
const ER_ACCESS_DENIED_ERROR = 1045;
const ER_CON_COUNT_ERROR = 1040; // too many connections: clears as others disconnect
const ER_PLUGIN_IS_NOT_LOADED = 1524; // IAM auth not enabled on the instance
const ER_ACCESS_DENIED_NO_PASSWORD_ERROR = 1698;
const ER_SERVER_SHUTDOWN = 1053;
const ER_BAD_DB_ERROR = 1049; // unknown database

const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);

/** Node's codes for certificates that did not verify (chain, expiry, host name). */
function isTlsVerificationError(err: { code?: unknown; message?: unknown }): boolean {
  if (isTlsHandshakeCut(err)) return false;
  const code = typeof err.code === 'string' ? err.code : '';
  return (
    code === 'HANDSHAKE_SSL_ERROR' ||
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|DEPTH_ZERO/.test(code)
  );
}

/**
 * How errors name the endpoint: `host:port`, and the address really connected to when that differs
 * (`db.abc.us-east-1.rds.amazonaws.com:3306 via 127.0.0.1:3399`), so a misrouted tunnel shows.
 */
export function connectEndpoint(resolved: {
  host: string;
  port: number;
  connectHost: string | undefined;
  connectPort: number | undefined;
}): string {
  const endpoint = `${resolved.host}:${resolved.port}`;
  if (resolved.connectHost === undefined && resolved.connectPort === undefined) return endpoint;
  return `${endpoint} via ${resolved.connectHost ?? resolved.host}:${resolved.connectPort ?? resolved.port}`;
}

export function classifyConnectError(err: unknown): ConnectFailure {
  if (err instanceof IamCredentialsError) return 'transient';
  if (err instanceof IamAuthError) return 'final';
  const e = (err ?? {}) as { errno?: unknown; code?: unknown };
  if (e.errno === ER_ACCESS_DENIED_ERROR || e.errno === ER_ACCESS_DENIED_NO_PASSWORD_ERROR) {
    // Refused before it was asked for a token: not an IAM user, and no fresh token changes that.
    return tokenWasSent(err) ? 'auth-rejected' : 'final';
  }
  if (e.errno === ER_CON_COUNT_ERROR || e.errno === ER_SERVER_SHUTDOWN) return 'transient';
  if (isTlsHandshakeCut(e)) return 'transient';
  if (isTlsVerificationError(e)) return 'final';
  if (typeof e.code === 'string' && TRANSIENT_NETWORK_CODES.has(e.code)) return 'transient';
  return 'final';
}

/**
 * The error a caller sees once retrying is over: a typed error for every failure a connect can have,
 * with the original error as its `cause`.
 */
export function toIamError(err: unknown, endpoint: string): IamAuthError {
  if (err instanceof IamAuthError) return err;
  const e = (err ?? {}) as { errno?: number; code?: string; message?: string };
  const serverSays = typeof e.message === 'string' ? `: ${e.message}` : '';
  switch (e.errno) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
      return tokenWasSent(err)
        ? new IamLoginError(
            'RDS_IAM_ACCESS_DENIED',
            `IAM login to ${endpoint} was refused${serverSays}`,
            err,
            e.errno,
          )
        : new IamLoginError(
            'RDS_IAM_NOT_IAM_USER',
            `${endpoint} refused the user without asking for an IAM token${serverSays}`,
            err,
            e.errno,
          );
    case ER_PLUGIN_IS_NOT_LOADED:
      return new IamLoginError(
        'RDS_IAM_PLUGIN_NOT_ENABLED',
        `IAM authentication is not enabled on ${endpoint}${serverSays}`,
        err,
        e.errno,
      );
    case ER_DBACCESS_DENIED_ERROR:
      return new IamLoginError(
        'RDS_IAM_PERMISSION_DENIED',
        `Logged in to ${endpoint} but access was denied${serverSays}`,
        err,
        e.errno,
      );
    case ER_BAD_DB_ERROR:
      return new IamLoginError(
        'RDS_IAM_UNKNOWN_DATABASE',
        `Logged in to ${endpoint}, but the database does not exist${serverSays}`,
        err,
        e.errno,
      );
  }
  if (e.code === 'HANDSHAKE_NO_SSL_SUPPORT') {
    return new IamTlsError(
      'RDS_IAM_TLS_REQUIRED',
      `${endpoint} does not offer TLS; the IAM token was not sent`,
      err,
    );
  }
  if (isTlsVerificationError(e)) {
    return new IamTlsError(
      'RDS_IAM_TLS_VERIFY_FAILED',
      `TLS verification of ${endpoint} failed${serverSays}`,
      err,
    );
  }
  if (isTlsHandshakeCut(e)) {
    return new IamConnectError(`${endpoint} closed the connection during the TLS handshake`, err);
  }
  if (e.code === 'ENOTFOUND') {
    return new IamConnectError(
      `Could not resolve the address of ${endpoint} (ENOTFOUND)`,
      err,
      endpoint.includes(' via ')
        ? 'The tunnel host (`connectHost`) does not resolve from here: check its spelling and that the tunnel or ' +
            'port-forward name is known to this machine.'
        : 'The host name does not resolve from here: check its spelling (copy the endpoint from the RDS console), ' +
            'and that this machine uses a DNS resolver that knows it (a private hosted zone needs the VPC resolver).',
    );
  }
  const code = typeof e.code === 'string' ? ` (${e.code})` : '';
  if (typeof e.code === 'string' && TRANSIENT_NETWORK_CODES.has(e.code)) {
    return new IamConnectError(`Could not connect to ${endpoint}${code}`, err);
  }
  return new IamConnectError(`Connecting to ${endpoint} failed${code}${serverSays}`, err);
}

export interface ConnectRetryHooks {
  /** Called for every failed attempt that will be retried. */
  onRetry?(failure: ConnectFailure, attemptNumber: number, error: unknown): void;
}

/**
 * Runs `attempt` until it succeeds, retrying auth rejections (the refused token was already dropped
 * where the login failed, see login/auth-plugin.ts, so the next attempt signs a fresh one) and transient
 * network errors with exponential backoff and jitter, up to `retries` times.
 */
export async function connectWithRetry<T>(
  attempt: () => Promise<T>,
  policy: Required<IamRetryOptions>,
  hooks: ConnectRetryHooks,
): Promise<T> {
  return pRetry(
    async () => {
      try {
        return await attempt();
      } catch (err) {
        // p-retry wants Error instances; mysql2 always gives those, but be safe.
        throw err instanceof Error ? err : new Error(String(err));
      }
    },
    {
      retries: policy.retries,
      minTimeout: policy.minTimeoutMs,
      maxTimeout: policy.maxTimeoutMs,
      factor: 2,
      randomize: true,
      shouldRetry: ({ error, attemptNumber }) => {
        const failure = classifyConnectError(error);
        if (failure === 'final') return false;
        hooks.onRetry?.(failure, attemptNumber, error);
        return true;
      },
    },
  );
}
