import { randomUUID } from 'node:crypto';
import type { ClusterNames } from './cluster-names.js';
import { EmulatorError } from './errors.js';
import { validateNonNegative } from './faults.js';

export type InstanceRole = 'writer' | 'reader';

/** Which Aurora endpoint a listener (or a TLS server name) stands for. */
export type EndpointKind = 'cluster' | 'reader' | 'instance';

export interface ClusterEndpoint {
  kind: EndpointKind;
  /** The DNS name: tokens must name it, the certificate carries it, TLS clients send it as server name. */
  host: string;
  /** The port the emulator listens on for this endpoint (on `listenHost`). */
  port: number;
  /** For an instance endpoint: the instance identifier, which `@@aurora_server_id` returns. */
  instanceId?: string;
}

export interface ClusterInstance {
  id: string;
  host: string;
  role: InstanceRole;
  /** false while the instance is down: the old writer and the promoted reader, between failover() and the promotion. */
  available: boolean;
  /** Sessions currently relaying on this instance, whichever endpoint they came through. */
  liveSessions: number;
  /** Connections closed at once because they reached this instance while it was down. */
  refusedConnections: number;
}

export interface FailoverOptions {
  /** The reader to promote; default: the first available reader in instance order. */
  target?: string;
  /** How long the cluster has no writer (the old writer is down); default 5000 ms. */
  promotionMs?: number;
  /**
   * How long after the promotion the cluster endpoint still leads to the old writer, now a reader
   * (clients holding the old DNS answer); default 5000 ms, the TTL of Aurora's endpoint records.
   */
  dnsLagMs?: number;
}

/** One failover, with emulator-clock timestamps (ms since the epoch) of each phase. */
export interface FailoverRecord {
  from: string;
  to: string;
  startedAt: number;
  /** When the new writer started accepting writes and the old writer came back as a reader. */
  promotedAt: number | null;
  /** When the cluster endpoint started leading to the new writer. */
  dnsUpdatedAt: number | null;
}

/** A failover in progress; `promoted` and `completed` resolve with the record as it is then. */
export interface Failover {
  readonly from: string;
  readonly to: string;
  readonly promoted: Promise<FailoverRecord>;
  readonly completed: Promise<FailoverRecord>;
}

export interface ClusterTopology {
  /** The instance accepting writes; null during a promotion. */
  writer: string | null;
  /** The instance the cluster endpoint leads to (the old writer until the DNS lag has passed). */
  clusterEndpointTarget: string;
  instances: ClusterInstance[];
  failovers: FailoverRecord[];
}

/** One row of `information_schema.replica_host_status` as Aurora MySQL reports it. */
export interface TopologyRow {
  serverId: string;
  /** `MASTER_SESSION_ID` for the writer, a per-instance id for a reader. */
  sessionId: string;
  cpu: number;
  replicaLagMs: number;
  lastUpdateMs: number;
}

/** The instance a new connection reached, and its role at that moment (fixed for the session's life). */
export interface InstanceRoute {
  instanceId: string;
  readOnly: boolean;
}

export const DEFAULT_PROMOTION_MS = 5000;
export const DEFAULT_DNS_LAG_MS = 5000;
export const WRITER_SESSION_ID = 'MASTER_SESSION_ID';

interface InstanceState {
  id: string;
  host: string;
  role: InstanceRole;
  available: boolean;
  sessionId: string;
  refusedConnections: number;
}

interface Running {
  record: FailoverRecord;
  timers: NodeJS.Timeout[];
  settle: { promoted: Settlers; completed: Settlers };
}

interface Settlers {
  resolve: (record: FailoverRecord) => void;
  reject: (err: Error) => void;
}

/**
 * The roles of an emulated Aurora cluster's instances, where each endpoint leads, and failovers.
 * It owns no sockets: `cutInstance` is how it ends the sessions of an instance that goes down or
 * changes role. Every instance relays to the same backend, so there is no replication lag and a
 * committed write is visible on every instance at once.
 */
export class ClusterState {
  private readonly instances: InstanceState[];
  private clusterTarget: string;
  private readerCursor = 0;
  private running: Running | null = null;
  private readonly history: FailoverRecord[] = [];
  private stopped = false;

  constructor(
    names: ClusterNames,
    private readonly hooks: {
      now(): number;
      cutInstance(instanceId: string): void;
      liveSessions(instanceId: string): number;
    },
  ) {
    this.instances = names.instances.map((instance, i) => ({
      ...instance,
      role: i === 0 ? 'writer' : 'reader',
      available: true,
      sessionId: i === 0 ? WRITER_SESSION_ID : randomUUID(),
      refusedConnections: 0,
    }));
    this.clusterTarget = this.instances[0]!.id;
  }

  /** Where a new connection to an endpoint lands; null when that instance is down (the connection is closed). */
  route(kind: EndpointKind, instanceId?: string): InstanceRoute | null {
    const instance = this.pick(kind, instanceId);
    if (!instance) return null;
    if (!instance.available) {
      instance.refusedConnections++;
      return null;
    }
    return { instanceId: instance.id, readOnly: instance.role === 'reader' };
  }

  private pick(kind: EndpointKind, instanceId?: string): InstanceState | undefined {
    if (kind === 'instance') return this.instances.find((i) => i.id === instanceId);
    if (kind === 'cluster') return this.instances.find((i) => i.id === this.clusterTarget);
    // The reader endpoint rotates over available readers; with none it leads to the writer, as Aurora's does.
    const readers = this.instances.filter((i) => i.role === 'reader' && i.available);
    if (readers.length === 0) return this.instances.find((i) => i.role === 'writer');
    return readers[this.readerCursor++ % readers.length];
  }

  /** The rows `information_schema.replica_host_status` holds now: every instance that is up. */
  topologyRows(): TopologyRow[] {
    const now = this.hooks.now();
    return this.instances
      .filter((i) => i.available)
      .map((i) => ({ serverId: i.id, sessionId: i.sessionId, cpu: 0, replicaLagMs: 0, lastUpdateMs: now }));
  }

  snapshot(): ClusterTopology {
    const writer = this.instances.find((i) => i.role === 'writer' && i.available);
    return {
      writer: writer?.id ?? null,
      clusterEndpointTarget: this.clusterTarget,
      instances: this.instances.map((i) => ({
        id: i.id,
        host: i.host,
        role: i.role,
        available: i.available,
        liveSessions: this.hooks.liveSessions(i.id),
        refusedConnections: i.refusedConnections,
      })),
      failovers: this.history.map((r) => ({ ...r })),
    };
  }

  /**
   * Fails the writer over to a reader, the way Aurora MySQL restarts both instances: at once the
   * writer and the reader to promote go down (their sessions are cut, new connections to them
   * closed); after `promotionMs` the target is the writer and the old writer is back as a reader;
   * `dnsLagMs` later the cluster endpoint leads to the new writer. Other readers keep serving.
   */
  failover(options: FailoverOptions = {}): Failover {
    if (this.stopped) throw this.refused('the emulator has stopped');
    if (this.running) {
      throw this.refused(
        `a failover from ${this.running.record.from} to ${this.running.record.to} is still running`,
      );
    }
    const promotionMs = validateNonNegative('promotionMs', options.promotionMs ?? DEFAULT_PROMOTION_MS);
    const dnsLagMs = validateNonNegative('dnsLagMs', options.dnsLagMs ?? DEFAULT_DNS_LAG_MS);
    const from = this.instances.find((i) => i.role === 'writer')!;
    const to =
      options.target === undefined
        ? this.instances.find((i) => i.role === 'reader' && i.available)
        : this.instances.find((i) => i.id === options.target);
    if (!to) {
      throw this.refused(
        options.target === undefined
          ? 'there is no reader to promote'
          : `no instance '${options.target}' (instances: ${this.instances.map((i) => i.id).join(', ')})`,
      );
    }
    if (to === from) throw this.refused(`'${to.id}' is already the writer`);

    const record: FailoverRecord = {
      from: from.id,
      to: to.id,
      startedAt: this.hooks.now(),
      promotedAt: null,
      dnsUpdatedAt: null,
    };
    this.history.push(record);
    const deferred = () => {
      let settlers!: Settlers;
      const promise = new Promise<FailoverRecord>((resolve, reject) => {
        settlers = { resolve, reject };
      });
      // Marked as handled: a caller that never awaits it must not get an unhandled rejection on stop().
      promise.catch(() => {});
      return { promise, settlers };
    };
    const promoted = deferred();
    const completed = deferred();
    const running: Running = {
      record,
      timers: [],
      settle: { promoted: promoted.settlers, completed: completed.settlers },
    };
    this.running = running;

    // Both instances restart: their sessions are dropped and new connections refused until the promotion.
    for (const instance of [from, to]) {
      instance.available = false;
      this.hooks.cutInstance(instance.id);
    }

    running.timers.push(
      setTimeout(() => {
        from.role = 'reader';
        from.sessionId = randomUUID();
        to.role = 'writer';
        to.sessionId = WRITER_SESSION_ID;
        from.available = true;
        to.available = true;
        record.promotedAt = this.hooks.now();
        running.settle.promoted.resolve({ ...record });
        running.timers.push(
          setTimeout(() => {
            this.clusterTarget = to.id;
            record.dnsUpdatedAt = this.hooks.now();
            this.running = null;
            running.settle.completed.resolve({ ...record });
          }, dnsLagMs),
        );
      }, promotionMs),
    );
    return { from: from.id, to: to.id, promoted: promoted.promise, completed: completed.promise };
  }

  /** Cancels a running failover (its promises reject) and refuses new ones. */
  stop(): void {
    this.stopped = true;
    const running = this.running;
    this.running = null;
    if (!running) return;
    for (const timer of running.timers) clearTimeout(timer);
    const err = this.refused('the emulator stopped before the failover finished');
    running.settle.promoted.reject(err);
    running.settle.completed.reject(err);
  }

  private refused(why: string): EmulatorError {
    return new EmulatorError(
      'EMULATOR_FAILOVER_REFUSED',
      `failover refused: ${why}`,
      'Wait for the running failover (await its `completed`), and name an existing reader as `target`.',
    );
  }
}
