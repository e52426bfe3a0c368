import { EventEmitter } from 'node:events';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { AuthPlugin, Pool as CorePool, PoolConnection as CorePoolConnection } from 'mysql2';
import mysql from 'mysql2';
import type { Pool } from 'mysql2/promise';
import { createTrackedAuthPlugins } from './login-tracking.js';
import { type IamPoolOptions, type ResolvedIamOptions, resolveOptions } from './options.js';
import { Acquirer } from './pool/acquire.js';
import { type AcquireTimePercentiles, AcquireTimes } from './pool/acquire-times.js';
import {
  type ConnectionRetiredMessage,
  publishAcquireTimeout,
  publishConnectionRetired,
  publishLoginFailed,
  publishTokenSigned,
  type RetirementReason,
} from './pool/diagnostics.js';
import { drainPool } from './pool/end.js';
import { type IamAcquireTimeoutError, IamPoolClosedError, type PoolConnectionCounts } from './pool/errors.js';
import { ConnectionLifetimes } from './pool/lifetime.js';
import { LoginRateLimiter } from './pool/login-rate.js';
import {
  allConnections,
  connectionCounts,
  destroyConnection,
  freeConnections,
  isKnownDead,
  quitConnection,
} from './pool/mysql2-internals.js';
import { toIamError } from './retry.js';
import { buildSslOptions } from './tls/ssl-options.js';
import { TokenCache, type TokenRequest, type TokenSignedInfo } from './token/cache.js';
import { lazyNodeProviderChain } from './token/default-credentials.js';
import { tunnelStreamOption } from './tunnel.js';

export interface IamPoolStats {
  /** Tokens signed by this pool's cache. */
  tokensSigned: number;
  /** Calls to the credential provider. */
  credentialRequests: number;
  /** Logins that reused a cached token. */
  cacheHits: number;
  /** Connections that logged in (successful logins). */
  connectionsOpened: number;
  /** Connect attempts that failed (each retry counts). */
  connectFailures: number;
  /** Retries after the server refused a token. */
  authRetries: number;
  /** Retries after a network error while connecting. */
  transientRetries: number;
  /** Logins that waited for their turn under `maxLoginsPerSecond`. */
  loginsDelayed: number;
  /** Connections closed at their maximum lifetime. */
  connectionsRetired: number;
  /** Connections found dead (closed, or idle and not answering a ping) when borrowed, and replaced. */
  deadOnBorrow: number;
  /** Borrows that gave up after `acquireTimeoutMs`. */
  acquireTimeouts: number;
  /** Borrowed connections that end() closed because they were not released within `endTimeoutMs`. */
  connectionsInterrupted: number;
  /** The pool right now. */
  connections: PoolConnectionCounts;
  /** How long the latest borrows waited for a connection, in ms. */
  acquireTimeMs: AcquireTimePercentiles;
}

export interface IamPoolEvents {
  /** A token was signed. Carries no token and no secret. */
  tokenSigned: [TokenSignedInfo];
  /** A connect attempt failed and will be retried. */
  retry: [{ attempt: number; reason: 'auth-rejected' | 'transient'; code: string | undefined }];
  /** A connect failed for good; the caller received this error. */
  connectFailed: [{ error: unknown }];
  /** The pool closed a connection on purpose (lifetime, failed validation, end timeout). */
  connectionRetired: [ConnectionRetiredMessage];
  /** A borrow gave up after `acquireTimeoutMs`; the caller received this error. */
  acquireTimeout: [{ error: IamAcquireTimeoutError }];
}

type PoolCounter =
  | 'connectionsOpened'
  | 'connectFailures'
  | 'authRetries'
  | 'transientRetries'
  | 'connectionsRetired'
  | 'deadOnBorrow'
  | 'acquireTimeouts'
  | 'connectionsInterrupted';

/** @internal What the handle reads from the pool it belongs to. */
interface PoolProbe {
  counts(): PoolConnectionCounts;
  loginsDelayed(): number;
}

/** The IAM side of a pool: stats, events and token control. */
export class IamPoolHandle extends EventEmitter<IamPoolEvents> {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly region: string;
  readonly #tokens: TokenCache;
  readonly #tokenRequest: TokenRequest;
  readonly #acquireTimes = new AcquireTimes();
  #probe: PoolProbe | undefined;
  readonly #counters: Record<PoolCounter, number> = {
    connectionsOpened: 0,
    connectFailures: 0,
    authRetries: 0,
    transientRetries: 0,
    connectionsRetired: 0,
    deadOnBorrow: 0,
    acquireTimeouts: 0,
    connectionsInterrupted: 0,
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
      loginsDelayed: this.#probe?.loginsDelayed() ?? 0,
      connections: this.#probe?.counts() ?? { total: 0, idle: 0, borrowed: 0, opening: 0, waiting: 0 },
      acquireTimeMs: this.#acquireTimes.percentiles(),
    };
  }

  /** Drops the cached token: the next login signs a new one (e.g. after rotating the IAM role). */
  invalidateToken(): void {
    this.#tokens.invalidate(this.#tokenRequest);
  }

  /** @internal The token for a login, with its signing time. */
  signedToken(): Promise<{ token: string; signedAt: number }> {
    return this.#tokens.getSignedToken(this.#tokenRequest);
  }

  /** @internal After the server refused a login: drop the token it sent, and only that one. */
  dropRefusedToken(tokenSignedAt: number | undefined): void {
    this.#tokens.invalidate(this.#tokenRequest, tokenSignedAt);
  }

  /** @internal */
  count(counter: PoolCounter): void {
    this.#counters[counter]++;
  }

  /** @internal */
  recordAcquireTime(ms: number): void {
    this.#acquireTimes.record(ms);
  }

  /** @internal */
  attach(probe: PoolProbe): void {
    this.#probe = probe;
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
 * against the RDS CAs, retrying refused logins with a fresh token. On top of mysql2's pool:
 * bounded waits, validation of idle connections, a maximum lifetime, a login rate cap and a
 * bounded end() (see docs/production.md).
 */
export function createIamPool(options: IamPoolOptions): IamPool {
  const resolved = resolveOptions(options);
  const settings = resolved.pool;
  const credentials = resolved.credentials ?? lazyNodeProviderChain();
  let handle: IamPoolHandle | undefined;
  const tokens =
    resolved.tokenCache ??
    new TokenCache({
      clock: resolved.clock,
      refreshBeforeExpiryMs: resolved.refreshBeforeExpiryMs,
      onSigned: (info) => {
        handle?.emit('tokenSigned', info);
        publishTokenSigned(info);
      },
    });
  handle = new IamPoolHandle(resolved, tokens, credentials);
  const iam = handle;
  const identity = { host: resolved.host, port: resolved.port, user: resolved.user };
  const endpoint = `${resolved.host}:${resolved.port}`;

  const limiter = new LoginRateLimiter(settings.maxLoginsPerSecond);
  const lifetimes = new ConnectionLifetimes(settings.maxLifetimeMs, resolved.clock);
  const core = mysql.createPool({
    ...resolved.passThrough,
    host: resolved.host,
    port: resolved.port,
    user: resolved.user,
    ssl: buildSslOptions(resolved.ssl),
    // The login rate cap sits right before the token is sent: a connect that fails earlier (server
    // down, refusing connections) costs the server no login and is not held back, so an outage
    // fails fast instead of queueing behind the cap.
    authPlugins: quietWhenClosed(
      createTrackedAuthPlugins({
        token: () => iam.signedToken(),
        beforeSend: () => limiter.acquire(),
        refused: (tokenSignedAt) => iam.dropRefusedToken(tokenSignedAt),
      }),
    ),
    ...tunnelStreamOption(resolved),
  });

  let ending = false;
  const retire = (connection: CorePoolConnection, reason: RetirementReason) => {
    const message: ConnectionRetiredMessage = {
      ...identity,
      reason,
      threadId: connection.threadId ?? undefined,
      ageMs: lifetimes.ageMs(connection),
    };
    // A connection at the end of its life is still healthy: say goodbye (COM_QUIT). A broken one
    // would not hear it.
    if (reason === 'max-lifetime') quitConnection(connection);
    else destroyConnection(connection);
    iam.count(reason === 'max-lifetime' ? 'connectionsRetired' : 'deadOnBorrow');
    iam.emit('connectionRetired', message);
    publishConnectionRetired(message);
  };

  const acquirer = new Acquirer(
    core,
    {
      acquireTimeoutMs: settings.acquireTimeoutMs,
      validateAfterIdleMs: settings.validateAfterIdleMs,
      validationTimeoutMs: settings.validationTimeoutMs,
      retry: resolved.retry,
      endpoint,
    },
    lifetimes,
    {
      isEnding: () => ending,
      counts: () => counts(),
      onRetry: (failure, attempt, error) => {
        iam.count(failure === 'auth-rejected' ? 'authRetries' : 'transientRetries');
        const reason = failure === 'auth-rejected' ? 'auth-rejected' : 'transient';
        const { code, errno } = errorFacts(error);
        iam.emit('retry', { attempt, reason, code });
        publishLoginFailed({
          ...identity,
          attempt,
          reason,
          willRetry: true,
          code,
          errno,
          error: toIamError(error, endpoint),
        });
      },
      onConnectFailed: (error, attempt, countAsFailure) => {
        if (countAsFailure) iam.count('connectFailures');
        iam.emit('connectFailed', { error });
        const { code, errno } = errorFacts(error);
        publishLoginFailed({ ...identity, attempt, reason: 'final', willRetry: false, code, errno, error });
      },
      onAcquired: (ms) => iam.recordAcquireTime(ms),
      onTimeout: (error) => {
        iam.count('acquireTimeouts');
        iam.emit('acquireTimeout', { error });
        publishAcquireTimeout({ ...identity, timeoutMs: error.timeoutMs, pool: error.pool, error });
      },
      retire,
      giveBack: (connection) => {
        if (ending) quitConnection(connection);
        else connection.release();
      },
    },
  );

  const counts = (): PoolConnectionCounts => {
    const { all, free } = connectionCounts(core);
    let opening = 0;
    for (const connection of allConnections(core)) if (!lifetimes.isOpen(connection)) opening++;
    return { total: all, idle: free, borrowed: all - free - opening, opening, waiting: acquirer.waiting };
  };
  iam.attach({ counts, loginsDelayed: () => limiter.delayed });

  core.on('connection', (connection) => {
    acquirer.noteLogin();
    iam.count('connectionsOpened');
    lifetimes.opened(connection);
  });
  core.on('release', (connection) => {
    lifetimes.released(connection);
    if (ending) quitConnection(connection);
    else if (lifetimes.isRetired(connection)) retire(connection, 'max-lifetime');
  });
  core.getConnection = acquirer.getConnection.bind(acquirer) as CorePool['getConnection'];

  // Idle connections past their lifetime are closed even when nobody borrows them.
  const housekeeping =
    settings.maxLifetimeMs > 0
      ? setInterval(
          () => {
            for (const connection of freeConnections(core)) {
              if (lifetimes.isRetired(connection)) retire(connection, 'max-lifetime');
            }
          },
          Math.min(30_000, Math.max(1000, settings.maxLifetimeMs / 60)),
        )
      : undefined;
  housekeeping?.unref();

  const endCore = core.end.bind(core);
  let ended: Promise<void> | undefined;
  core.end = ((callback?: (err: NodeJS.ErrnoException | null) => void) => {
    ended ??= (async () => {
      ending = true;
      clearInterval(housekeeping);
      limiter.close(new IamPoolClosedError());
      await drainPool(core, {
        timeoutMs: settings.endTimeoutMs,
        onInterrupted: (connection) => {
          iam.count('connectionsInterrupted');
          const message: ConnectionRetiredMessage = {
            ...identity,
            reason: 'end-timeout',
            threadId: connection.threadId ?? undefined,
            ageMs: lifetimes.ageMs(connection),
          };
          iam.emit('connectionRetired', message);
          publishConnectionRetired(message);
        },
      });
      await new Promise<void>((resolve, reject) => endCore((err) => (err ? reject(err) : resolve())));
    })();
    ended.then(
      () => callback?.(null),
      (err: NodeJS.ErrnoException) => callback?.(err),
    );
  }) as CorePool['end'];

  const pool = core.promise() as IamPool;
  Object.defineProperty(pool, 'iam', { value: iam, enumerable: false });
  Object.defineProperty(core, 'iam', { value: iam, enumerable: false });
  return pool;
}

/**
 * A login can wait for its turn under the rate cap; if the server closes the socket meanwhile,
 * mysql2 has already failed the connect. The plugin's own error would then reach a connection
 * that no longer listens for errors (an unhandled rejection), so it answers nothing instead.
 */
function quietWhenClosed(plugins: Record<string, AuthPlugin>): Record<string, AuthPlugin> {
  const clearPassword = plugins.mysql_clear_password;
  if (!clearPassword) return plugins;
  return {
    ...plugins,
    mysql_clear_password: (context) => {
      const answer = clearPassword(context);
      const connection = context.connection as unknown as CorePoolConnection;
      return (data: Buffer) =>
        Promise.resolve(answer(data)).catch((error: unknown) => {
          if (isKnownDead(connection)) return null;
          throw error;
        }) as Promise<Buffer>;
    },
  };
}

function errorFacts(error: unknown): { code: string | undefined; errno: number | undefined } {
  const e = (error ?? {}) as { code?: unknown; errno?: unknown };
  return {
    code: typeof e.code === 'string' ? e.code : undefined,
    errno: typeof e.errno === 'number' ? e.errno : undefined,
  };
}
