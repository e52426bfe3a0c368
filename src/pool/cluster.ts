import { describeValue, IamOptionsError, IamPoolClosedError } from '../errors.js';
import { IamLogin } from '../login/login.js';
import { type IamPoolOptions, type ResolvedIamOptions, resolvePoolOptions } from '../options.js';
import { clusterDomain } from '../shared/rds-names.js';
import { TokenCache } from '../token/cache.js';
import { defaultCredentials } from '../token/default-credentials.js';
import { LoginRateLimiter } from './login-rate.js';
import { connectMonitor } from './monitor-connections.js';
import { assemblePool } from './pool-assembly.js';
import type { IamPool, IamPoolStats } from './pool-types.js';
import { AuroraTopology } from './topology.js';

/** How a reader pool reads. */
export interface IamReaderOptions {
  /** The reader pool's connections, spread over the reader instances. Default: the pool's `connectionLimit` (10). */
  connectionLimit?: number;
  /**
   * With no reader instance available (none in the cluster, or every one down), read from the
   * writer over read-only sessions (`SET SESSION TRANSACTION READ ONLY`) instead of waiting for a
   * reader. Default true: a cluster with a writer only (a development cluster, or one whose only
   * reader failed) keeps serving reads; false keeps every read off the writer, and reads wait (and
   * time out) until a reader is back.
   */
  fallbackToWriter?: boolean;
}

/** createIamCluster's options: one pool's options (host = the cluster or reader endpoint), and the reader pool's. */
export type IamClusterOptions = IamPoolOptions & { reader?: IamReaderOptions };

/** Counts of both pools of a cluster object. */
export interface IamClusterStats {
  writer: IamPoolStats;
  reader: IamPoolStats;
}

/**
 * An Aurora cluster's writer and reader pools, sharing one topology monitor, one token cache, one
 * credential provider and one login rate cap (`maxLoginsPerSecond` bounds both together).
 */
export interface IamCluster {
  /** Writes (and reads that must see them): the writer, followed through failovers. */
  readonly writer: IamPool;
  /** Reads spread evenly over the reader instances, following Auto Scaling. */
  readonly reader: IamPool;
  stats(): IamClusterStats;
  /** Ends both pools, then the topology monitor. */
  end(): Promise<void>;
}

/**
 * A writer pool and a reader pool for one Aurora cluster. `host` is the cluster (writer) endpoint or
 * the reader (`cluster-ro-`) endpoint; every other option applies to both pools (`reader` tunes the
 * reader pool). Both are real mysql2/promise pools (`IamPool`), ready for ORMs' replica support.
 */
export function createIamCluster(options: IamClusterOptions): IamCluster {
  const { reader: readerOptions, ...poolOptions } = options;
  const {
    writer: writerResolved,
    reader: readerResolved,
    readerEndpoint,
  } = resolveCluster(poolOptions, readerOptions);
  const writerLogin = new IamLogin(writerResolved);
  const { limiter, topology } = monitoredCluster(writerResolved, writerLogin);
  const shared = { limiter, topology, owns: { limiter: false, topology: false } };
  const writer = assemblePool(writerResolved, { ...shared, login: writerLogin, role: 'writer' });
  const reader = assemblePool(readerResolved, {
    ...shared,
    login: new IamLogin(readerResolved),
    role: 'reader',
    reader: { readerEndpoint, fallbackToWriter: readerOptions?.fallbackToWriter ?? true },
  });
  let ended: Promise<void> | undefined;
  return {
    writer,
    reader,
    stats: () => ({ writer: writer.iam.stats(), reader: reader.iam.stats() }),
    end: () => {
      ended ??= Promise.all([writer.end(), reader.end()]).then(() => {
        topology.close();
        limiter.close(new IamPoolClosedError());
      });
      return ended;
    },
  };
}

/**
 * The writer pool's and the reader pool's resolved options, validated once: the same identity,
 * credentials and token cache (so a refresh window costs one signing per endpoint for both), the
 * writer pool on the cluster endpoint and the reader pool named after the reader endpoint.
 */
function resolveCluster(
  options: IamPoolOptions,
  readerOptions: IamReaderOptions | undefined,
): { writer: ResolvedIamOptions; reader: ResolvedIamOptions; readerEndpoint: string } {
  const given = typeof options?.host === 'string' ? options.host : '';
  const domain = clusterDomain(given);
  const name = given.split('.')[0];
  if (domain === undefined || given.includes('.cluster-custom-')) {
    throw new IamOptionsError(
      'host',
      `must be an Aurora cluster endpoint or reader endpoint (<name>.cluster-[ro-]<id>.<region>.rds.amazonaws.com), got ${describeValue(options?.host)}`,
      'A cluster object follows the cluster topology; for one endpoint, use createIamPool().',
    );
  }
  const clusterHost = `${name}.cluster-${domain}`;
  const readerEndpoint = `${name}.cluster-ro-${domain}`;
  if (options.topologyFailover === false) {
    throw new IamOptionsError(
      'topologyFailover',
      'is false, but a cluster object reads the topology to find the writer and the readers',
      'Leave it out (or pass its settings), or use createIamPool() for a pool on one endpoint.',
    );
  }
  checkReaderOptions(readerOptions);
  // A cluster object follows the topology even behind one tunnel address (it needs the readers).
  const writer = resolvePoolOptions({
    ...options,
    host: clusterHost,
    topologyFailover: options.topologyFailover ?? true,
  });
  const shared = {
    credentials: writer.credentials ?? defaultCredentials(),
    tokenCache:
      writer.tokenCache ??
      new TokenCache({ clock: writer.clock, refreshBeforeExpiryMs: writer.refreshBeforeExpiryMs }),
  };
  const connectionLimit = readerOptions?.connectionLimit;
  const reader: ResolvedIamOptions = {
    ...writer,
    ...shared,
    host: readerEndpoint,
    verifyWriter: false,
    passThrough: { ...writer.passThrough, ...(connectionLimit === undefined ? {} : { connectionLimit }) },
  };
  return { writer: { ...writer, ...shared }, reader, readerEndpoint };
}

function checkReaderOptions(reader: unknown): void {
  if (reader === undefined) return;
  if (reader === null || typeof reader !== 'object' || Array.isArray(reader)) {
    throw new IamOptionsError(
      'reader',
      `must be an object, got ${describeValue(reader)}`,
      'For example { fallbackToWriter: false }.',
    );
  }
  const { connectionLimit, fallbackToWriter, ...unknown } = reader as IamReaderOptions &
    Record<string, unknown>;
  const [extra] = Object.keys(unknown);
  if (extra !== undefined) {
    throw new IamOptionsError(
      `reader.${extra}`,
      'is not a reader pool option',
      'The reader pool takes connectionLimit and fallbackToWriter.',
    );
  }
  if (connectionLimit !== undefined && (!Number.isInteger(connectionLimit) || connectionLimit < 1)) {
    throw new IamOptionsError(
      'reader.connectionLimit',
      `must be an integer of at least 1, got ${describeValue(connectionLimit)}`,
      'Leave it out for the same connectionLimit as the writer pool.',
    );
  }
  if (fallbackToWriter !== undefined && typeof fallbackToWriter !== 'boolean') {
    throw new IamOptionsError(
      'reader.fallbackToWriter',
      `must be true or false, got ${describeValue(fallbackToWriter)}`,
      'Leave it out for true.',
    );
  }
}

/**
 * The login cap and the topology monitor of a cluster (its logins, the pools' and the monitor's,
 * take turns under the one cap), from the writer pool's resolved options.
 */
function monitoredCluster(
  writer: ResolvedIamOptions,
  login: IamLogin,
): { limiter: LoginRateLimiter; topology: AuroraTopology } {
  const settings = writer.topologyFailover;
  if (settings === undefined) throw new Error('a cluster endpoint without topology settings');
  const limiter = new LoginRateLimiter(writer.pool.maxLoginsPerSecond);
  const topology = new AuroraTopology(
    { clusterHost: writer.host, ...settings },
    connectMonitor(writer, login, limiter, settings.pollIntervalMs),
  );
  return { limiter, topology };
}

/**
 * A reader pool on its own (with its own topology monitor and login cap): reads spread evenly over
 * the cluster's reader instances. `host` is the cluster or reader endpoint. Prefer createIamCluster
 * when the application writes too: the two pools then share the monitor, the tokens and the cap.
 */
export function createIamReaderPool(options: IamClusterOptions): IamPool {
  const { reader: readerOptions, ...poolOptions } = options;
  const {
    writer: writerResolved,
    reader: readerResolved,
    readerEndpoint,
  } = resolveCluster(poolOptions, readerOptions);
  const login = new IamLogin(readerResolved);
  const { limiter, topology } = monitoredCluster(writerResolved, login);
  return assemblePool(readerResolved, {
    login,
    limiter,
    topology,
    role: 'reader',
    reader: { readerEndpoint, fallbackToWriter: readerOptions?.fallbackToWriter ?? true },
    owns: { limiter: true, topology: true },
  });
}
