import { EventEmitter } from 'node:events';
import type { TokenSignedInfo } from '../diagnostics.js';
import type { ResolvedIamOptions } from '../options.js';
import { TokenCache, type TokenRequest, type TokenTimes } from '../token/cache.js';
import { defaultCredentials } from '../token/default-credentials.js';
import type { LoginHooks } from './auth-plugin.js';

/** Token and login counts, kept per pool (or per set of connection options). */
export interface IamLoginStats {
  /** Tokens signed for this endpoint, user and identity, including by other pools sharing the cache. */
  tokensSigned: number;
  /** Calls to the credential provider made by those signings. */
  credentialRequests: number;
  /**
   * Logins that did not sign a token themselves: they used a cached token, or shared a signing
   * another login had started (many connections opening at once sign once, and all but the first
   * count here).
   */
  cacheHits: number;
  /** Logins the server accepted. */
  connectionsOpened: number;
  /** Logins the server refused (1045 / 1698); the token each one sent was dropped from the cache. */
  loginsRefused: number;
}

/** Events every IAM handle emits. None carries a token or a secret. */
export interface IamLoginEvents {
  /** A token was signed for this endpoint and user (by this pool, or another sharing the cache). */
  tokenSigned: [TokenSignedInfo];
  /** The server refused a login; the next login signs a fresh token. */
  loginRefused: [{ errno: number; code: string | undefined }];
}

/**
 * The IAM side of a pool or of connection options, as users see it (`pool.iam`, `options.iam`):
 * what it connects to, counts, events, the current token's times, and `invalidateToken()`.
 * A read-only view: created by the library, never by users.
 */
export interface IamHandle<
  Stats extends IamLoginStats,
  Events extends { [K in keyof Events]: unknown[] } & IamLoginEvents,
> {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly region: string;
  /** Counts since the pool (or the options) were created. */
  stats(): Stats;
  /**
   * When the token the next login would use was signed and when it expires (and whether the
   * credentials, rather than the 15-minute limit, set that expiry); undefined before the first
   * signing. Never the token itself.
   */
  token(): TokenTimes | undefined;
  /** Drops the cached token: the next login signs a new one (e.g. after rotating the IAM role). */
  invalidateToken(): void;
  on<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this;
  once<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this;
  off<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this;
  listenerCount(event: keyof Events & string): number;
}

type LoginCounter = keyof IamLoginStats;

/**
 * One login identity: the token request, the cache that holds its token, the counts and events of
 * its logins, and the hooks its auth plugin calls. Whoever built the cache, every login object on
 * it hears of the signings of its own token (the cache notifies subscribers), so a shared cache
 * reports to every pool that uses it.
 */
export class IamLogin {
  readonly request: TokenRequest;
  readonly tokens: TokenCache;
  /** What users hold (`pool.iam`); it also emits the events. */
  readonly handle: IamHandleView;
  readonly #counts: Record<LoginCounter, number> = {
    tokensSigned: 0,
    credentialRequests: 0,
    cacheHits: 0,
    connectionsOpened: 0,
    loginsRefused: 0,
  };
  /** Unsubscribe functions, per host this identity has logged in to (a failover adds instance hosts). */
  readonly #subscriptions = new Map<string, () => void>();

  constructor(resolved: ResolvedIamOptions) {
    this.handle = new IamHandleView(this);
    this.tokens =
      resolved.tokenCache ??
      new TokenCache({ clock: resolved.clock, refreshBeforeExpiryMs: resolved.refreshBeforeExpiryMs });
    this.request = {
      hostname: resolved.host,
      port: resolved.port,
      username: resolved.user,
      region: resolved.region,
      credentials: resolved.credentials ?? defaultCredentials(),
    };
    this.#requestFor(this.request.hostname);
  }

  /**
   * The token request for `host` (the endpoint itself, or an instance endpoint a pool following a
   * failover logs in to), subscribed to the cache's signings for it.
   */
  #requestFor(host: string): TokenRequest {
    const request = host === this.request.hostname ? this.request : { ...this.request, hostname: host };
    if (!this.#subscriptions.has(host)) {
      this.#subscriptions.set(
        host,
        this.tokens.subscribe(request, (info, credentialRequests) => {
          this.#counts.tokensSigned++;
          this.#counts.credentialRequests += credentialRequests;
          this.handle.emit('tokenSigned', info);
        }),
      );
    }
    return request;
  }

  /** The hooks of this identity's auth plugin. */
  hooks(): LoginHooks {
    return {
      token: async (host) => {
        const signed = await this.tokens.getSignedToken(this.#requestFor(host || this.request.hostname));
        if (signed.fromCache) this.#counts.cacheHits++;
        return signed;
      },
      refused: (host, tokenSignedAt, error) => {
        this.#counts.loginsRefused++;
        this.tokens.invalidate(this.#requestFor(host || this.request.hostname), tokenSignedAt);
        this.handle.emit('loginRefused', { errno: error.errno, code: error.code });
      },
      succeeded: () => {
        this.#counts.connectionsOpened++;
      },
    };
  }

  /** The handle, typed as the read-only view users see. */
  view<
    Stats extends IamLoginStats,
    Events extends { [K in keyof Events]: unknown[] } & IamLoginEvents,
  >(): IamHandle<Stats, Events> {
    return this.handle as unknown as IamHandle<Stats, Events>;
  }

  stats(): IamLoginStats {
    return { ...this.#counts };
  }

  tokenTimes(): TokenTimes | undefined {
    return this.tokens.tokenTimes(this.request);
  }

  invalidateToken(): void {
    this.tokens.invalidate(this.request);
  }

  /** Stops hearing of signings (the pool ended); a shared cache keeps no reference to it. */
  close(): void {
    for (const unsubscribe of this.#subscriptions.values()) unsubscribe();
    this.#subscriptions.clear();
  }
}

/**
 * The handle users hold: an EventEmitter showing one login object's identity, stats and token
 * controls, and nothing that carries a token.
 */
class IamHandleView extends EventEmitter {
  readonly #login: IamLogin;
  #extraStats: () => object = () => ({});

  constructor(login: IamLogin) {
    super();
    this.#login = login;
  }

  /** Adds what only a pool counts to stats() (set once, by the pool that owns this login). */
  extendStats(extraStats: () => object): void {
    this.#extraStats = extraStats;
  }

  get host(): string {
    return this.#login.request.hostname;
  }
  get port(): number {
    return this.#login.request.port;
  }
  get user(): string {
    return this.#login.request.username;
  }
  get region(): string {
    return this.#login.request.region;
  }

  stats(): object {
    return { ...this.#login.stats(), ...this.#extraStats() };
  }

  token(): TokenTimes | undefined {
    return this.#login.tokenTimes();
  }

  invalidateToken(): void {
    this.#login.invalidateToken();
  }
}
