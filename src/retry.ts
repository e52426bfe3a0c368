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
const TOKEN_SENT = Symbol('rds-iam-pool: the signing time of the token sent before this login failed');

/** Marks `error` as the failure of a login that sent the token signed at `signedAt`. */
export function markTokenSent(error: object, signedAt: number): void {
  (error as { [TOKEN_SENT]?: number })[TOKEN_SENT] = signedAt;
}

/**
 * Whether this login error came after the token was sent. An "access denied" without a token
 * means the server never asked for one: the user is not an IAM user, and retrying cannot help.
 */
export function tokenWasSent(error: unknown): boolean {
  return tokenSentAt(error) !== undefined;
}

/** When the token this failed login sent was signed (identifies the token), if it sent one. */
export function tokenSentAt(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const signedAt = (error as { [TOKEN_SENT]?: unknown })[TOKEN_SENT];
  return typeof signedAt === 'number' ? signedAt : undefined;
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
export function connectEndpoint(host: string, port: number, dialled: { host: string; port: number }): string {
  const endpoint = `${host}:${port}`;
  if (dialled.host === host && dialled.port === port) return endpoint;
  return `${endpoint} via ${dialled.host}:${dialled.port}`;
}

export function classifyConnectError(err: unknown): ConnectFailure {
  // A credential provider that failed (IMDS, STS, SSO hiccups), and a new connection that reached a
  // reader or did not answer (the pool's own checks), can work on the next attempt.
  if (err instanceof IamCredentialsError || err instanceof IamConnectError) return 'transient';
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

const OUTAGE_HINT =
  'The endpoint answered before and stopped: a failover, a restart or an outage in progress. The pool ' +
  "keeps trying (one attempt at a time, with backoff) until each caller's acquireTimeoutMs; nothing was " +
  'sent on a connection that was never opened, so such a request is safe to retry. If it lasts, check ' +
  "the instance's status and recent events in the RDS console.";

/**
 * The error a caller sees once retrying is over: a typed error for every failure a connect can have,
 * with the original error as its `cause`.
 */
export function toIamError(err: unknown, endpoint: string, context: { outage?: boolean } = {}): IamAuthError {
  if (err instanceof IamAuthError) return err;
  const e = (err ?? {}) as { errno?: number; code?: string; message?: string };
  const serverSays = typeof e.message === 'string' ? `: ${e.message}` : '';
  const login = loginError(err, e.errno, endpoint, serverSays);
  if (login !== undefined) return login;
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
  // The endpoint worked before: this is an outage (a failover, a restart), not a set-up problem.
  const hint = context.outage ? OUTAGE_HINT : undefined;
  if (isTlsHandshakeCut(e)) {
    return new IamConnectError(`${endpoint} closed the connection during the TLS handshake`, err, hint);
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
    return new IamConnectError(`Could not connect to ${endpoint}${code}`, err, hint);
  }
  if (e.errno === ER_SERVER_SHUTDOWN || e.errno === ER_CON_COUNT_ERROR) {
    return new IamConnectError(`${endpoint} refused the connection${code}${serverSays}`, err, hint);
  }
  return new IamConnectError(`Connecting to ${endpoint} failed${code}${serverSays}`, err);
}

/** The server's answer to a login (refused, IAM not enabled, no such database...), as a typed error. */
function loginError(
  err: unknown,
  errno: number | undefined,
  endpoint: string,
  serverSays: string,
): IamLoginError | undefined {
  const error = (code: ConstructorParameters<typeof IamLoginError>[0], message: string) =>
    new IamLoginError(code, message, err, errno);
  switch (errno) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
      return tokenWasSent(err)
        ? error('RDS_IAM_ACCESS_DENIED', `IAM login to ${endpoint} was refused${serverSays}`)
        : error(
            'RDS_IAM_NOT_IAM_USER',
            `${endpoint} refused the user without asking for an IAM token${serverSays}`,
          );
    case ER_PLUGIN_IS_NOT_LOADED:
      return error(
        'RDS_IAM_PLUGIN_NOT_ENABLED',
        `IAM authentication is not enabled on ${endpoint}${serverSays}`,
      );
    case ER_DBACCESS_DENIED_ERROR:
      return error(
        'RDS_IAM_PERMISSION_DENIED',
        `Logged in to ${endpoint} but access was denied${serverSays}`,
      );
    case ER_BAD_DB_ERROR:
      return error(
        'RDS_IAM_UNKNOWN_DATABASE',
        `Logged in to ${endpoint}, but the database does not exist${serverSays}`,
      );
    default:
      return undefined;
  }
}

export interface BackoffControl {
  /** Ends the loop (it rejects with the signal's reason). */
  signal: AbortSignal;
  /** Whether `error` (of attempt `attemptNumber`) is worth another attempt after a pause. */
  shouldRetry(error: Error, attemptNumber: number): boolean;
}

/**
 * Runs `attempt` until it succeeds, with exponential backoff and jitter between attempts (doubling
 * from `minTimeoutMs` to at most `maxTimeoutMs`, each pause randomised by x1 to x2 so that many
 * pools do not retry in step), for as long as `shouldRetry` says so or until `signal` aborts.
 */
export function retryWithBackoff<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  policy: Required<IamRetryOptions>,
  control: BackoffControl,
): Promise<T> {
  return pRetry(
    async (attemptNumber) => {
      try {
        return await attempt(attemptNumber);
      } catch (err) {
        // p-retry wants Error instances; mysql2 always gives those, but be safe.
        throw err instanceof Error ? err : new Error(String(err));
      }
    },
    {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: policy.minTimeoutMs,
      maxTimeout: policy.maxTimeoutMs,
      factor: 2,
      randomize: true,
      signal: control.signal,
      shouldRetry: ({ error, attemptNumber }) => control.shouldRetry(error, attemptNumber),
    },
  );
}
