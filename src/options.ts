import { isIP } from 'node:net';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { PoolOptions, SslOptions } from 'mysql2';
import { IamOptionsError } from './errors.js';
import { inferRegion, REGION_SHAPE } from './region.js';
import { TokenCache } from './token/cache.js';

/** mysql2 options that IAM login owns; passing one is a configuration mistake. */
const OWNED_BY_IAM = [
  'password',
  'password1',
  'password2',
  'password3',
  'passwordSha1',
  'authPlugins',
  'authSwitchHandler',
  'enableCleartextPlugin',
  'stream',
  'socketPath',
] as const;

/** TLS options a caller may set; verification itself (`rejectUnauthorized`, `verifyIdentity`) stays on. */
export type IamSslOptions = Omit<SslOptions, 'rejectUnauthorized' | 'verifyIdentity'> & {
  /** Only `true` is accepted: certificate verification cannot be turned off. */
  rejectUnauthorized?: true;
  /** Only `true` is accepted: the certificate must match `host`. */
  verifyIdentity?: true;
};

export interface IamRetryOptions {
  /** Retries after the first attempt. Default 3: enough to ride out a token race or a brief restart. */
  retries?: number;
  /** Delay before the first retry, in ms. Default 100. */
  minTimeoutMs?: number;
  /** Upper bound of one delay, in ms. Default 2000. Delays double and are randomised (x1 to x2). */
  maxTimeoutMs?: number;
}

export interface IamTokenOptions {
  /**
   * Refresh a token this long before it expires (capped at a third of its lifetime), in ms.
   * Default 300000 (5 min): logins keep using the old token while the new one is signed, and a slow
   * credential provider (IMDS, STS, SSO) has minutes, not milliseconds, to answer.
   */
  refreshBeforeExpiryMs?: number;
  /** A shared cache, for several pools with the same endpoint and user; default one per pool. */
  cache?: TokenCache;
}

/**
 * What mysql2's pool lacks, with HikariCP's guarantees: every default is meant to need no tuning.
 * See docs/production.md for the reasoning behind each.
 */
export interface IamPoolBehaviourOptions {
  /**
   * How long `getConnection()` / `query()` / `execute()` wait for a connection (queueing, logging in,
   * retries and validation included) before failing with `IamAcquireTimeoutError`, in ms.
   * Default 10000: rides out a failover's reconnect with retries, and fails a request well before a
   * load balancer or API Gateway (29 s) gives up on it.
   */
  acquireTimeoutMs?: number;
  /**
   * A connection idle at least this long is pinged before it is handed out; a dead one is replaced.
   * 0 = ping on every borrow. Default 500 (HikariCP's alive-bypass window): a busy pool pays nothing,
   * and a connection that sat through a Lambda freeze, a NAT timeout or a failover is checked.
   */
  validateAfterIdleMs?: number;
  /**
   * How long that ping may take, in ms (never longer than the borrow has left of `acquireTimeoutMs`).
   * Default 2000: a healthy server answers in about a millisecond; a socket to a server that vanished
   * without closing it (a failover, a NAT that forgot the flow) never answers.
   */
  validationTimeoutMs?: number;
  /**
   * Connections are retired at a random age between 90% and 100% of this, in ms; 0 = never.
   * Default 1800000 (30 min, HikariCP's): connections move to replaced instances and proxies after a
   * failover or scale-out, and the jitter keeps a pool that opened together from reconnecting together.
   */
  maxLifetimeMs?: number;
  /**
   * New logins (new connections) per second for this pool, spaced evenly; 0 = no cap.
   * Default 20: RDS advises staying under about 200 new IAM connections per second per instance,
   * so ten processes recovering from a failover at once still stay under it, and the default pool
   * of 10 refills in half a second.
   */
  maxLoginsPerSecond?: number;
  /**
   * How long `end()` waits for borrowed connections to be released before it closes them, in ms.
   * Default 10000: enough for requests in flight to finish, inside the 30 s that ECS and Kubernetes
   * give a stopping task.
   */
  endTimeoutMs?: number;
}

export interface IamOptions extends IamPoolBehaviourOptions {
  /** The RDS / Aurora / RDS Proxy endpoint name. The token and the TLS certificate check use it. */
  host: string;
  /** The endpoint's port. Default 3306. */
  port?: number;
  /** The database user, created WITH AWSAuthenticationPlugin. */
  user: string;
  /** AWS region of the instance. Default: inferred from `host` (`*.<region>.rds.amazonaws.com`). */
  region?: string;
  /** Where credentials come from. Default: the Node provider chain, created on first use. */
  credentials?: AwsCredentialIdentityProvider;
  /** Connect here instead of `host` (SSH tunnel, port-forward, local emulator); token and TLS keep `host`. */
  connectHost?: string;
  /** Port to connect to with `connectHost`. Default: `port`. */
  connectPort?: number;
  /** TLS overrides. `ca` replaces the bundled RDS CAs; verification cannot be disabled. */
  ssl?: IamSslOptions;
  /** Retry policy for failed logins and transient connect errors. */
  retry?: IamRetryOptions;
  /** Token cache tuning. */
  token?: IamTokenOptions;
  /** Milliseconds since the epoch; for tests that move time. Default `Date.now`. */
  clock?: () => number;
}

/** Every mysql2 pool option passes through, except those IAM login owns. */
export type IamPoolOptions = Omit<
  PoolOptions,
  (typeof OWNED_BY_IAM)[number] | 'host' | 'port' | 'user' | 'ssl'
> &
  IamOptions;

export interface ResolvedIamOptions {
  host: string;
  port: number;
  user: string;
  region: string;
  credentials: AwsCredentialIdentityProvider | undefined;
  connectHost: string | undefined;
  connectPort: number | undefined;
  ssl: IamSslOptions;
  retry: Required<IamRetryOptions>;
  refreshBeforeExpiryMs: number;
  tokenCache: TokenCache | undefined;
  clock: () => number;
  pool: Required<IamPoolBehaviourOptions>;
  /** What goes to mysql2 untouched. */
  passThrough: Omit<PoolOptions, 'host' | 'port' | 'user' | 'ssl'>;
}

export const DEFAULT_PORT = 3306;
export const DEFAULT_RETRY: Required<IamRetryOptions> = { retries: 3, minTimeoutMs: 100, maxTimeoutMs: 2000 };
export const DEFAULT_REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
export const DEFAULT_POOL_BEHAVIOUR: Required<IamPoolBehaviourOptions> = {
  acquireTimeoutMs: 10_000,
  validateAfterIdleMs: 500,
  validationTimeoutMs: 2000,
  maxLifetimeMs: 30 * 60_000,
  maxLoginsPerSecond: 20,
  endTimeoutMs: 10_000,
};

export { inferRegion } from './region.js';

/** Validates options and applies defaults; throws `IamOptionsError` naming the option and the fix. */
export function resolveOptions(options: IamPoolOptions): ResolvedIamOptions {
  if (options === null || typeof options !== 'object') {
    throw new IamOptionsError('options', 'expected an object', 'Call createIamPool({ host, user, ... }).');
  }
  const {
    host,
    port,
    user,
    region,
    credentials,
    connectHost,
    connectPort,
    ssl,
    retry,
    token,
    clock,
    acquireTimeoutMs,
    validateAfterIdleMs,
    validationTimeoutMs,
    maxLifetimeMs,
    maxLoginsPerSecond,
    endTimeoutMs,
    ...rest
  } = options as IamPoolOptions & Record<string, unknown>;

  for (const owned of OWNED_BY_IAM) {
    if ((rest as Record<string, unknown>)[owned] !== undefined) {
      throw new IamOptionsError(owned, 'is set, but IAM login manages it', ownedHint(owned));
    }
  }
  // mysql2's debug mode prints every packet as hex, the login packet with the token included.
  if ((rest as { debug?: unknown }).debug) {
    throw new IamOptionsError(
      'debug',
      'would print every packet, including the login packet that carries the IAM token',
      'Remove it. Use pool.iam events or the rds-iam-pool diagnostics channels to see logins, and ' +
        "mysql2's own tracing channels for queries.",
    );
  }

  const hostName = requireString(
    'host',
    host,
    'Set `host` to the RDS endpoint, e.g. mydb.abc123.us-east-1.rds.amazonaws.com.',
  );
  if (isIP(hostName)) {
    throw new IamOptionsError(
      'host',
      `is an IP address (${hostName}); the token and the TLS certificate are issued for the endpoint name`,
      'Set `host` to the RDS endpoint name and `connectHost` to the IP (or tunnel) you connect through.',
    );
  }
  const userName = requireString(
    'user',
    user,
    'Set `user` to the database user created WITH AWSAuthenticationPlugin.',
  );
  const resolvedPort = optionalPort('port', port) ?? DEFAULT_PORT;
  const resolvedConnectPort = optionalPort('connectPort', connectPort);

  const resolvedRegion = region ?? inferRegion(hostName);
  if (resolvedRegion === undefined) {
    throw new IamOptionsError(
      'region',
      `cannot be inferred from host "${hostName}"`,
      'Pass `region` (e.g. "us-east-1"): only *.<region>.rds.amazonaws.com names carry it.',
    );
  }
  if (typeof resolvedRegion !== 'string' || !REGION_SHAPE.test(resolvedRegion)) {
    throw new IamOptionsError(
      'region',
      // describe(): String() throws on an object without a prototype (Object.create(null)).
      `${describe(resolvedRegion)} is not an AWS region name`,
      'Use a region code such as "us-east-1" or "eu-west-3".',
    );
  }

  if (credentials !== undefined && typeof credentials !== 'function') {
    throw new IamOptionsError(
      'credentials',
      'must be a credential provider function',
      'Pass an AwsCredentialIdentityProvider, e.g. fromNodeProviderChain() or fromTemporaryCredentials(...); ' +
        'for static keys: async () => ({ accessKeyId, secretAccessKey }).',
    );
  }
  if (connectHost !== undefined)
    requireString('connectHost', connectHost, 'Set `connectHost` to a host name or IP, or leave it out.');
  if (clock !== undefined && typeof clock !== 'function') {
    throw new IamOptionsError(
      'clock',
      'must be a function returning milliseconds',
      'Leave `clock` out outside tests.',
    );
  }

  return {
    host: hostName,
    port: resolvedPort,
    user: userName,
    region: resolvedRegion,
    credentials,
    connectHost,
    connectPort: resolvedConnectPort,
    ssl: resolveSsl(ssl),
    retry: resolveRetry(retry),
    refreshBeforeExpiryMs: resolveRefresh(token),
    tokenCache: resolveTokenCache(token),
    clock: clock ?? Date.now,
    pool: resolvePoolBehaviour({
      acquireTimeoutMs,
      validateAfterIdleMs,
      validationTimeoutMs,
      maxLifetimeMs,
      maxLoginsPerSecond,
      endTimeoutMs,
    }),
    passThrough: rest,
  };
}

function resolveSsl(ssl: unknown): IamSslOptions {
  if (ssl === undefined) return {};
  if (ssl === null || typeof ssl !== 'object' || Array.isArray(ssl)) {
    throw new IamOptionsError(
      'ssl',
      `must be an object of TLS overrides, got ${describe(ssl)}`,
      'IAM tokens are only ever sent over verified TLS. Leave `ssl` out for the bundled RDS CAs, or pass ' +
        '{ ca } to trust another CA.',
    );
  }
  const s = ssl as Record<string, unknown>;
  if (s.rejectUnauthorized !== undefined && s.rejectUnauthorized !== true) {
    throw new IamOptionsError(
      'ssl.rejectUnauthorized',
      'cannot be turned off: an IAM token is a bearer credential',
      'Remove it. If the server certificate is not from RDS, pass its CA as `ssl.ca`.',
    );
  }
  if (s.verifyIdentity !== undefined && s.verifyIdentity !== true) {
    throw new IamOptionsError(
      'ssl.verifyIdentity',
      'cannot be turned off: the certificate must match `host`',
      'Remove it. To connect through a tunnel or an IP, keep `host` as the endpoint name and set `connectHost`.',
    );
  }
  if (typeof s.minVersion === 'string' && !['TLSv1.2', 'TLSv1.3'].includes(s.minVersion)) {
    throw new IamOptionsError(
      'ssl.minVersion',
      `"${s.minVersion}" is below TLS 1.2`,
      'Use "TLSv1.2" or "TLSv1.3".',
    );
  }
  return ssl as IamSslOptions;
}

function resolveRetry(retry: unknown): Required<IamRetryOptions> {
  if (retry === undefined) return DEFAULT_RETRY;
  if (retry === null || typeof retry !== 'object') {
    throw new IamOptionsError(
      'retry',
      `must be an object, got ${describe(retry)}`,
      'For example { retries: 3 }.',
    );
  }
  const r = { ...DEFAULT_RETRY, ...(retry as IamRetryOptions) };
  for (const [name, value, max] of [
    ['retry.retries', r.retries, 20],
    ['retry.minTimeoutMs', r.minTimeoutMs, 60_000],
    ['retry.maxTimeoutMs', r.maxTimeoutMs, 300_000],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new IamOptionsError(
        name,
        `must be an integer from 0 to ${max}, got ${describe(value)}`,
        'Leave it out for the default.',
      );
    }
  }
  if (r.maxTimeoutMs < r.minTimeoutMs) {
    throw new IamOptionsError(
      'retry.maxTimeoutMs',
      'is smaller than retry.minTimeoutMs',
      'Make maxTimeoutMs >= minTimeoutMs.',
    );
  }
  return r;
}

const DAY_MS = 24 * 3_600_000;
const MIN_LIFETIME_MS = 30_000;

function resolvePoolBehaviour(given: Record<keyof IamPoolBehaviourOptions, unknown>) {
  const r = { ...DEFAULT_POOL_BEHAVIOUR };
  const ranges: Array<[keyof IamPoolBehaviourOptions, number, number, string]> = [
    ['acquireTimeoutMs', 1, 600_000, 'A bound is the point: leave it out for 10000 ms.'],
    ['validateAfterIdleMs', 0, DAY_MS, '0 pings on every borrow; leave it out for 500 ms.'],
    ['validationTimeoutMs', 1, 60_000, 'Leave it out for 2000 ms.'],
    ['maxLifetimeMs', 0, 7 * DAY_MS, '0 turns retirement off; leave it out for 30 minutes.'],
    ['maxLoginsPerSecond', 0, 10_000, '0 turns the cap off; leave it out for 20.'],
    ['endTimeoutMs', 0, 600_000, 'Leave it out for 10000 ms.'],
  ];
  for (const [name, min, max, hint] of ranges) {
    const value = given[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new IamOptionsError(
        name,
        `must be an integer from ${min} to ${max}, got ${describe(value)}`,
        hint,
      );
    }
    r[name] = value;
  }
  if (r.maxLifetimeMs !== 0 && r.maxLifetimeMs < MIN_LIFETIME_MS) {
    throw new IamOptionsError(
      'maxLifetimeMs',
      `must be 0 or at least ${MIN_LIFETIME_MS} ms, got ${r.maxLifetimeMs}`,
      'Shorter lifetimes turn the pool into a login storm; leave it out for 30 minutes.',
    );
  }
  return r;
}

function resolveTokenCache(token: IamTokenOptions | undefined): TokenCache | undefined {
  const cache = token?.cache;
  if (cache !== undefined && !(cache instanceof TokenCache)) {
    throw new IamOptionsError(
      'token.cache',
      `must be a TokenCache, got ${describe(cache)}`,
      'Create one with `new TokenCache()` and pass the same instance to every pool that shares it.',
    );
  }
  return cache;
}

function resolveRefresh(token: unknown): number {
  if (token === undefined) return DEFAULT_REFRESH_BEFORE_EXPIRY_MS;
  if (token === null || typeof token !== 'object') {
    throw new IamOptionsError(
      'token',
      `must be an object, got ${describe(token)}`,
      'For example { refreshBeforeExpiryMs: 300000 }.',
    );
  }
  const value = (token as IamTokenOptions).refreshBeforeExpiryMs ?? DEFAULT_REFRESH_BEFORE_EXPIRY_MS;
  if (!Number.isInteger(value) || value < 0 || value >= 15 * 60_000) {
    throw new IamOptionsError(
      'token.refreshBeforeExpiryMs',
      `must be an integer from 0 to 899999 ms, got ${describe(value)}`,
      'Tokens live 15 minutes; the default refreshes 5 minutes before expiry.',
    );
  }
  return value;
}

function requireString(option: string, value: unknown, hint: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new IamOptionsError(
      option,
      value === undefined ? 'is required' : `must be a non-empty string, got ${describe(value)}`,
      hint,
    );
  }
  return value.trim();
}

function optionalPort(option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
    throw new IamOptionsError(
      option,
      `must be an integer from 1 to 65535, got ${describe(value)}`,
      'RDS MySQL listens on 3306 unless you chose another port.',
    );
  }
  return n;
}

function ownedHint(option: string): string {
  switch (option) {
    case 'stream':
    case 'socketPath':
      return 'Use `connectHost` / `connectPort` to connect through a tunnel; the pool builds the socket itself.';
    case 'authPlugins':
    case 'authSwitchHandler':
    case 'enableCleartextPlugin':
      return 'Remove it: the pool installs its own mysql_clear_password plugin, which sends the token only over verified TLS.';
    default:
      return 'Remove it: the pool signs a fresh IAM token for every login. Use `credentials` to choose the AWS identity.';
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : String(value);
}
