/**
 * Topology-aware failover for Aurora MySQL (the `topologyFailover` option): the pool learns the
 * cluster's instances from `information_schema.replica_host_status`, and when the writer it
 * connects to fails, finds the new writer there and sends new connections to that instance's own
 * endpoint at once, instead of waiting for the cluster endpoint's DNS record to move.
 *
 * The queries are those AWS's own wrappers send (aws-advanced-nodejs-wrapper's Aurora MySQL dialect):
 * the topology query, with its 300 s freshness filter, and `@@innodb_read_only` to confirm a writer.
 */
import type { Connection, ConnectionOptions, RowDataPacket } from 'mysql2';
import mysql from 'mysql2';
import type { TopologyChangedMessage, TopologyInstance } from '../diagnostics.js';

/** The topology query of aws-advanced-nodejs-wrapper's Aurora MySQL dialect, verbatim. */
export const TOPOLOGY_QUERY =
  "SELECT server_id, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END as is_writer, " +
  "cpu, REPLICA_LAG_IN_MILLISECONDS as 'lag', LAST_UPDATE_TIMESTAMP as last_update_timestamp " +
  'FROM information_schema.replica_host_status ' +
  "WHERE time_to_sec(timediff(now(), LAST_UPDATE_TIMESTAMP)) <= 300 OR SESSION_ID = 'MASTER_SESSION_ID' ";

/** What a pool with `topologyFailover` knows of the cluster (in `pool.iam.stats().topology`). */
export interface TopologyStats {
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

/** Opens a connection, logged in with IAM, to one host of the cluster. */
export type OpenMonitorConnection = (host: string) => ConnectionOptions;

export interface TopologyHooks {
  changed(message: Omit<TopologyChangedMessage, 'host' | 'port' | 'user'>): void;
}

/**
 * The pool's view of the cluster. `target()` is the host a new connection goes to; `suspect()`
 * is called on every sign that the writer is gone (a lost connection, a connect failure, a
 * read-only error, a new connection on a reader) and starts a search for the writer, one at a time.
 */
export class AuroraTopology {
  readonly #settings: TopologyFailoverSettings;
  readonly #optionsFor: OpenMonitorConnection;
  readonly #hooks: TopologyHooks;
  #target: string;
  #writer: string | undefined;
  #instances: TopologyInstance[] = [];
  #failovers = 0;
  #search: Promise<void> | undefined;
  #searchStartedAt: number | undefined;
  #refreshTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(settings: TopologyFailoverSettings, optionsFor: OpenMonitorConnection, hooks: TopologyHooks) {
    this.#settings = settings;
    this.#optionsFor = optionsFor;
    this.#hooks = hooks;
    this.#target = settings.clusterHost;
  }

  /** The host new connections log in to. */
  target(): string {
    return this.#target;
  }

  stats(): TopologyStats {
    return {
      writer: this.#writer,
      target: this.#target,
      instances: this.#instances.map((i) => ({ ...i })),
      failovers: this.#failovers,
      searching: this.#search !== undefined,
    };
  }

  /** The first connection logged in: read the topology, and keep it fresh in the background. */
  started(): void {
    if (this.#refreshTimer !== undefined || this.#closed) return;
    void this.#refresh();
    this.#refreshTimer = setInterval(() => {
      if (this.#search === undefined) void this.#refresh();
    }, this.#settings.refreshIntervalMs);
    this.#refreshTimer.unref();
  }

  /** The writer may be gone: look for the writer (once at a time) until one answers. */
  suspect(): void {
    if (this.#search !== undefined || this.#closed) return;
    this.#searchStartedAt = Date.now();
    this.#search = this.#searchForWriter().finally(() => {
      this.#search = undefined;
    });
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#refreshTimer);
  }

  /** Reads the topology from the current target; quietly keeps what it knew on failure. */
  async #refresh(): Promise<void> {
    const topology = await this.#readTopology(this.#target);
    if (topology) this.#learn(topology);
  }

  async #searchForWriter(): Promise<void> {
    const previous = this.#writer;
    while (!this.#closed) {
      // Ask every instance we know (readers first: the old writer is likely down), then the
      // cluster endpoint; the first that answers tells us who the writer is.
      const candidates = [
        ...this.#instances.filter((i) => i.role === 'reader').map((i) => i.host),
        ...this.#instances.filter((i) => i.role === 'writer').map((i) => i.host),
        this.#settings.clusterHost,
      ];
      for (const host of candidates) {
        if (this.#closed) return;
        const topology = await this.#readTopology(host);
        if (topology === undefined) continue;
        const writer = topology.find((i) => i.role === 'writer');
        if (writer === undefined) continue;
        // Confirm on the writer itself: during a promotion the table can still name the old one.
        if (await this.#isWritable(writer.host)) {
          this.#learn(topology);
          // New connections go to the writer's own endpoint from now on: it reaches the writer
          // whatever the cluster endpoint's DNS says (it may still lead to a reader).
          this.#target = writer.host;
          // A false alarm (a connection lost for another reason) finds the same writer: no event, and
          // the connections already open (on that writer) stay.
          if (previous !== undefined && writer.host !== previous) {
            this.#failovers++;
            this.#hooks.changed({
              writer: writer.host,
              previousWriter: previous,
              instances: this.#instances.map((i) => ({ ...i })),
              searchStartedAt: this.#searchStartedAt,
              foundAt: Date.now(),
            });
          }
          return;
        }
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, this.#settings.pollIntervalMs).unref());
    }
  }

  #learn(topology: TopologyInstance[]): void {
    this.#instances = topology;
    this.#writer = topology.find((i) => i.role === 'writer')?.host ?? this.#writer;
  }

  async #readTopology(host: string): Promise<TopologyInstance[] | undefined> {
    const rows = await this.#query(host, TOPOLOGY_QUERY);
    if (rows === undefined || rows.length === 0) return undefined;
    return rows.map((row) => {
      const id = String(row.server_id);
      return {
        id,
        host: this.#settings.instanceHostPattern.replace('?', id),
        role: Number(row.is_writer) === 1 ? 'writer' : 'reader',
      };
    });
  }

  async #isWritable(host: string): Promise<boolean> {
    const rows = await this.#query(host, 'SELECT @@innodb_read_only AS read_only');
    return rows !== undefined && Number(rows[0]?.read_only) === 0;
  }

  /** One statement on a short-lived connection to `host`; undefined if anything fails. */
  async #query(host: string, sql: string): Promise<RowDataPacket[] | undefined> {
    const timeoutMs = Math.max(500, this.#settings.pollIntervalMs * 4);
    let connection: Connection | undefined;
    try {
      connection = mysql.createConnection({ ...this.#optionsFor(host), connectTimeout: timeoutMs });
      connection.on('error', () => {});
      const opened = connection;
      return await new Promise<RowDataPacket[] | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), timeoutMs);
        opened.query<RowDataPacket[]>({ sql, timeout: timeoutMs }, (err, rows) => {
          clearTimeout(timer);
          resolve(err ? undefined : rows);
        });
      });
    } catch {
      return undefined;
    } finally {
      connection?.destroy();
    }
  }
}
