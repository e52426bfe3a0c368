import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { LRUCache } from 'lru-cache';
import { publishTokenSigned, type TokenSignedInfo } from '../diagnostics.js';
import { IamAuthError, IamCredentialsError, IamSigningError } from '../errors.js';
import { signAuthToken, TOKEN_LIFETIME_SECONDS } from './sign.js';

/** What a token is for. Tokens are cached per endpoint, user, region and credential provider. */
export interface TokenRequest {
  hostname: string;
  port: number;
  username: string;
  region: string;
  credentials: AwsCredentialIdentityProvider;
}

/** The times of the token a cache holds for a request; never the token itself. */
export interface TokenTimes {
  signedAt: Date;
  expiresAt: Date;
  /** True when the credentials expire before the 15 minutes a token may live. */
  limitedByCredentials: boolean;
}

export interface TokenCacheOptions {
  /** Refresh this long before expiry (capped at a third of the token's lifetime). Default 5 min. */
  refreshBeforeExpiryMs?: number;
  /** Distinct endpoint/user/identity combinations kept. Default 100. */
  maxEntries?: number;
  /** Milliseconds since the epoch. Default `Date.now`. */
  clock?: () => number;
  /** Called after each successful signing. */
  onSigned?: (info: TokenSignedInfo) => void;
}

export interface TokenCacheStats {
  tokensSigned: number;
  credentialRequests: number;
  cacheHits: number;
  signingFailures: number;
}

interface CachedToken {
  token: string;
  signedAt: number;
  expiresAt: number;
  limitedByCredentials: boolean;
}

/** @internal A token for one login, and whether that login had to wait for a signing of its own. */
export interface SignedToken {
  token: string;
  /** Identifies the token to `invalidate` (a refused login drops exactly the token it sent). */
  signedAt: number;
  /** False when this call started the signing it waited for; true when a cached (or in-flight) one served it. */
  fromCache: boolean;
}

/** @internal What a signing tells the logins subscribed to its request. */
export type SigningListener = (info: TokenSignedInfo, credentialRequests: number) => void;

/** The context of one fetch: the request, and the entry this very call signed, if it signed one. */
interface FetchContext {
  request: TokenRequest;
  signed?: CachedToken;
}

/** A login started this close to expiry could be checked by the server after it; sign anew instead. */
const MIN_REMAINING_VALIDITY_MS = 10_000;

/**
 * IAM auth tokens, signed once and shared. Built on lru-cache's `fetchMethod`, which gives the
 * two properties a pool needs: concurrent misses share one signing, and a token past its refresh
 * point is still handed out while the new one is signed in the background (stale-while-revalidate).
 * A failed refresh keeps the old, still valid token (`noDeleteOnFetchRejection`); a token past its
 * real expiry is never handed out.
 */
export class TokenCache {
  readonly #cache: LRUCache<string, CachedToken, FetchContext>;
  readonly #listeners = new Map<string, Set<SigningListener>>();
  readonly #clock: () => number;
  readonly #refreshBeforeExpiryMs: number;
  readonly #onSigned: ((info: TokenSignedInfo) => void) | undefined;
  readonly #stats: TokenCacheStats = {
    tokensSigned: 0,
    credentialRequests: 0,
    cacheHits: 0,
    signingFailures: 0,
  };

  constructor(options: TokenCacheOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#refreshBeforeExpiryMs = options.refreshBeforeExpiryMs ?? 5 * 60_000;
    this.#onSigned = options.onSigned;
    this.#cache = new LRUCache<string, CachedToken, FetchContext>({
      max: options.maxEntries ?? 100,
      ttl: TOKEN_LIFETIME_SECONDS * 1000,
      allowStale: true,
      // A failed background refresh keeps the old token; a failed first signing reaches the caller.
      noDeleteOnFetchRejection: true,
      // invalidate(), clear() or an eviction while a signing is in flight would abort it, and every
      // login waiting on it would fail with lru-cache's plain "deleted": the signing goes on
      // instead, its waiters get its (new) token, and it is not stored over what replaced it.
      ignoreFetchAbort: true,
      perf: { now: () => this.#clock() },
      fetchMethod: async (key, _stale, { options, context }) => {
        context.signed = await this.#sign(key, context.request, options);
        return context.signed;
      },
    });
  }

  /** A token valid for at least a few more seconds; signs one only when none is cached. */
  async getToken(request: TokenRequest): Promise<string> {
    return (await this.getSignedToken(request)).token;
  }

  /** @internal Like `getToken`, with what identifies this token to `invalidate`. */
  async getSignedToken(request: TokenRequest): Promise<SignedToken> {
    const key = cacheKey(request);
    const context: FetchContext = { request };
    let entry = await this.#fetch(key, { context });
    if (entry === undefined || entry.expiresAt - this.#clock() < MIN_REMAINING_VALIDITY_MS) {
      // Nothing usable: the stale entry has run out, so wait for a fresh signing.
      entry = await this.#fetch(key, { context, forceRefresh: true, allowStale: false });
    }
    if (entry === undefined) throw new IamSigningError('signing returned no token');
    // Served by a cached token, or by a signing another call started (a background refresh this
    // call started still served it the cached token).
    const fromCache = entry !== context.signed;
    if (fromCache) this.#stats.cacheHits++;
    return { token: entry.token, signedAt: entry.signedAt, fromCache };
  }

  /** lru-cache's fetch, with anything but our own typed errors turned into one. */
  async #fetch(
    key: string,
    options: LRUCache.FetchOptionsWithContext<string, CachedToken, FetchContext>,
  ): Promise<CachedToken | undefined> {
    try {
      return await this.#cache.fetch(key, options);
    } catch (cause) {
      if (cause instanceof IamAuthError) throw cause;
      throw new IamSigningError('getting a token from the cache failed', cause);
    }
  }

  /** The times of the token cached for `request` (even one past its refresh point), if any. */
  tokenTimes(request: TokenRequest): TokenTimes | undefined {
    const entry = this.#cache.peek(cacheKey(request), { allowStale: true });
    if (entry === undefined) return undefined;
    return {
      signedAt: new Date(entry.signedAt),
      expiresAt: new Date(entry.expiresAt),
      limitedByCredentials: entry.limitedByCredentials,
    };
  }

  /**
   * @internal Calls `listener` after every signing for `request`'s endpoint, user, region and
   * credentials, whoever asked for it: every pool sharing this cache hears of the signings of its
   * token. Returns the unsubscribe function.
   */
  subscribe(request: TokenRequest, listener: SigningListener): () => void {
    const key = cacheKey(request);
    let listeners = this.#listeners.get(key);
    if (listeners === undefined) {
      listeners = new Set();
      this.#listeners.set(key, listeners);
    }
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.#listeners.get(key) === listeners) this.#listeners.delete(key);
    };
  }

  /**
   * Drops the cached token, e.g. after the server refused it. With `signedAt`, only the token
   * signed then is dropped: when many connections fail with the same token, the first failure
   * replaces it and the others find the new one, so a burst of refusals causes one signing.
   */
  invalidate(request: TokenRequest, signedAt?: number): void {
    const key = cacheKey(request);
    const entry = this.#cache.peek(key, { allowStale: true });
    if (entry !== undefined && (signedAt === undefined || entry.signedAt === signedAt))
      this.#cache.delete(key);
  }

  /** Drops every cached token. */
  clear(): void {
    this.#cache.clear();
  }

  stats(): TokenCacheStats {
    return { ...this.#stats };
  }

  async #sign(
    key: string,
    request: TokenRequest,
    options: LRUCache.FetcherFetchOptions<string, CachedToken, FetchContext>,
  ): Promise<CachedToken> {
    const credentialRequestsBefore = this.#stats.credentialRequests;
    const credentials = await this.#credentials(request.credentials);
    const signedAt = this.#clock();
    let token: string;
    try {
      token = await signAuthToken({
        hostname: request.hostname,
        port: request.port,
        username: request.username,
        region: request.region,
        credentials,
        signingDate: new Date(signedAt),
      });
    } catch (cause) {
      this.#stats.signingFailures++;
      throw new IamSigningError('signing the IAM auth token failed', cause);
    }
    const tokenExpiry = signedAt + TOKEN_LIFETIME_SECONDS * 1000;
    const credentialsExpiry = credentials.expiration?.getTime() ?? Infinity;
    const expiresAt = Math.min(tokenExpiry, credentialsExpiry);
    if (!Number.isFinite(expiresAt)) {
      // Only a clock that returns something other than finite milliseconds gets here.
      throw new IamSigningError(
        `the token's expiry could not be computed (clock returned ${String(signedAt)})`,
      );
    }
    const lifetime = expiresAt - signedAt;
    const refreshAt = expiresAt - Math.min(this.#refreshBeforeExpiryMs, lifetime / 3);
    options.ttl = Math.max(1, refreshAt - signedAt);
    this.#stats.tokensSigned++;
    const limitedByCredentials = credentialsExpiry < tokenExpiry;
    const info: TokenSignedInfo = {
      hostname: request.hostname,
      port: request.port,
      username: request.username,
      region: request.region,
      signedAt: new Date(signedAt),
      expiresAt: new Date(expiresAt),
      limitedByCredentials,
    };
    // One message per signing, however many pools share this cache.
    publishTokenSigned(info);
    const credentialRequests = this.#stats.credentialRequests - credentialRequestsBefore;
    // A listener that throws (user code on `tokenSigned`) must not fail the signing every pool
    // sharing this cache waits for: its error is rethrown on its own, as diagnostics_channel does.
    isolated(() => this.#onSigned?.(info));
    for (const listener of this.#listeners.get(key) ?? []) isolated(() => listener(info, credentialRequests));
    return { token, signedAt, expiresAt, limitedByCredentials };
  }

  /**
   * Credentials from the provider; when they would expire before a token could be used for long,
   * asks the provider once more with `forceRefresh` (as @aws-sdk/rds-signer does).
   */
  async #credentials(provider: AwsCredentialIdentityProvider): Promise<AwsCredentialIdentity> {
    let credentials = await this.#callProvider(provider, {});
    const remaining = (credentials.expiration?.getTime() ?? Infinity) - this.#clock();
    if (remaining < TOKEN_LIFETIME_SECONDS * 1000) {
      try {
        const refreshed = await this.#callProvider(provider, { forceRefresh: true });
        if ((refreshed.expiration?.getTime() ?? Infinity) > (credentials.expiration?.getTime() ?? 0)) {
          credentials = refreshed;
        }
      } catch {
        // Keep the credentials we have; the token's lifetime is capped by their expiry below.
      }
    }
    if ((credentials.expiration?.getTime() ?? Infinity) - this.#clock() < MIN_REMAINING_VALIDITY_MS) {
      throw new IamCredentialsError(
        `the AWS credentials expired at ${credentials.expiration?.toISOString()} and the provider returned no newer ones`,
      );
    }
    return credentials;
  }

  async #callProvider(
    provider: AwsCredentialIdentityProvider,
    properties: { forceRefresh?: boolean },
  ): Promise<AwsCredentialIdentity> {
    this.#stats.credentialRequests++;
    let credentials: AwsCredentialIdentity;
    try {
      credentials = await (properties.forceRefresh
        ? provider(properties as Record<string, unknown>)
        : provider());
    } catch (cause) {
      throw new IamCredentialsError(`the credential provider failed: ${errorName(cause)}`, cause);
    }
    if (
      !credentials ||
      typeof credentials.accessKeyId !== 'string' ||
      typeof credentials.secretAccessKey !== 'string'
    ) {
      throw new IamCredentialsError('the credential provider returned no access key id / secret access key');
    }
    const { expiration } = credentials as { expiration?: unknown };
    // An expiry that is not a valid Date (NaN from `new Date(undefined)`, a string, a number) would
    // turn every expiry computation into NaN and keep a token long after it stopped working.
    if (expiration !== undefined && !(expiration instanceof Date && Number.isFinite(expiration.getTime()))) {
      throw new IamCredentialsError(
        `the credential provider returned an expiration that is not a valid Date (${describeExpiration(expiration)}); ` +
          'leave it undefined for credentials that do not expire',
      );
    }
    return credentials;
  }
}

/** Runs `listener`; an error it throws is rethrown on the next tick, outside the signing. */
function isolated(listener: () => void): void {
  try {
    listener();
  } catch (error) {
    process.nextTick(() => {
      throw error;
    });
  }
}

const providerIds = new WeakMap<AwsCredentialIdentityProvider, number>();
let nextProviderId = 1;

/** Cache key: endpoint, user, region and which credential provider (by identity) signs. */
function cacheKey(
  request: Omit<TokenRequest, 'credentials'> & { credentials: AwsCredentialIdentityProvider },
): string {
  let id = providerIds.get(request.credentials);
  if (id === undefined) {
    id = nextProviderId++;
    providerIds.set(request.credentials, id);
  }
  return `${request.hostname}\0${request.port}\0${request.username}\0${request.region}\0${id}`;
}

function describeExpiration(value: unknown): string {
  if (value instanceof Date) return 'an invalid Date';
  if (value === null) return 'null';
  return `a ${typeof value}`;
}

function errorName(cause: unknown): string {
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  return String(cause);
}
