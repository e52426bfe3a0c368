import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { connect as netConnect } from 'node:net';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Pool as CorePool, PoolConnection as CorePoolConnection } from 'mysql2';
import mysql from 'mysql2';
import type { Pool } from 'mysql2/promise';
import { createAuthPlugins } from './auth-plugin.js';
import { type IamPoolOptions, type ResolvedIamOptions, resolveOptions } from './options.js';
import { classifyConnectError, connectWithRetry, toIamError } from './retry.js';
import { buildSslOptions } from './tls/ssl-options.js';
import { TokenCache, type TokenRequest, type TokenSignedInfo } from './token/cache.js';

export interface IamPoolStats {
  /** Tokens signed by this pool's cache. */
  tokensSigned: number;
  /** Calls to the credential provider. */
  credentialRequests: number;
  /** Logins that reused a cached token. */
  cacheHits: number;
  /** Connections that logged in. */
  connectionsOpened: number;
  /** Connect attempts that failed (each retry counts). */
  connectFailures: number;
  /** Retries after the server refused a token. */
  authRetries: number;
  /** Retries after a network error while connecting. */
  transientRetries: number;
}

export interface IamPoolEvents {
  /** A token was signed. Carries no token and no secret. */
  tokenSigned: [TokenSignedInfo];
  /** A connect attempt failed and will be retried. */
  retry: [{ attempt: number; reason: 'auth-rejected' | 'transient'; code: string | undefined }];
  /** A connect failed for good; the caller received this error. */
  connectFailed: [{ error: unknown }];
}

interface ConnectAttempt {
  /** Which token (by signing time) the attempt's login sent, once it sent one. */
  tokenSignedAt?: number;
}

/**
 * The connect attempt a login belongs to. mysql2 runs the auth plugin from socket callbacks; the
 * socket is created inside the attempt, so the async context carries the attempt to the plugin.
 */
const connectAttempt = new AsyncLocalStorage<ConnectAttempt>();

type PoolCounter = 'connectionsOpened' | 'connectFailures' | 'authRetries' | 'transientRetries';

/** The IAM side of a pool: stats, events and token control. */
export class IamPoolHandle extends EventEmitter<IamPoolEvents> {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly region: string;
  readonly #tokens: TokenCache;
  readonly #tokenRequest: TokenRequest;
  readonly #counters: Record<PoolCounter, number> = {
    connectionsOpened: 0,
    connectFailures: 0,
    authRetries: 0,
    transientRetries: 0,
  };

  /** @internal */
  constructor(resolved: ResolvedIamOptions, tokens: TokenCache, credentials: AwsCredentialIdentityProvider) {
    super();
    this.host = resolved.host;
    this.port = resolved.port;
    this.user = resolved.user;
    this.region = resolved.region;
    this.#tokens = tokens;
    this.#tokenRequest = {
      hostname: resolved.host,
      port: resolved.port,
      username: resolved.user,
      region: resolved.region,
      credentials,
    };
  }

  /** Counts since the pool was created (token counts are the shared cache's when one is shared). */
  stats(): IamPoolStats {
    const t = this.#tokens.stats();
    return {
      tokensSigned: t.tokensSigned,
      credentialRequests: t.credentialRequests,
      cacheHits: t.cacheHits,
      ...this.#counters,
    };
  }

  /** Drops the cached token: the next login signs a new one (e.g. after rotating the IAM role). */
  invalidateToken(): void {
    this.#tokens.invalidate(this.#tokenRequest);
  }

  /** @internal The token for a login; notes which token the current connect attempt used. */
  async getToken(): Promise<string> {
    const { token, signedAt } = await this.#tokens.getSignedToken(this.#tokenRequest);
    const attempt = connectAttempt.getStore();
    if (attempt) attempt.tokenSignedAt = signedAt;
    return token;
  }

  /** @internal After the server refused a login: drop the token that attempt used. */
  dropRefusedToken(attempt: ConnectAttempt): void {
    this.#tokens.invalidate(this.#tokenRequest, attempt.tokenSignedAt);
  }

  /** @internal */
  count(counter: PoolCounter): void {
    this.#counters[counter]++;
  }
}

/** A mysql2/promise pool whose connections log in with IAM tokens. `pool.pool` is the callback pool. */
export type IamPool = Pool & {
  readonly iam: IamPoolHandle;
  readonly pool: CorePool & { readonly iam: IamPoolHandle };
};

/**
 * Creates a mysql2 pool for an RDS / Aurora MySQL or MariaDB endpoint with IAM database
 * authentication: each new connection logs in with a cached, refreshed token, over TLS verified
 * against the RDS CAs, retrying refused logins with a fresh token.
 */
export function createIamPool(options: IamPoolOptions): IamPool {
  const resolved = resolveOptions(options);
  const credentials = resolved.credentials ?? lazyNodeProviderChain();
  let handle: IamPoolHandle | undefined;
  const tokens =
    resolved.tokenCache ??
    new TokenCache({
      clock: resolved.clock,
      refreshBeforeExpiryMs: resolved.refreshBeforeExpiryMs,
      onSigned: (info) => handle?.emit('tokenSigned', info),
    });
  handle = new IamPoolHandle(resolved, tokens, credentials);
  const iam = handle;

  const { connectHost, connectPort } = resolved;
  const core = mysql.createPool({
    ...resolved.passThrough,
    host: resolved.host,
    port: resolved.port,
    user: resolved.user,
    ssl: buildSslOptions(resolved.ssl),
    authPlugins: createAuthPlugins(() => iam.getToken()),
    // Through a tunnel: mysql2 keeps `host` for the TLS server name and certificate check.
    ...(connectHost !== undefined || connectPort !== undefined
      ? { stream: () => netConnect(connectPort ?? resolved.port, connectHost ?? resolved.host) }
      : {}),
  });
  core.on('connection', () => iam.count('connectionsOpened'));
  installRetryingGetConnection(core, iam, resolved);

  const pool = core.promise() as IamPool;
  Object.defineProperty(pool, 'iam', { value: iam, enumerable: false });
  Object.defineProperty(core, 'iam', { value: iam, enumerable: false });
  return pool;
}

/**
 * mysql2's pool opens connections inside `getConnection`, which `query` and `execute` call too;
 * wrapping it on this one instance puts every new login under the retry policy.
 */
function installRetryingGetConnection(
  core: CorePool,
  iam: IamPoolHandle,
  resolved: ResolvedIamOptions,
): void {
  const getConnection = core.getConnection.bind(core);
  const endpoint = `${resolved.host}:${resolved.port}`;
  core.getConnection = ((
    callback: (err: NodeJS.ErrnoException | null, connection: CorePoolConnection) => void,
  ) => {
    let attempt: ConnectAttempt = {};
    connectWithRetry(
      () =>
        new Promise<CorePoolConnection>((resolve, reject) => {
          attempt = {};
          connectAttempt.run(attempt, () =>
            getConnection((err, connection) => (err ? reject(err) : resolve(connection))),
          );
        }),
      resolved.retry,
      {
        onAuthRejected: () => iam.dropRefusedToken(attempt),
        onRetry: (failure, attempt, error) => {
          iam.count(failure === 'auth-rejected' ? 'authRetries' : 'transientRetries');
          iam.emit('retry', {
            attempt,
            reason: failure === 'auth-rejected' ? 'auth-rejected' : 'transient',
            code: (error as { code?: string }).code,
          });
        },
      },
    ).then(
      (connection) => callback(null, connection),
      (err: unknown) => {
        if (classifyConnectError(err) !== 'final' || isConnectError(err)) iam.count('connectFailures');
        const error = toIamError(err, endpoint);
        iam.emit('connectFailed', { error });
        callback(error as NodeJS.ErrnoException, undefined as unknown as CorePoolConnection);
      },
    );
  }) as CorePool['getConnection'];
}

function isConnectError(err: unknown): boolean {
  return err instanceof Error && !/Pool is closed|Queue limit|No connections available/.test(err.message);
}

/** The Node provider chain, loaded on first use so the main entry stays light at cold start. */
function lazyNodeProviderChain(): AwsCredentialIdentityProvider {
  let provider: Promise<AwsCredentialIdentityProvider> | undefined;
  return async (properties) => {
    provider ??= import('@aws-sdk/credential-provider-node').then((m) => m.defaultProvider());
    return (await provider)(properties);
  };
}
