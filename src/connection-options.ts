import { EventEmitter } from 'node:events';
import type { AuthPlugin, ConnectionOptions, SslOptions } from 'mysql2';
import { IamOptionsError } from './errors.js';
import { createTrackedAuthPlugins } from './login-tracking.js';
import {
  DEFAULT_POOL_BEHAVIOUR,
  type IamOptions,
  type IamPoolBehaviourOptions,
  type IamPoolOptions,
  resolveOptions,
} from './options.js';
import { buildSslOptions } from './tls/ssl-options.js';
import { TokenCache, type TokenRequest, type TokenSignedInfo } from './token/cache.js';
import { lazyNodeProviderChain } from './token/default-credentials.js';
import { tunnelStreamOption } from './tunnel.js';

/** mysql2 connection options that IAM login owns (see `IamPoolOptions`). */
type OwnedConnectionOption =
  | 'password'
  | 'password1'
  | 'password2'
  | 'password3'
  | 'passwordSha1'
  | 'authPlugins'
  | 'authSwitchHandler'
  | 'enableCleartextPlugin'
  | 'stream'
  | 'socketPath'
  | 'debug';

/**
 * Options for connections that a library opens itself from a config object (Sequelize, MikroORM,
 * your own `mysql.createConnection`): the IAM options without `retry` and the pool behaviour
 * options, which only a pool created by `createIamPool` can apply, plus any mysql2 connection option.
 */
export type IamConnectionOptionsInput = Omit<
  ConnectionOptions,
  OwnedConnectionOption | 'host' | 'port' | 'user' | 'ssl'
> &
  Omit<IamOptions, 'retry' | keyof IamPoolBehaviourOptions>;

/** Options only `createIamPool` can apply; refused here rather than silently ignored. */
const POOL_ONLY_OPTIONS = ['retry', ...Object.keys(DEFAULT_POOL_BEHAVIOUR)];

/**
 * mysql2 `ConnectionOptions` that log in with IAM: every connection created from them asks the
 * shared token cache for a token at login, so the object never holds a password that can go stale.
 * `iam` (not enumerable, so copies and mysql2's option check ignore it) reports tokens and logins.
 */
export type IamConnectionOptions = ConnectionOptions & {
  host: string;
  port: number;
  user: string;
  ssl: SslOptions;
  authPlugins: Record<string, AuthPlugin>;
  readonly iam: IamConnectionHandle;
};

export interface IamConnectionStats {
  /** Tokens signed by the shared cache. */
  tokensSigned: number;
  /** Calls to the credential provider. */
  credentialRequests: number;
  /** Logins that reused a cached token. */
  cacheHits: number;
  /** Logins the server accepted. */
  connectionsOpened: number;
  /** Logins the server refused (1045 / 1698); the token each one sent was dropped from the cache. */
  loginsRefused: number;
}

export interface IamConnectionEvents {
  /** A token was signed. Carries no token and no secret. */
  tokenSigned: [TokenSignedInfo];
  /** The server refused a login; the next login signs a fresh token. */
  loginRefused: [{ errno: number; code: string | undefined }];
}

/** The IAM side of connection options: stats, events and token control. */
export class IamConnectionHandle extends EventEmitter<IamConnectionEvents> {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly region: string;
  readonly #tokens: TokenCache;
  readonly #request: TokenRequest;
  #connectionsOpened = 0;
  #loginsRefused = 0;

  /** @internal */
  constructor(request: TokenRequest, tokens: TokenCache) {
    super();
    this.host = request.hostname;
    this.port = request.port;
    this.user = request.username;
    this.region = request.region;
    this.#request = request;
    this.#tokens = tokens;
  }

  /** Counts since the options were created (token counts are the shared cache's when one is shared). */
  stats(): IamConnectionStats {
    const t = this.#tokens.stats();
    return {
      tokensSigned: t.tokensSigned,
      credentialRequests: t.credentialRequests,
      cacheHits: t.cacheHits,
      connectionsOpened: this.#connectionsOpened,
      loginsRefused: this.#loginsRefused,
    };
  }

  /** Drops the cached token: the next login signs a new one (e.g. after rotating the IAM role). */
  invalidateToken(): void {
    this.#tokens.invalidate(this.#request);
  }

  /** @internal */
  loginSucceeded(): void {
    this.#connectionsOpened++;
  }

  /** @internal The server refused this login: drop the token it sent, and only that one. */
  loginRefused(tokenSignedAt: number | undefined, error: { errno: number; code?: string }): void {
    this.#loginsRefused++;
    this.#tokens.invalidate(this.#request, tokenSignedAt);
    this.emit('loginRefused', { errno: error.errno, code: error.code });
  }
}

/**
 * mysql2 `ConnectionOptions` for an IAM user, for libraries that create connections themselves
 * from a config object. Host, port, user, TLS (verified, RDS CAs by default), the
 * `mysql_clear_password` plugin (sends a token only over verified TLS) and, with `connectHost`,
 * the tunnel `stream`; every other mysql2 option you pass is kept.
 *
 * All connections made from one result share one token cache: one signing per refresh window, not
 * one per connection. A login the server refuses drops the token it sent, so the next login signs
 * anew. There is no login retry here (that lives in `createIamPool`): where a library accepts a
 * pool, hand it `createIamPool()` instead.
 */
export function createIamConnectionOptions(options: IamConnectionOptionsInput): IamConnectionOptions {
  for (const option of POOL_ONLY_OPTIONS) {
    if ((options as Record<string, unknown> | null)?.[option] !== undefined) {
      throw new IamOptionsError(
        option,
        'has no effect on connections a library opens itself from connection options',
        'Remove it, or pass createIamPool() to libraries that accept a pool: only a pool retries logins, ' +
          'times out acquires, validates and retires connections.',
      );
    }
  }
  const resolved = resolveOptions(options as IamPoolOptions);
  const request: TokenRequest = {
    hostname: resolved.host,
    port: resolved.port,
    username: resolved.user,
    region: resolved.region,
    credentials: resolved.credentials ?? lazyNodeProviderChain(),
  };
  let handle: IamConnectionHandle | undefined;
  const tokens =
    resolved.tokenCache ??
    new TokenCache({
      clock: resolved.clock,
      refreshBeforeExpiryMs: resolved.refreshBeforeExpiryMs,
      onSigned: (info) => handle?.emit('tokenSigned', info),
    });
  handle = new IamConnectionHandle(request, tokens);
  const iam = handle;

  const connectionOptions = {
    ...(resolved.passThrough as ConnectionOptions),
    host: resolved.host,
    port: resolved.port,
    user: resolved.user,
    ssl: buildSslOptions(resolved.ssl),
    authPlugins: createTrackedAuthPlugins({
      token: () => tokens.getSignedToken(request),
      refused: (signedAt, error) => iam.loginRefused(signedAt, error),
      succeeded: () => iam.loginSucceeded(),
    }),
    ...tunnelStreamOption(resolved),
  };
  Object.defineProperty(connectionOptions, 'iam', { value: iam, enumerable: false });
  return connectionOptions as IamConnectionOptions;
}
