/**
 * Following an Aurora MySQL failover (the `topologyFailover` option): the pool learns the cluster's
 * instances from `information_schema.replica_host_status`, and when the writer it connects to
 * fails (or a periodic read finds another writer), finds the new writer there and sends new
 * connections to that instance's own endpoint at once, instead of waiting for the cluster
 * endpoint's DNS record to move.
 *
 * The queries are those AWS's own wrappers send (aws-advanced-nodejs-wrapper's Aurora MySQL dialect):
 * the topology query, with its 300 s freshness filter, and `@@innodb_read_only` to confirm a writer.
 * Everything a server answers is checked before it is believed: instance ids must be RDS instance
 * identifiers, a topology names exactly one writer, and at most MAX_INSTANCES instances are kept.
 */
import type { TopologyChangedMessage, TopologyInstance } from '../diagnostics.js';
import { instanceHost, isInstanceIdentifier } from '../shared/rds-names.js';
import { isReadOnly, type QueryableConnection, runOwnQuery } from './own-queries.js';

/** The topology query of aws-advanced-nodejs-wrapper's Aurora MySQL dialect, verbatim. */
export const TOPOLOGY_QUERY =
  "SELECT server_id, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END as is_writer, " +
  "cpu, REPLICA_LAG_IN_MILLISECONDS as 'lag', LAST_UPDATE_TIMESTAMP as last_update_timestamp " +
  'FROM information_schema.replica_host_status ' +
  "WHERE time_to_sec(timediff(now(), LAST_UPDATE_TIMESTAMP)) <= 300 OR SESSION_ID = 'MASTER_SESSION_ID' ";

/** Aurora clusters have at most 16 instances; more rows than this are not believed. */
export const MAX_INSTANCES = 32;

/** A search for the writer gives up after this long (AWS's wrappers wait as long for a failover). */
export const MAX_SEARCH_MS = 300_000;

/** What a pool following the topology knows of the cluster (in `pool.iam.stats().topology`). */
export interface TopologyStats {
  /**
   * 'following': the topology is read and followed; 'unavailable': the endpoint has no Aurora
   * topology (an RDS Multi-AZ DB cluster, MySQL or MariaDB), so the pool stood down and new
   * connections keep going to the endpoint it was given.
   */
  state: 'following' | 'unavailable';
  /** The writer's instance endpoint as last seen, or undefined before the topology was read. */
  writer: string | undefined;
  /** Where new connections go: the cluster endpoint, or the writer's instance endpoint after a failover. */
  target: string;
  instances: TopologyInstance[];
  /** Failovers this pool followed (a writer change it found). */
  failovers: number;
  /** True while the pool looks for a new writer. */
  searching: boolean;
}

export interface TopologyFailoverSettings {
  /** The cluster (writer) endpoint the pool was given. */
  clusterHost: string;
  /** `?.<suffix>`: the instance endpoint of instance `id` is this with `?` replaced by the id. */
  instanceHostPattern: string;
  /** How often to read the topology while looking for a new writer. */
  pollIntervalMs: number;
  /** How often to read it otherwise. */
  refreshIntervalMs: number;
}

/**
 * How long one monitor connect, and one statement on it, may take: long enough for TCP, TLS and an
 * IAM login on a busy host, short enough that a host that swallows packets holds a search up for
 * seconds, not minutes.
 */
export function monitorTimeoutMs(pollIntervalMs: number): number {
  return Math.max(2000, pollIntervalMs * 4);
}

/** A short-lived connection the topology reads through. */
export interface MonitorConnection extends QueryableConnection {
  destroy(): void;
}

/**
 * Opens a connection, logged in with IAM, to one host of the cluster, after its turn under the login
 * rate cap; undefined when that fails (or the pool is ending). Closed by the topology.
 */
export type ConnectMonitor = (host: string) => Promise<MonitorConnection | undefined>;

/** Lends an idle connection of a pool (any instance of the cluster), or undefined when none is idle. */
export type ConnectionLender = () => Promise<MonitorConnection | undefined>;

/** What the topology tells the pools that follow it. */
export interface TopologyListener {
  /** The writer is another instance now (found by a search or a periodic read, and confirmed). */
  writerChanged?(message: Omit<TopologyChangedMessage, 'host' | 'port' | 'user'>): void;
  /** A read found other instances or roles than the last one (Auto Scaling, a failover). */
  instancesChanged?(instances: TopologyInstance[]): void;
}

/** A topology read that the server refused as a statement: this endpoint has no Aurora topology. */
const NOT_AURORA = Symbol('no Aurora topology');

/**
 * The pool's view of an Aurora cluster. `target()` is the host a new connection goes to;
 * `writerMayHaveMoved()` is called on every sign that the writer is gone (a lost connection, a connect
 * failure, a read-only instance, a new connection on a reader) and starts a search for the writer,
 * one at a time and bounded (MAX_SEARCH_MS). It reads through short-lived connections that
 * `connect` opens (see monitor-connections.ts); several pools of one cluster can follow one topology.
 */
export class AuroraTopology {
  readonly #settings: TopologyFailoverSettings;
  readonly #connect: ConnectMonitor;
  readonly #listeners = new Set<TopologyListener>();
  /** Pools that lend an idle connection for a periodic read, so it costs no login. */
  readonly #lenders = new Set<ConnectionLender>();
  #state: TopologyStats['state'] = 'following';
  #target: string;
  #writer: string | undefined;
  #instances: TopologyInstance[] = [];
  #failovers = 0;
  #search: Promise<void> | undefined;
  #searchStartedAt: number | undefined;
  #refreshTimer: NodeJS.Timeout | undefined;
  #firstRead: Promise<void> | undefined;
  /** Pending sleeps, ended by close(). */
  readonly #pending = new Set<{ cancel(): void }>();
  #closed = false;

  constructor(settings: TopologyFailoverSettings, connect: ConnectMonitor) {
    this.#settings = settings;
    this.#connect = connect;
    this.#target = settings.clusterHost;
  }

  /** `listener` hears of writer and instance changes until the returned function is called. */
  follow(listener: TopologyListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * `lender` offers an idle connection for the periodic reads (replica_host_status reads the same on
   * every instance): an idle pool then reads its topology without a login. Returns what stops it.
   */
  lend(lender: ConnectionLender): () => void {
    this.#lenders.add(lender);
    return () => this.#lenders.delete(lender);
  }

  /** The instances as last read (a copy). */
  instances(): TopologyInstance[] {
    return this.#instances.map((i) => ({ ...i }));
  }

  /** How often the topology is read when no failover is being followed. */
  get refreshIntervalMs(): number {
    return this.#settings.refreshIntervalMs;
  }

  /** The host new connections log in to. */
  target(): string {
    return this.#target;
  }

  stats(): TopologyStats {
    return {
      state: this.#state,
      writer: this.#writer,
      target: this.#target,
      instances: this.#instances.map((i) => ({ ...i })),
      failovers: this.#failovers,
      searching: this.#search !== undefined,
    };
  }

  /** Read the topology now, and keep it fresh in the background (once a pool has logged in). */
  started(): void {
    if (this.#refreshTimer !== undefined || this.#closed || this.#state !== 'following') return;
    this.#refreshTimer = setInterval(() => {
      if (this.#search === undefined) void this.#refresh();
    }, this.#settings.refreshIntervalMs);
    this.#refreshTimer.unref();
    this.#firstRead = this.#refresh();
  }

  /**
   * Starts reading if no pool did yet, and resolves once the first read is over (learned, stood
   * down, or failed: a reader pool then routes by what it has).
   */
  async known(): Promise<void> {
    this.started();
    await this.#firstRead;
  }

  /** The writer may be gone: look for it (one search at a time). */
  writerMayHaveMoved(): void {
    if (this.#search !== undefined || this.#closed || this.#state !== 'following') return;
    this.#searchStartedAt = Date.now();
    this.#search = this.#searchForWriter().finally(() => {
      this.#search = undefined;
    });
  }

  /** Stops every read, sleep and timer (the pool is ending). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#refreshTimer);
    for (const pending of this.#pending) pending.cancel();
    this.#pending.clear();
  }

  /** Reads the topology from the current target; a writer it did not know is confirmed and followed. */
  async #refresh(): Promise<void> {
    const topology = (await this.#readTopology(this.#target, { anyInstance: true }))?.instances;
    if (topology === undefined || this.#closed) return;
    const writer = topology.find((i) => i.role === 'writer') as TopologyInstance;
    if (this.#writer === undefined || writer.host === this.#writer) {
      this.#learn(topology);
      return;
    }
    // Another writer than the one we know: a failover this pool did not see (it was idle, or its
    // connections survived). Followed once the new writer confirms it takes writes.
    if (await this.#isWritable(writer.host)) this.#follow(topology, writer, this.#writer);
    else this.writerMayHaveMoved();
  }

  async #searchForWriter(): Promise<void> {
    const previous = this.#writer;
    const giveUpAt = performance.now() + MAX_SEARCH_MS;
    while (!this.#closed && this.#state === 'following' && performance.now() < giveUpAt) {
      const roundStartedAt = performance.now();
      // Ask every instance we know (readers first: the old writer is likely down), then the
      // cluster endpoint; the first that answers tells us who the writer is.
      const candidates = [
        ...this.#instances.filter((i) => i.role === 'reader').map((i) => i.host),
        ...this.#instances.filter((i) => i.role === 'writer').map((i) => i.host),
        this.#settings.clusterHost,
      ];
      for (const host of candidates) {
        if (this.#closed || this.#state !== 'following') return;
        const read = await this.#readTopology(host, { confirmWriter: true });
        if (read === undefined) continue;
        const writer = read.instances.find((i) => i.role === 'writer') as TopologyInstance;
        // Confirm on the writer itself: during a promotion the table can still name the old one.
        // (When the writer answered the read itself, it was asked on the same connection.)
        if (read.writable ?? (await this.#isWritable(writer.host))) {
          this.#follow(read.instances, writer, previous);
          return;
        }
        break;
      }
      // pollIntervalMs is how often the instances are asked, from the start of one round to the
      // next: a round's reads each wait for a turn under the login cap (about 50 ms apart at the
      // default 20/s), and a pause of pollIntervalMs after them would stretch the period, and the
      // time to see a promotion, by as much again.
      await this.#sleep(Math.max(0, this.#settings.pollIntervalMs - (performance.now() - roundStartedAt)));
    }
  }

  /** New connections go to `writer`'s own endpoint from now on, whatever the cluster's DNS says. */
  #follow(topology: TopologyInstance[], writer: TopologyInstance, previous: string | undefined): void {
    this.#learn(topology);
    this.#target = writer.host;
    // A false alarm (a connection lost for another reason) finds the same writer: no event, and the
    // connections already open on that writer stay.
    if (previous === undefined || writer.host === previous) return;
    this.#failovers++;
    const message = {
      writer: writer.host,
      previousWriter: previous,
      instances: this.instances(),
      searchStartedAt: this.#searchStartedAt,
      foundAt: Date.now(),
    };
    for (const listener of this.#listeners) listener.writerChanged?.(message);
  }

  #learn(topology: TopologyInstance[]): void {
    const changed =
      topology.length !== this.#instances.length ||
      topology.some((i) => !this.#instances.some((j) => j.id === i.id && j.role === i.role));
    this.#instances = topology;
    this.#writer = (topology.find((i) => i.role === 'writer') as TopologyInstance).host;
    if (!changed) return;
    for (const listener of this.#listeners) listener.instancesChanged?.(this.instances());
  }

  /**
   * The instances `host` reports (or, with `anyInstance`, a pool's idle connection when one is lent),
   * or undefined if it did not answer with a believable topology. With `confirmWriter`, when they
   * name `host` itself as the writer, `writable` says whether it takes writes, asked on the same
   * connection: one login instead of two, right when the promoted instance is first asked.
   */
  async #readTopology(
    host: string,
    options: { anyInstance?: boolean; confirmWriter?: boolean } = {},
  ): Promise<{ instances: TopologyInstance[]; writable?: boolean } | undefined> {
    let instances: TopologyInstance[] | undefined;
    const answer = await this.#query(
      host,
      TOPOLOGY_QUERY,
      async (rows, connection) => {
        instances = this.#parseTopology(rows);
        const writer = instances?.find((i) => i.role === 'writer');
        // A lent connection may be on any instance: only a connection of our own is known to be on `host`.
        if (
          !options.confirmWriter ||
          options.anyInstance ||
          writer?.host.toLowerCase() !== host.toLowerCase()
        ) {
          return undefined;
        }
        return (await isReadOnly(connection, monitorTimeoutMs(this.#settings.pollIntervalMs))) === false;
      },
      options.anyInstance,
    );
    if (answer === NOT_AURORA) {
      this.#standDown();
      return undefined;
    }
    if (instances === undefined) return undefined;
    return answer === undefined ? { instances } : { instances, writable: answer };
  }

  #parseTopology(rows: unknown[][]): TopologyInstance[] | undefined {
    const instances: TopologyInstance[] = [];
    for (const [serverId, isWriter] of rows) {
      if (instances.length === MAX_INSTANCES) break;
      if (typeof serverId !== 'string' || !isInstanceIdentifier(serverId)) continue;
      if (instances.some((i) => i.id === serverId)) continue;
      const host = instanceHost(this.#settings.instanceHostPattern, serverId);
      instances.push({ id: serverId, host, role: Number(isWriter) === 1 ? 'writer' : 'reader' });
    }
    // One writer, or the answer is not believed (a promotion in progress, or a server making it up).
    return instances.filter((i) => i.role === 'writer').length === 1 ? instances : undefined;
  }

  /** This endpoint answered the topology query with a statement error: no Aurora topology here. */
  #standDown(): void {
    if (this.#state === 'unavailable') return;
    this.#state = 'unavailable';
    this.#target = this.#settings.clusterHost;
    clearInterval(this.#refreshTimer);
  }

  async #isWritable(host: string): Promise<boolean> {
    const connection = await this.#open(host);
    if (connection === undefined) return false;
    try {
      return (await isReadOnly(connection, monitorTimeoutMs(this.#settings.pollIntervalMs))) === false;
    } finally {
      connection.destroy();
    }
  }

  /**
   * One statement on a short-lived connection to `host`, its rows handed to `then` (which may ask
   * more on the same connection): what `then` returns, NOT_AURORA when the server refused the
   * statement itself, undefined when the connection or the statement failed otherwise.
   */
  async #query<T>(
    host: string,
    sql: string,
    then: (rows: unknown[][], connection: MonitorConnection) => Promise<T | undefined>,
    anyInstance = false,
  ): Promise<T | typeof NOT_AURORA | undefined> {
    const connection = (anyInstance ? await this.#borrow() : undefined) ?? (await this.#open(host));
    if (connection === undefined) return undefined;
    try {
      const result = await runOwnQuery(connection, sql, monitorTimeoutMs(this.#settings.pollIntervalMs));
      // The server refused the statement itself (no such table): not an Aurora cluster.
      if (result.kind === 'refused') return NOT_AURORA;
      return result.kind === 'rows' ? await then(result.rows, connection) : undefined;
    } finally {
      connection.destroy();
    }
  }

  /** An idle connection one of the pools lends, if any. */
  async #borrow(): Promise<MonitorConnection | undefined> {
    for (const lender of this.#lenders) {
      const connection = await lender().catch(() => undefined);
      if (connection !== undefined) return connection;
    }
    return undefined;
  }

  async #open(host: string): Promise<MonitorConnection | undefined> {
    if (this.#closed) return undefined;
    let connection: MonitorConnection | undefined;
    try {
      connection = await this.#connect(host);
    } catch {
      return undefined;
    }
    if (connection !== undefined && this.#closed) {
      connection.destroy();
      return undefined;
    }
    return connection;
  }

  /** Waits `ms`, or less if the topology closes meanwhile. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const pending = {
        cancel: () => {
          clearTimeout(timer);
          this.#pending.delete(pending);
          resolve();
        },
      };
      const timer = setTimeout(pending.cancel, ms);
      timer.unref();
      this.#pending.add(pending);
    });
  }
}
