/**
 * Typed errors for every step of the IAM login flow. Each carries a stable `code`, the `step`
 * that failed, a `hint` from the RDS IAM auth checklist, and the original `cause`.
 * No token, secret key or session token is ever put into one: messages are built from
 * non-secret facts, and `redactSecrets` scrubs anything token-shaped that a cause might carry.
 */

/** The step of the IAM auth flow that failed. */
export type IamAuthStep =
  | 'options'
  | 'credentials'
  | 'signing'
  | 'connect'
  | 'tls'
  | 'login'
  | 'permission'
  /** Borrowing a connection from the pool (waiting, validating, pool closed). */
  | 'acquire'
  /** The installed mysql2 lacks something this library relies on. */
  | 'driver'
  /** Committing a transaction (withTransaction). */
  | 'transaction';

export type IamErrorCode =
  | 'RDS_IAM_INVALID_OPTION'
  | 'RDS_IAM_CREDENTIALS_UNAVAILABLE'
  | 'RDS_IAM_SIGNING_FAILED'
  | 'RDS_IAM_CONNECT_FAILED'
  | 'RDS_IAM_TLS_REQUIRED'
  | 'RDS_IAM_TLS_VERIFY_FAILED'
  | 'RDS_IAM_UNSUPPORTED_AUTH_PLUGIN'
  | 'RDS_IAM_ACCESS_DENIED'
  | 'RDS_IAM_NOT_IAM_USER'
  | 'RDS_IAM_PLUGIN_NOT_ENABLED'
  | 'RDS_IAM_PERMISSION_DENIED'
  | 'RDS_IAM_UNKNOWN_DATABASE'
  | 'RDS_IAM_ACQUIRE_TIMEOUT'
  | 'RDS_IAM_POOL_CLOSED'
  | 'RDS_IAM_POOL_EXHAUSTED'
  | 'RDS_IAM_DRIVER_INCOMPATIBLE'
  | 'RDS_IAM_TRANSACTION_OUTCOME_UNKNOWN';

export interface IamErrorDetails {
  hint: string;
  cause?: unknown;
  /** MySQL error number from the server, when there was one (1045, 1044, 1524...). */
  errno?: number;
}

/** Base class: `err instanceof IamAuthError` catches every error this library raises. */
export class IamAuthError extends Error {
  readonly #code: IamErrorCode;
  readonly step: IamAuthStep;
  readonly hint: string;
  readonly errno?: number;

  constructor(code: IamErrorCode, step: IamAuthStep, message: string, details: IamErrorDetails) {
    super(redactSecrets(message), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.#code = code;
    this.step = step;
    this.hint = redactSecrets(details.hint);
    if (details.errno !== undefined) this.errno = details.errno;
  }

  /**
   * Stable machine-readable code. mysql2 assigns `code = 'AUTH_SWITCH_PLUGIN_ERROR'` to any error
   * an auth plugin throws; the setter ignores that so the code stays ours.
   */
  get code(): IamErrorCode {
    return this.#code;
  }
  set code(_ignored: string) {}

  /** Whether mysql2 treats the connection as unusable (it sets this on plugin errors). */
  fatal = true;

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, step: this.step, message: this.message, hint: this.hint };
  }
}

/** Bad or contradictory options, thrown by `createIamPool()` before anything connects. */
export class IamOptionsError extends IamAuthError {
  /** The option, as a path from where the caller gave it (`ssl.ca`, `dialectOptions.debug`). */
  readonly option: string;
  /** What is wrong with it (the message without the option's name). */
  readonly reason: string;
  constructor(option: string, reason: string, hint: string) {
    super('RDS_IAM_INVALID_OPTION', 'options', `Invalid option \`${option}\`: ${reason}`, { hint });
    this.option = option;
    this.reason = reason;
  }

  /** The same error for an option that reached us inside `parent` (an adapter's own option). */
  under(parent: string): IamOptionsError {
    return new IamOptionsError(`${parent}.${this.option}`, this.reason, this.hint);
  }
}

/** The credential provider failed or returned unusable credentials. */
export class IamCredentialsError extends IamAuthError {
  constructor(message: string, cause?: unknown) {
    super('RDS_IAM_CREDENTIALS_UNAVAILABLE', 'credentials', message, {
      hint:
        'Check that AWS credentials are available to this process (environment, ~/.aws, SSO, web identity, ' +
        'ECS/EC2 instance role, or the `credentials` option) and that they have not expired.',
      cause,
    });
  }
}

/** SigV4 signing of the auth token failed. */
export class IamSigningError extends IamAuthError {
  constructor(message: string, cause?: unknown) {
    super('RDS_IAM_SIGNING_FAILED', 'signing', message, {
      hint: 'Check the `region`, `host`, `port` and `user` options; the token is signed for exactly these.',
      cause,
    });
  }
}

/** TLS to the server could not be established or verified; no token was sent. */
export class IamTlsError extends IamAuthError {
  constructor(code: 'RDS_IAM_TLS_REQUIRED' | 'RDS_IAM_TLS_VERIFY_FAILED', message: string, cause?: unknown) {
    super(code, 'tls', message, {
      hint:
        code === 'RDS_IAM_TLS_REQUIRED'
          ? 'The server asked for the IAM token before TLS was verified; the token was not sent. ' +
            'Connect to the RDS endpoint itself (TLS is always offered there) and do not strip TLS in a proxy.'
          : 'The server certificate did not verify against the trusted CAs or did not match `host`. ' +
            'Check that `host` is the RDS endpoint name (use `connectHost` for tunnels), that the instance uses ' +
            'a current RDS CA (rds-ca-rsa2048-g1 or newer), and pass `ssl.ca` for regions or proxies not in the bundle.',
      cause,
    });
  }
}

/** The server asked for an authentication method that IAM login cannot answer. */
export class IamUnsupportedAuthPluginError extends IamAuthError {
  readonly plugin: string;
  constructor(plugin: string) {
    super(
      'RDS_IAM_UNSUPPORTED_AUTH_PLUGIN',
      'login',
      `The server asked for the "${plugin}" authentication plugin; IAM login answers only mysql_clear_password`,
      {
        hint:
          "The database user is not an IAM user. Create it IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' " +
          "(MySQL; on MariaDB also IDENTIFIED VIA AWSAuthenticationPlugin USING 'RDS'), or connect as the IAM user.",
      },
    );
    this.plugin = plugin;
  }
}

/** Network failure reaching the server (DNS, TCP, a handshake cut off), after retries. */
export class IamConnectError extends IamAuthError {
  constructor(message: string, cause?: unknown, hint?: string) {
    super('RDS_IAM_CONNECT_FAILED', 'connect', message, {
      hint:
        hint ??
        'Check that the endpoint resolves and the port is reachable from here (security groups, NACLs, ' +
          'VPC routing, `connectHost`/`connectPort` for a tunnel), and that the instance is available.',
      cause,
    });
  }
}

export const LOGIN_CHECKLIST =
  'Check, in order: the DB user was created WITH AWSAuthenticationPlugin (and REQUIRE SSL); the IAM ' +
  'principal has an rds-db:connect policy for arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId or ' +
  'cluster resource id>/<user>; `region`, `host`, `port` and `user` match the instance; the machine clock ' +
  'is correct (tokens are valid 15 minutes from signing). The server-side reason is in the ' +
  "instance's iam-db-auth-error log export.";

type LoginErrorCode =
  | 'RDS_IAM_ACCESS_DENIED'
  | 'RDS_IAM_NOT_IAM_USER'
  | 'RDS_IAM_PLUGIN_NOT_ENABLED'
  | 'RDS_IAM_PERMISSION_DENIED'
  | 'RDS_IAM_UNKNOWN_DATABASE';

const LOGIN_HINTS: Record<LoginErrorCode, string> = {
  RDS_IAM_ACCESS_DENIED: LOGIN_CHECKLIST,
  RDS_IAM_NOT_IAM_USER:
    'The server refused the user without asking for a token, so it is not an IAM user, or does not exist: ' +
    "create it IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' (MySQL; on MariaDB IDENTIFIED VIA " +
    "AWSAuthenticationPlugin USING 'RDS'), check the spelling of `user` (it is case-sensitive), and run " +
    '`npx rds-iam-pool doctor` for the details.',
  RDS_IAM_PLUGIN_NOT_ENABLED:
    'IAM database authentication is not enabled on this instance or cluster: enable it ' +
    '(modify-db-instance --enable-iam-database-authentication) and wait for the change to apply.',
  RDS_IAM_PERMISSION_DENIED:
    'The login worked but the user lacks a privilege (for example on the `database`): GRANT it.',
  RDS_IAM_UNKNOWN_DATABASE:
    'The `database` option names a database that does not exist on this server: fix the name, or create it.',
};

/** The server refused the login (after the retries with a fresh token, where a retry could help). */
export class IamLoginError extends IamAuthError {
  constructor(code: LoginErrorCode, message: string, cause: unknown, errno: number | undefined) {
    const step: IamAuthStep = code === 'RDS_IAM_PERMISSION_DENIED' ? 'permission' : 'login';
    super(code, step, message, { hint: LOGIN_HINTS[code], cause, ...(errno === undefined ? {} : { errno }) });
  }
}

/**
 * The installed mysql2 no longer has a member or behaviour this library relies on (see
 * src/mysql2-boundary.ts). Thrown when a pool is created or its first connection opens, instead of
 * a pool that misbehaves without saying why.
 */
export class IamDriverError extends IamAuthError {
  /** mysql2's version, as it reports itself. */
  readonly mysql2Version: string;
  /** What is missing, named as src/mysql2-boundary.ts names it (a pool queue, a connection method). */
  readonly missing: string;
  constructor(mysql2Version: string, missing: string) {
    super(
      'RDS_IAM_DRIVER_INCOMPATIBLE',
      'driver',
      `mysql2 ${mysql2Version} is not compatible with this version of rds-iam-pool: ${missing} is missing`,
      {
        hint:
          'Install a mysql2 version inside the range rds-iam-pool declares in its package.json ' +
          '(npm ls mysql2 shows which one is installed), or upgrade rds-iam-pool.',
      },
    );
    this.mysql2Version = mysql2Version;
    this.missing = missing;
  }
}

// --- Borrowing from a pool ---------------------------------------------------------------------

/** How many connections a pool holds, by state. */
export interface PoolConnectionCounts {
  /** Every connection: idle, borrowed and opening. */
  total: number;
  /** Open and waiting to be borrowed. */
  idle: number;
  /** Handed out and not yet released. */
  borrowed: number;
  /** Opening: waiting for the login rate cap, connecting or logging in. */
  opening: number;
  /** Callers waiting for a connection. */
  waiting: number;
}

/** No connection could be handed out within `acquireTimeoutMs`. */
export class IamAcquireTimeoutError extends IamAuthError {
  /** The pool at the moment the wait ended. */
  readonly pool: PoolConnectionCounts;
  readonly timeoutMs: number;

  constructor(timeoutMs: number, endpoint: string, pool: PoolConnectionCounts, cause?: unknown) {
    const why =
      cause === undefined ? '' : `; the last attempt to open a connection failed: ${describeCause(cause)}`;
    super(
      'RDS_IAM_ACQUIRE_TIMEOUT',
      'acquire',
      `No connection to ${endpoint} within ${timeoutMs} ms (pool: ${pool.total} total, ${pool.idle} idle, ` +
        `${pool.borrowed} borrowed, ${pool.opening} opening, ${pool.waiting} waiting)${why}`,
      {
        hint: acquireTimeoutHint(pool, cause),
        cause,
      },
    );
    this.pool = pool;
    this.timeoutMs = timeoutMs;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), pool: this.pool, timeoutMs: this.timeoutMs };
  }
}

/**
 * The pool was ended: `end()` was called before or while this call waited, or a borrowed
 * connection's command was cut off when `end()` stopped waiting for it. The message is mysql2's
 * own, so code that matches on it keeps working.
 */
export class IamPoolClosedError extends IamAuthError {
  constructor(detail?: string) {
    super('RDS_IAM_POOL_CLOSED', 'acquire', detail ? `Pool is closed. ${detail}` : 'Pool is closed.', {
      hint: 'end() was called on this pool. Create a new pool, or stop using this one before ending it.',
    });
  }
}

/** What most likely kept every connection from the caller, judged by the pool at the moment it gave up. */
function acquireTimeoutHint(pool: PoolConnectionCounts, cause: unknown): string {
  if (cause !== undefined) {
    return (
      'New connections could not be opened in time: see `cause`, and check that the endpoint is ' +
      'reachable and accepting logins.'
    );
  }
  if (pool.opening > 0) {
    return (
      `${pool.opening} connection(s) were still opening when the wait ended: the server (or the tunnel) ` +
      'accepted the TCP connection but the MySQL or TLS handshake did not finish. Check that the endpoint ' +
      'is a MySQL server that answers, the network path (proxies, NAT, security groups), and `connectTimeout` ' +
      '(it bounds each attempt; keep it below acquireTimeoutMs so an attempt can fail and be retried).'
    );
  }
  return (
    'Every connection stayed borrowed: release connections after use (conn.release()), look for ' +
    'long transactions or slow queries, or raise connectionLimit (and the server max_connections).'
  );
}

/**
 * mysql2 refused the borrow at once: `queueLimit` callers were already waiting, or the pool was full
 * with `waitForConnections: false`.
 */
export class IamPoolExhaustedError extends IamAuthError {
  readonly pool: PoolConnectionCounts;
  constructor(endpoint: string, pool: PoolConnectionCounts, cause?: unknown) {
    super(
      'RDS_IAM_POOL_EXHAUSTED',
      'acquire',
      `No connection to ${endpoint} is free and the pool takes no more waiting callers (pool: ${pool.total} total, ` +
        `${pool.borrowed} borrowed, ${pool.waiting} waiting)`,
      {
        hint:
          'The pool is at connectionLimit and queueLimit callers are already waiting (or waitForConnections is ' +
          'false): raise connectionLimit or queueLimit, or release connections sooner.',
        cause,
      },
    );
    this.pool = pool;
  }
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${cause.message}` : cause.message;
  }
  return String(cause);
}

/**
 * The connection was lost after COMMIT was sent and before the server answered: the transaction
 * may have committed, or not. withTransaction never retries it; the caller must find out (read the
 * rows back, or make the transaction idempotent) before doing it again.
 */
export class IamTransactionOutcomeUnknownError extends IamAuthError {
  constructor(cause: unknown) {
    super(
      'RDS_IAM_TRANSACTION_OUTCOME_UNKNOWN',
      'transaction',
      'The connection was lost while COMMIT was in flight: the transaction may or may not have committed',
      {
        hint:
          'Check whether its writes are there before running it again (or give it an idempotency key). ' +
          'An Aurora failover or a restart cut the connection; the pool has moved on to a new one.',
        cause,
      },
    );
  }
}

/** A short, safe description of an option value for an error message (never the whole value). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return value === ''
      ? 'an empty string'
      : JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (value === null) return 'null';
  if (Buffer.isBuffer(value))
    return value.length === 0 ? 'an empty Buffer' : 'a Buffer without a PEM certificate';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  return typeof value === 'object' ? 'an object' : String(value);
}

// Anything that looks like part of a presigned token: the signature, session token, credential
// scope and the whole token when it appears as a host:port/?... string.
const SECRET_PATTERNS: RegExp[] = [
  /[^\s'"]*X-Amz-[A-Za-z-]+=[^\s'"]*/g,
  /\b[0-9a-f]{64}\b/g,
  /\b(?:ASIA|AKIA)[A-Z0-9]{12,}\b/g,
];

/** Removes token-shaped text (signatures, session tokens, access key ids) from a string. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, '[REDACTED]');
  return out;
}
