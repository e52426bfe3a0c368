import { isIP } from 'node:net';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { PoolOptions } from 'mysql2';
import { describeValue as describe, IamOptionsError } from './errors.js';
import { MYSQL2_OPTION_NAMES, parseMysqlUri } from './mysql2-boundary.js';
import { DEFAULT_RETRY, type IamRetryOptions } from './retry.js';
import {
  clusterDomain,
  inferRegion,
  instanceHostPattern,
  isClusterWriterEndpoint,
  REGION_SHAPE,
} from './shared/rds-names.js';
import { checkSslOverrides, type IamSslOptions } from './tls/ssl-options.js';
import { TokenCache } from './token/cache.js';

/** mysql2 options that IAM login sets itself; a caller's value for one is refused. */
export const OWNED_BY_IAM = [
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

export type OwnedByIam = (typeof OWNED_BY_IAM)[number];

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

/** The address (TCP host and port) to dial for an endpoint name and port. */
export type ConnectTo = (host: string, port: number) => { host: string; port: number };

export interface TopologyFailoverOptions {
  /**
   * Instance endpoint names, `?` standing for the instance id: default `?.<the cluster endpoint's
   * suffix>` (`?.abc123.us-east-1.rds.amazonaws.com`), as AWS's wrappers derive it.
   */
  instanceHostPattern?: string;
  /** How often the topology is read while the pool looks for a new writer, in ms. Default 250. */
  pollIntervalMs?: number;
  /** How often it is read otherwise, in ms. Default 30000. */
  refreshIntervalMs?: number;
}

export interface IamOptions extends IamPoolBehaviourOptions {
  /**
   * Before every new connection is handed out, ask the server whether it reached the writer
   * (`SELECT @@innodb_read_only`) and replace it if not. Default: true for an Aurora cluster (writer)
   * endpoint (`<name>.cluster-<id>.<region>.rds.amazonaws.com`), whose DNS name can lead to the old,
   * now read-only, writer for a while after a failover; false for reader, custom, instance and proxy
   * endpoints and other names.
   */
  verifyWriter?: boolean;
  /**
   * Aurora: follow a failover through the cluster's topology (`information_schema.replica_host_status`)
   * and log in to the new writer's instance endpoint as soon as it is promoted, instead of waiting
   * for the cluster endpoint's DNS record to move (tokens are signed for that endpoint). Default: on
   * when `host` is a cluster (writer) endpoint and no single tunnel address (`connectHost` /
   * `connectPort`) is set, off otherwise; `false` turns it off, settings tune it. Another host
   * needs `instanceHostPattern`. A cluster without an Aurora topology (an RDS Multi-AZ DB cluster)
   * makes the pool stand down quietly. See docs/production.md, "Aurora failover".
   */
  topologyFailover?: boolean | TopologyFailoverOptions;
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
  /**
   * Where to connect for each endpoint name, when one tunnel address will not do: a pool following
   * an Aurora failover logs in to instance endpoints, and each may have its own port-forward (or, in
   * tests, the emulator's own port). Called with the endpoint name and port for every new
   * connection; the token and TLS keep the name. Instead of `connectHost` / `connectPort`.
   */
  connectTo?: ConnectTo;
  /** TLS overrides. `ca` replaces the bundled RDS CAs; verification cannot be disabled. */
  ssl?: IamSslOptions;
  /** Retry policy for failed logins and transient connect errors. */
  retry?: IamRetryOptions;
  /** Token cache tuning. */
  token?: IamTokenOptions;
  /** Milliseconds since the epoch; for tests that move time. Default `Date.now`. */
  clock?: () => number;
}

/**
 * Every mysql2 pool option passes through, except those IAM login owns. A `uri` is read as if its
 * parts were given one by one (options given directly win), and checked like them.
 */
export type IamPoolOptions = Omit<PoolOptions, OwnedByIam | 'host' | 'port' | 'user' | 'ssl'> & IamOptions;

export interface ResolvedIamOptions {
  host: string;
  port: number;
  user: string;
  region: string;
  credentials: AwsCredentialIdentityProvider | undefined;
  connectHost: string | undefined;
  connectPort: number | undefined;
  connectTo: ConnectTo | undefined;
  ssl: IamSslOptions;
  retry: Required<IamRetryOptions>;
  refreshBeforeExpiryMs: number;
  tokenCache: TokenCache | undefined;
  clock: () => number;
  verifyWriter: boolean;
  topologyFailover: Required<TopologyFailoverOptions> | undefined;
  pool: Required<IamPoolBehaviourOptions>;
  /** What goes to mysql2 untouched (a `uri` already read into the other options). */
  passThrough: Omit<PoolOptions, 'host' | 'port' | 'user' | 'ssl' | 'uri'>;
}

export const DEFAULT_PORT = 3306;
export const DEFAULT_REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
export const DEFAULT_POOL_BEHAVIOUR: Required<IamPoolBehaviourOptions> = {
  acquireTimeoutMs: 10_000,
  validateAfterIdleMs: 500,
  validationTimeoutMs: 2000,
  maxLifetimeMs: 30 * 60_000,
  maxLoginsPerSecond: 20,
  endTimeoutMs: 10_000,
};

/** Options of ours (IamOptions); everything else must be a mysql2 option. */
const IAM_OPTION_NAMES = new Set<string>([
  'host',
  'port',
  'user',
  'region',
  'credentials',
  'connectHost',
  'connectPort',
  'connectTo',
  'ssl',
  'retry',
  'token',
  'clock',
  'verifyWriter',
  'topologyFailover',
  ...Object.keys(DEFAULT_POOL_BEHAVIOUR),
]);

/** mysql2 options that exist for mysql2's own use, never a caller's. */
const MYSQL2_INTERNAL_OPTIONS = ['isServer', 'pool'];

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
    connectTo,
    ssl,
    retry,
    token,
    clock,
    verifyWriter,
    topologyFailover,
    acquireTimeoutMs,
    validateAfterIdleMs,
    validationTimeoutMs,
    maxLifetimeMs,
    maxLoginsPerSecond,
    endTimeoutMs,
    ...rest
  } = withUri(options as unknown as Record<string, unknown>) as IamPoolOptions & Record<string, unknown>;
  checkPassThrough(rest);
  const endpoint = resolveEndpoint({ host, port, user, region, connectHost, connectPort, connectTo });
  checkFunctions({ credentials, clock, verifyWriter });
  return {
    ...endpoint,
    credentials,
    ssl: checkSslOverrides(ssl),
    retry: resolveRetry(retry),
    refreshBeforeExpiryMs: resolveRefresh(token),
    tokenCache: resolveTokenCache(token),
    clock: clock ?? Date.now,
    verifyWriter: verifyWriter ?? isClusterWriterEndpoint(endpoint.host),
    topologyFailover: resolveTopologyFailover(topologyFailover, endpoint),
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

/** The mysql2 options that pass through: known names, none that IAM login owns, no debug, sane sizing. */
function checkPassThrough(rest: Record<string, unknown>): void {
  checkOptionNames(rest);
  for (const owned of OWNED_BY_IAM) {
    if (rest[owned] !== undefined) throw ownedOptionRefused(owned);
  }
  // mysql2's debug mode prints every packet as hex, the login packet with the token included.
  if (rest.debug !== undefined && rest.debug !== false) throw debugRefused();
  checkPoolSizing(rest);
}

type Endpoint = Pick<
  ResolvedIamOptions,
  'host' | 'port' | 'user' | 'region' | 'connectHost' | 'connectPort' | 'connectTo'
>;

/** What is signed into the token (host, port, user, region), and where TCP goes. */
function resolveEndpoint(given: Record<keyof Endpoint, unknown>): Endpoint {
  const host = requireString(
    'host',
    given.host,
    'Set `host` to the RDS endpoint, e.g. mydb.abc123.us-east-1.rds.amazonaws.com.',
  );
  if (isIP(host)) {
    throw new IamOptionsError(
      'host',
      `is an IP address (${host}); the token and the TLS certificate are issued for the endpoint name`,
      'Set `host` to the RDS endpoint name and `connectHost` to the IP (or tunnel) you connect through.',
    );
  }
  return {
    host,
    port: optionalPort('port', given.port) ?? DEFAULT_PORT,
    user: requireString(
      'user',
      given.user,
      'Set `user` to the database user created WITH AWSAuthenticationPlugin.',
    ),
    region: resolveRegion(host, given.region),
    ...resolveTunnel(given),
  };
}

/** connectHost / connectPort (one tunnel address) or connectTo (an address per endpoint name). */
function resolveTunnel(
  given: Record<keyof Endpoint, unknown>,
): Pick<Endpoint, 'connectHost' | 'connectPort' | 'connectTo'> {
  const { connectHost, connectPort, connectTo } = given;
  if (connectTo !== undefined) {
    if (typeof connectTo !== 'function') {
      throw new IamOptionsError(
        'connectTo',
        `must be a function (host, port) => { host, port }, got ${describe(connectTo)}`,
        'For one tunnel address, use `connectHost` / `connectPort` instead.',
      );
    }
    if (connectHost !== undefined || connectPort !== undefined) {
      throw new IamOptionsError(
        'connectTo',
        'is set beside connectHost / connectPort, which it replaces',
        'Keep one: connectTo for an address per endpoint, connectHost / connectPort for one tunnel.',
      );
    }
  }
  return {
    connectHost:
      connectHost === undefined
        ? undefined
        : requireString(
            'connectHost',
            connectHost,
            'Set `connectHost` to a host name or IP, or leave it out.',
          ),
    connectPort: optionalPort('connectPort', connectPort),
    connectTo: connectTo as ConnectTo | undefined,
  };
}

/** The options that must be functions or booleans when given. */
function checkFunctions({ credentials, clock, verifyWriter }: Record<string, unknown>): void {
  if (credentials !== undefined && typeof credentials !== 'function') {
    throw new IamOptionsError(
      'credentials',
      'must be a credential provider function',
      'Pass an AwsCredentialIdentityProvider, e.g. fromNodeProviderChain() or fromTemporaryCredentials(...); ' +
        'for static keys: async () => ({ accessKeyId, secretAccessKey }).',
    );
  }
  if (verifyWriter !== undefined && typeof verifyWriter !== 'boolean') {
    throw new IamOptionsError(
      'verifyWriter',
      `must be true or false, got ${describe(verifyWriter)}`,
      'Leave it out: it is on for Aurora cluster (writer) endpoints and off for every other endpoint.',
    );
  }
  if (clock !== undefined && typeof clock !== 'function') {
    throw new IamOptionsError(
      'clock',
      'must be a function returning milliseconds',
      'Leave `clock` out outside tests.',
    );
  }
}

/**
 * The options with a `uri` read into them, as mysql2 would read it (options given directly win), and
 * without keys whose value is undefined: every option is then checked the same way whichever route
 * it took, and mysql2 never applies a URI of its own after our checks.
 */
function withUri(options: Record<string, unknown>): Record<string, unknown> {
  const given: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (value !== undefined) given[key] = value;
  const { uri, ...rest } = given;
  if (uri === undefined) return rest;
  if (typeof uri !== 'string') {
    throw new IamOptionsError(
      'uri',
      `must be a string, got ${describe(uri)}`,
      'For example mysql://app_iam@mydb.abc123.us-east-1.rds.amazonaws.com:3306/orders.',
    );
  }
  let fromUri: Record<string, unknown>;
  try {
    fromUri = parseMysqlUri(uri);
  } catch {
    throw new IamOptionsError(
      'uri',
      'is not a valid URL',
      'For example mysql://app_iam@mydb.abc123.us-east-1.rds.amazonaws.com:3306/orders (no password: IAM signs one).',
    );
  }
  return { ...fromUri, ...rest };
}

/** Every key must be one of ours or one of mysql2's: a misspelt option is an error, not a warning. */
function checkOptionNames(rest: Record<string, unknown>): void {
  for (const key of Object.keys(rest)) {
    if (MYSQL2_INTERNAL_OPTIONS.includes(key)) {
      throw new IamOptionsError(
        key,
        'is set by mysql2 itself, never by a caller',
        'Remove it from the options.',
      );
    }
    if (IAM_OPTION_NAMES.has(key) || MYSQL2_OPTION_NAMES.has(key)) continue;
    const near = [...IAM_OPTION_NAMES, ...MYSQL2_OPTION_NAMES].find(
      (name) => name.toLowerCase() === key.toLowerCase() || name === `${key}Ms`,
    );
    throw new IamOptionsError(
      key,
      'is not an option of rds-iam-pool or mysql2',
      near ? `Did you mean \`${near}\`?` : 'Check the spelling; docs/configuration.md lists every option.',
    );
  }
}

/**
 * mysql2 coerces its pool sizing options with Number() and treats 0 as "no limit", so a string, a
 * negative number or an accidental 0 would silently make a pool that times out every query or
 * grows without bound.
 */
function checkPoolSizing(rest: Record<string, unknown>): void {
  const rules: Array<[string, number, string]> = [
    [
      'connectionLimit',
      1,
      'The most connections the pool opens; leave it out for 10. (mysql2 reads 0 as unlimited: not allowed here.)',
    ],
    ['queueLimit', 0, 'The most callers waiting for a connection; 0 = no limit (the default).'],
    ['maxIdle', 0, 'Idle connections kept; leave it out for connectionLimit.'],
    [
      'idleTimeout',
      0,
      'Milliseconds before an idle connection above maxIdle closes; leave it out for 60000.',
    ],
    ['connectTimeout', 1, 'Milliseconds to open a connection; leave it out for 10000.'],
  ];
  for (const [name, min, hint] of rules) {
    if (rest[name] !== undefined) integerIn(name, rest[name], min, Number.POSITIVE_INFINITY, hint);
  }
  const wait = rest.waitForConnections;
  if (wait !== undefined && typeof wait !== 'boolean') {
    throw new IamOptionsError(
      'waitForConnections',
      `must be true or false, got ${describe(wait)}`,
      'Leave it out for true.',
    );
  }
}

/** resolveOptions, with what only a pool needs (its connectTimeout, see below). */
export function resolvePoolOptions(options: IamPoolOptions): ResolvedIamOptions {
  return withPoolConnectTimeout(resolveOptions(options));
}

/**
 * A pool's `connectTimeout`: below `acquireTimeoutMs`, so that an attempt that hangs (TCP accepted,
 * no handshake) fails with its own error, which the borrow can retry and report as the `cause` of an
 * acquire timeout. Default: half the acquire timeout, at most mysql2's own 10 s.
 */
function withPoolConnectTimeout(resolved: ResolvedIamOptions): ResolvedIamOptions {
  const { acquireTimeoutMs } = resolved.pool;
  const given = resolved.passThrough.connectTimeout;
  if (given !== undefined && given >= acquireTimeoutMs) {
    throw new IamOptionsError(
      'connectTimeout',
      `(${given} ms) is not below acquireTimeoutMs (${acquireTimeoutMs} ms): a connect that hangs would use up ` +
        'the whole wait, with no retry and no error of its own to report',
      `Leave it out (the pool uses half of acquireTimeoutMs), or make it smaller than acquireTimeoutMs.`,
    );
  }
  const connectTimeout =
    given ?? Math.min(DEFAULT_CONNECT_TIMEOUT_MS, Math.max(1, Math.floor(acquireTimeoutMs / 2)));
  return { ...resolved, passThrough: { ...resolved.passThrough, connectTimeout } };
}

/** mysql2's own default connectTimeout. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Following the topology is on by default for an Aurora cluster (writer) endpoint: a failover then
 * costs writes about as long as the promotion, not the promotion plus the DNS record's lag. Not by
 * default behind one tunnel address (`connectHost` / `connectPort`): every instance endpoint would be
 * dialled there, so following gains nothing, and a far end whose certificate does not name the
 * instance endpoint would fail those logins' TLS check. Any other host needs it asked for, with an
 * instance host pattern in the same cluster domain.
 */
function resolveTopologyFailover(
  given: unknown,
  endpoint: Endpoint,
): Required<TopologyFailoverOptions> | undefined {
  const { host, region } = endpoint;
  const oneTunnel = endpoint.connectHost !== undefined || endpoint.connectPort !== undefined;
  if (given === false || (given === undefined && (!isClusterWriterEndpoint(host) || oneTunnel)))
    return undefined;
  if (
    given !== undefined &&
    given !== true &&
    (given === null || typeof given !== 'object' || Array.isArray(given))
  ) {
    throw new IamOptionsError(
      'topologyFailover',
      `must be true, false or an object, got ${describe(given)}`,
      'For example topologyFailover: false, or { pollIntervalMs: 250 }.',
    );
  }
  const o = (given === true || given === undefined ? {} : given) as TopologyFailoverOptions;
  if (o.instanceHostPattern === undefined && !isClusterWriterEndpoint(host)) {
    throw new IamOptionsError(
      'topologyFailover',
      `needs an Aurora cluster (writer) endpoint as host (<name>.cluster-<id>.<region>.rds.amazonaws.com), got "${host}"`,
      'Point `host` at the cluster (writer) endpoint, or give topologyFailover.instanceHostPattern (e.g. "?.abc123.us-east-1.rds.amazonaws.com").',
    );
  }
  const pattern = o.instanceHostPattern ?? (instanceHostPattern(host) as string);
  checkInstanceHostPattern(pattern, host, region);
  const ranges: Array<['pollIntervalMs' | 'refreshIntervalMs', number, number, number]> = [
    ['pollIntervalMs', 50, 10_000, 250],
    ['refreshIntervalMs', 1000, 3_600_000, 30_000],
  ];
  const resolved = { instanceHostPattern: pattern, pollIntervalMs: 250, refreshIntervalMs: 30_000 };
  for (const [name, min, max] of ranges) {
    const value = o[name];
    if (value !== undefined) {
      resolved[name] = integerIn(
        `topologyFailover.${name}`,
        value,
        min,
        max,
        'Leave it out for the default.',
      );
    }
  }
  return resolved;
}

/**
 * Instance endpoint names are built from the pattern and ids a server reports, and tokens are signed
 * for them: the pattern must put the id in the first label of a name in the cluster's own domain
 * (`?.<id>.<region>.rds.amazonaws.com`), so no answer can send a token to a host outside it.
 */
function checkInstanceHostPattern(pattern: unknown, host: string, region: string): void {
  const option = 'topologyFailover.instanceHostPattern';
  const example = `"?.abc123.${region}.rds.amazonaws.com"`;
  if (typeof pattern !== 'string' || !pattern.startsWith('?.') || pattern.indexOf('?', 1) !== -1) {
    throw new IamOptionsError(
      option,
      `must be "?." followed by the cluster's domain (the "?" stands for the instance id), got ${describe(pattern)}`,
      `For example ${example}.`,
    );
  }
  const domain = pattern.slice(2);
  const own = clusterDomain(host);
  const inDomain =
    own !== undefined
      ? domain.toLowerCase() === own.toLowerCase()
      : clusterDomain(`x.cluster-${domain}`) === domain;
  if (!inDomain || inferRegion(domain) !== region) {
    throw new IamOptionsError(
      option,
      `${describe(pattern)} is not in the cluster's domain` +
        (own === undefined ? ` (<cluster id>.${region}.rds.amazonaws.com)` : ` (${own})`),
      own === undefined
        ? `For example ${example}.`
        : `Leave it out: it is derived from the host ("?.${own}").`,
    );
  }
}

/** The region: given, or inferred from the host; a given region must match the host's. */
function resolveRegion(hostName: string, region: unknown): string {
  const inferred = inferRegion(hostName);
  const resolved = region ?? inferred;
  if (resolved === undefined) {
    throw new IamOptionsError(
      'region',
      `cannot be inferred from host "${hostName}"`,
      'Pass `region` (e.g. "us-east-1"): only *.<region>.rds.amazonaws.com names carry it.',
    );
  }
  if (typeof resolved !== 'string' || !REGION_SHAPE.test(resolved)) {
    throw new IamOptionsError(
      'region',
      // describe(): String() throws on an object without a prototype (Object.create(null)).
      `${describe(resolved)} is not an AWS region name`,
      'Use a region code such as "us-east-1" or "eu-west-3".',
    );
  }
  if (inferred !== undefined && resolved !== inferred) {
    throw new IamOptionsError(
      'region',
      `"${resolved}" contradicts the host, which is in ${inferred}: the server would refuse every token as "Access denied"`,
      `Remove \`region\` (it is inferred from the host) or set it to "${inferred}".`,
    );
  }
  return resolved;
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
    integerIn(name, value, 0, max, 'Leave it out for the default.');
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
    if (value !== undefined) r[name] = integerIn(name, value, min, max, hint);
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
  if (cache !== undefined && token?.refreshBeforeExpiryMs !== undefined) {
    throw new IamOptionsError(
      'token.refreshBeforeExpiryMs',
      'is set beside token.cache, but a shared cache refreshes on its own settings',
      'Pass it to the cache instead: new TokenCache({ refreshBeforeExpiryMs }).',
    );
  }
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
  return integerIn(
    'token.refreshBeforeExpiryMs',
    (token as IamTokenOptions).refreshBeforeExpiryMs ?? DEFAULT_REFRESH_BEFORE_EXPIRY_MS,
    0,
    15 * 60_000 - 1,
    'Tokens live 15 minutes; the default refreshes 5 minutes before expiry.',
  );
}

/**
 * A required, non-empty string without surrounding whitespace: the host and user are signed into
 * the token as given, and a stray space would sign a token no server accepts (the AWS signer
 * trims nothing either), so it is refused rather than quietly trimmed.
 */
function requireString(option: string, value: unknown, hint: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new IamOptionsError(
      option,
      value === undefined ? 'is required' : `must be a non-empty string, got ${describe(value)}`,
      hint,
    );
  }
  if (value.trim() !== value) {
    throw new IamOptionsError(option, `has whitespace around it (${describe(value)})`, `Remove it: ${hint}`);
  }
  return value;
}

/** `value` when it is an integer from `min` to `max`; throws IamOptionsError naming `option` otherwise. */
function integerIn(option: string, value: unknown, min: number, max: number, hint: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.POSITIVE_INFINITY ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new IamOptionsError(option, `must be an integer ${range}, got ${describe(value)}`, hint);
  }
  return value;
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

/** The error for a caller's value of an option IAM login sets itself. */
export function ownedOptionRefused(option: OwnedByIam): IamOptionsError {
  return new IamOptionsError(option, 'is set, but IAM login manages it', ownedHint(option));
}

/** The error for mysql2's `debug`, which prints every packet, the login packet with the token too. */
export function debugRefused(): IamOptionsError {
  return new IamOptionsError(
    'debug',
    'would print every packet, including the login packet that carries the IAM token',
    'Remove it (from the options and from any `uri`). Use pool.iam events or the rds-iam-pool ' +
      "diagnostics channels to see logins, and mysql2's own tracing channels for queries.",
  );
}

function ownedHint(option: OwnedByIam): string {
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
