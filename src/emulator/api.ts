import type {
  ClusterEndpoint,
  ClusterTopology,
  Failover,
  FailoverOptions,
  InstanceRole,
  OutageShape,
  ReaderFailureOptions,
} from './cluster.js';
import type { EngineProfileName } from './engine-profiles.js';
import type { EmulatorFaults } from './faults.js';
import type { ReaderAccountInfo } from './reader-accounts.js';
import type { IamUserMapping } from './session.js';
import type { TrustedKey } from './verify-token.js';

export interface EmulatorOptions {
  /** The real MySQL/MariaDB the emulator logs into (plaintext, mysql_native_password). */
  backend: { host: string; port: number; user: string; password?: string };
  /**
   * The RDS endpoint name it impersonates; tokens must name it and the certificate carries it.
   * In cluster mode, the cluster (writer) endpoint, `<name>.cluster-<id>.<region>.rds.amazonaws.com`.
   */
  host?: string;
  /** The port tokens must name (`host:port` in the token); not the port the emulator listens on. */
  endpointPort?: number;
  /** Defaults to the region in `host` (`….<region>.rds.amazonaws.com`). */
  region?: string;
  /**
   * Listen port; 0 (default) picks a free one. In cluster mode a non-zero port is the cluster
   * endpoint's, and the other endpoints listen on the ports after it.
   */
  port?: number;
  listenHost?: string;
  /** IAM users it accepts, each with the backend login to use (default: backend.user/password). */
  users: Record<string, IamUserMapping>;
  /** Credentials whose signatures it trusts. */
  keys: TrustedKey[];
  /** A CA to issue the server certificate from, or a complete certificate; default: generate both. */
  tls?: { caCert?: string; caKey?: string } | { cert: string; key: string; ca: string };
  /** false = never offer TLS (IAM logins are then always refused with 'not-tls'). Default true. */
  offerTls?: boolean;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  /** How far X-Amz-Date may lie in the future; default 300 s. */
  skewSeconds?: number;
  /** A client that has not finished logging in after this long is disconnected; default 10 000 ms. */
  handshakeTimeoutMs?: number;
  /**
   * Which RDS engine's greeting to present (version string, default auth plugin). Default: `mariadb`
   * for a MariaDB backend, `mysql8.0` otherwise.
   */
  engine?: EngineProfileName;
  /** Emulate an Aurora cluster: cluster, reader and instance endpoints, topology queries, failover. */
  cluster?: ClusterOptions;
}

export interface ClusterOptions {
  /** DB instances (one writer, the rest readers), 2 to 16; default 3. */
  instances?: number;
  /**
   * What a client of an instance that is down sees (failovers and failed readers may name another):
   * `'refuse'`, TCP refused on the endpoint's own port, as Aurora's restarting instances do; or
   * `'tls-cut'` (default), closed after the TLS handshake. See OutageShape.
   */
  outage?: OutageShape;
  /**
   * How long the reader endpoint keeps leading new connections to the same reader, as a cached DNS
   * record does; then the next reader in turn. Default 5000 ms (Aurora's endpoint records have a
   * 5-second TTL); 0 = a new reader for every connection.
   */
  readerRecordTtlMs?: number;
}

/** Where a reader added while the emulator runs listens. */
export interface AddReaderOptions {
  /**
   * Its DB instance identifier; default `<cluster>-instance-<n>`, n following the last instance ever
   * added. Its endpoint name is `<id>.<cluster id>.<region>.rds.amazonaws.com`.
   */
  id?: string;
  /** Its endpoint's port; default the next of the emulator's consecutive ports, or a free one when `port` was 0. */
  port?: number;
}

export interface EmulatorStats {
  loginsAccepted: number;
  /**
   * The auth plugin each client named in its first answer to the greeting, counted by name
   * (mysql2 answers MySQL 8.4's caching_sha2_password greeting differently depending on its authPlugins).
   */
  clientAuthPlugins: Record<string, number>;
  loginsRejected: Record<string, number>;
  liveSessions: number;
  connectionsAccepted: number;
  distinctTokens: number;
  /** Cluster mode: roles, where the cluster endpoint leads, and every failover with its timestamps. */
  cluster?: ClusterStats;
}

export interface ClusterStats extends ClusterTopology {
  /**
   * Aurora queries the emulator answered itself: `variables` (aurora_version, @@aurora_server_id,
   * @@innodb_read_only), `topology` (information_schema.replica_host_status), and `refused` (asked
   * about Aurora in a form it does not support; see docs/emulator.md).
   */
  auroraQueries: { variables: number; topology: number; refused: number };
}

export interface EmulatorSession {
  id: number;
  user: string;
  since: number;
  /** The endpoint name the session reached (cluster mode: cluster, reader or instance endpoint). */
  endpoint: string;
  /** Cluster mode: the instance the session runs on, and whether it is a reader's (read-only) session. */
  instanceId?: string;
  role?: InstanceRole;
}

/**
 * What an rds-iam-pool pool (or adapter) needs to log in through the emulator: spread it into
 * `createIamPool({ ...emulator.poolOptions(), user: 'app_iam', database: 'test' })`. Structurally a
 * subset of the pool's options, so the emulator does not depend on the library.
 */
export interface EmulatorPoolOptions {
  /** The RDS endpoint name it impersonates: the token names it and TLS checks the certificate against it. */
  host: string;
  /** The port tokens name (`endpointPort`), not the port it listens on. */
  port: number;
  /** Where the TCP connection goes: the emulator's listening address (127.0.0.1 when it listens on all). */
  connectHost: string;
  /** The emulator's listening port for this endpoint. */
  connectPort: number;
  /** Trust the emulator's test CA instead of the bundled RDS CAs. */
  ssl: { ca: string };
  /**
   * Cluster mode, for the cluster endpoint: follow the topology through `connectHost` anyway (a pool
   * does not by default behind one tunnel address). The emulator routes every endpoint name that
   * reaches its port by TLS server name, so the instance endpoints are reachable there.
   */
  topologyFailover?: true;
  /** The first test key it trusts, as a credential provider (a copy: changing it changes nothing). */
  credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
}

export interface Emulator {
  /** Where to connect: the listening port (in cluster mode, the cluster endpoint's). */
  port: number;
  listenHost: string;
  /** The endpoint name it impersonates (in cluster mode, the cluster endpoint). */
  host: string;
  endpointPort: number;
  region: string;
  /** The engine profile in effect, and the version string its greeting announces. */
  engine: EngineProfileName;
  serverVersion: string;
  /** PEM of the CA that signed the server certificate: what a client must trust. */
  ca: string;
  /**
   * Pool options that reach `endpoint` (default `host`; in cluster mode any cluster, reader or
   * instance endpoint name) through this emulator, with its CA and first trusted key. Throws a
   * TypeError for a name that is not one of its endpoints.
   */
  poolOptions(endpoint?: string): EmulatorPoolOptions;
  stop(): Promise<void>;
  faults: EmulatorFaults;
  stats(): EmulatorStats;
  sessions(): EmulatorSession[];
  /** Present in cluster mode only. */
  cluster?: EmulatorCluster;
}

/**
 * An emulated Aurora cluster. Every endpoint has a port of its own, and any port also serves any
 * endpoint whose name a TLS client sends as server name (mysql2 sends `host`), so one
 * `connectHost`/`connectPort` reaches them all.
 */
export interface EmulatorCluster {
  /** The cluster (writer) endpoint: follows the writer, after the DNS lag of a failover. */
  readonly endpoint: ClusterEndpoint;
  /** The reader endpoint (`cluster-ro-`): one reader per DNS record (`readerRecordTtlMs`), then the next. */
  readonly readerEndpoint: ClusterEndpoint;
  /** One endpoint per DB instance, in instance order (the first starts as the writer); follows addReader/removeReader. */
  readonly instanceEndpoints: readonly ClusterEndpoint[];
  /** The endpoint with this DNS name (case-insensitive), e.g. for a `stream` that maps host to port. */
  endpointFor(host: string): ClusterEndpoint | undefined;
  /** Roles, availability and sessions per instance, where the cluster endpoint leads, failovers so far. */
  topology(): ClusterTopology;
  /** Starts a failover (see FailoverOptions); refuses with EMULATOR_FAILOVER_REFUSED while one runs. */
  failover(options?: FailoverOptions): Failover;
  /**
   * Aurora Auto Scaling adds a replica: a reader with an endpoint of its own, in the topology and
   * taking reader-endpoint connections once it listens (when the promise resolves). At most 16 instances.
   */
  addReader(options?: AddReaderOptions): Promise<ClusterEndpoint>;
  /**
   * Aurora Auto Scaling removes a replica: its sessions are closed, its endpoint port closes for
   * good (TCP refused), a connection naming it by TLS server name is closed, and it leaves the topology.
   */
  removeReader(id: string): void;
  /**
   * A reader fails, without a failover: its sessions are cut and new connections refused or cut
   * (`outage`), it leaves the topology, until `recoverReader(id)` or `recoverAfterMs`.
   */
  failReader(id: string, options?: ReaderFailureOptions): void;
  /** A failed reader comes back (as a reader). */
  recoverReader(id: string): void;
  /** The read-only backend accounts reader sessions log in as, one per backend account in use. */
  readonly readerAccounts: readonly ReaderAccountInfo[];
}

/** What `startEmulator` returns when `cluster` is given. */
export interface ClusterEmulator extends Emulator {
  cluster: EmulatorCluster;
}
