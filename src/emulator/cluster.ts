import { randomUUID } from 'node:crypto';
import type { ClusterNames } from './cluster-names.js';
import { EmulatorError } from './errors.js';
import { validateNonNegative } from './faults.js';

export type InstanceRole = 'writer' | 'reader';

/** Which Aurora endpoint a listener (or a TLS server name) stands for. */
export type EndpointKind = 'cluster' | 'reader' | 'instance';

/**
 * What a client sees of an instance that is down (restarting in a failover, or a failed reader):
 *
 * - `'refuse'`: the instance refuses TCP, as Aurora's restarting instances do. Its own endpoint port
 *   stops listening (`ECONNREFUSED`), and so does the port of the cluster or reader endpoint while
 *   that endpoint leads to it (a client holding that DNS answer reaches the down instance).
 * - `'tls-cut'`: every port keeps accepting; a connection that reaches the down instance is closed
 *   right after the TLS handshake. What a client behind a tunnel or proxy (`connectHost`) sees, and
 *   the only shape a connection routed by TLS server name through another endpoint's port can see.
 */
export type OutageShape = 'refuse' | 'tls-cut';

export const OUTAGE_SHAPES: readonly OutageShape[] = ['refuse', 'tls-cut'];

/**
 * `'tls-cut'`: it keeps working for clients that reach every endpoint through one port by TLS server
 * name (the set-up the emulator's docs and a `connectHost` tunnel use), where a refused port would
 * also refuse the endpoints that are up.
 */
export const DEFAULT_OUTAGE: OutageShape = 'tls-cut';

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
  /** false while the instance is down (restarting in a failover, a failed reader) or still being added. */
  available: boolean;
  /** Why it is down: the outage shape its clients see; null while it is up (or still being added). */
  outage: OutageShape | null;
  /** Sessions currently relaying on this instance, whichever endpoint they came through. */
  liveSessions: number;
  /** Logins accepted on this instance since it was added. */
  logins: number;
  /** Statements its sessions sent (COM_QUERY and COM_STMT_EXECUTE), answered by the backend or the emulator. */
  queries: number;
  /**
   * Connections closed after the TLS handshake because they reached this instance while it was down.
   * Connections refused at TCP (outage `'refuse'`) never reach the emulator and are not counted.
   */
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
  /** What clients of the two restarting instances see; default: the cluster's `outage` option. */
  outage?: OutageShape;
}

export interface ReaderFailureOptions {
  /** What its clients see while it is down; default: the cluster's `outage` option. */
  outage?: OutageShape;
  /** Comes back by itself after this many ms; default: stays down until `recoverReader()`. */
  recoverAfterMs?: number;
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
  /**
   * The instance the reader endpoint's current DNS record names, while that record is fresh; null
   * when the next connection will pick a new one.
   */
  readerEndpointTarget: string | null;
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
/**
 * How long the reader endpoint keeps leading new connections to the same reader: the 5-second TTL
 * of Aurora's endpoint records, during which a client (or its resolver) reuses the answer it got.
 */
export const DEFAULT_READER_RECORD_TTL_MS = 5000;
/** One writer and fifteen Aurora Replicas: Aurora's limit per cluster. */
export const MAX_INSTANCES = 16;
export const WRITER_SESSION_ID = 'MASTER_SESSION_ID';

/** An RDS DB instance identifier: 1-63 letters, digits or hyphens, a letter first, no `--`, no trailing `-`. */
const INSTANCE_ID = /^[a-z](?:[a-z0-9]|-(?!-)){0,62}$/i;

interface InstanceState {
  id: string;
  host: string;
  role: InstanceRole;
  /** Null while up; the outage shape while down. */
  down: OutageShape | null;
  /** Added but its endpoint not listening yet: not routable, not in the topology. */
  creating: boolean;
  sessionId: string;
  refusedConnections: number;
  logins: number;
  queries: number;
  recoverTimer: NodeJS.Timeout | undefined;
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

/** The reader endpoint's DNS answer: the instance it names, and when (emulator clock) it was given. */
interface ReaderRecord {
  instanceId: string;
  givenAt: number;
}

export interface ClusterStateOptions {
  /** The default outage shape (failovers and failed readers may name another). */
  outage: OutageShape;
  readerRecordTtlMs: number;
}

export interface ClusterHooks {
  now(): number;
  /** Ends every session on the instance (it went down, or was removed). */
  cutInstance(instanceId: string): void;
  liveSessions(instanceId: string): number;
  /** Something changed that may open or close an endpoint's port (see `acceptsTcp`). */
  changed(): void;
}

const available = (i: InstanceState) => i.down === null && !i.creating;

/**
 * The roles of an emulated Aurora cluster's instances, which are up, where each endpoint leads, and
 * failovers, reader failures and Auto Scaling. It owns no sockets: `cutInstance` is how it ends the
 * sessions of an instance that goes down, and `changed` tells the owner of the listeners to look at
 * `acceptsTcp` again. Every instance relays to the same backend, so there is no replication lag and
 * a committed write is visible on every instance at once.
 */
export class ClusterState {
  private readonly instances: InstanceState[];
  private clusterTarget: string;
  private readerRecord: ReaderRecord | null = null;
  private readerRecordTimer: { record: ReaderRecord; timer: NodeJS.Timeout } | undefined;
  private running: Running | null = null;
  private readonly history: FailoverRecord[] = [];
  private stopped = false;
  /** Instances ever added, so an added instance's default name and port follow the last one's. */
  private ordinal: number;

  constructor(
    private readonly names: ClusterNames,
    private readonly options: ClusterStateOptions,
    private readonly hooks: ClusterHooks,
  ) {
    this.instances = names.instances.map((instance, i) =>
      this.newInstance(instance, i === 0 ? 'writer' : 'reader'),
    );
    this.ordinal = this.instances.length;
    this.clusterTarget = this.instances[0]!.id;
  }

  private newInstance(names: { id: string; host: string }, role: InstanceRole): InstanceState {
    return {
      ...names,
      role,
      down: null,
      creating: false,
      sessionId: role === 'writer' ? WRITER_SESSION_ID : randomUUID(),
      refusedConnections: 0,
      logins: 0,
      queries: 0,
      recoverTimer: undefined,
    };
  }

  /** Where a new connection to an endpoint lands; null when that instance is down or gone (the connection is closed). */
  route(kind: EndpointKind, instanceId?: string): InstanceRoute | null {
    const instance = this.pick(kind, instanceId);
    if (!instance || instance.creating) return null;
    if (instance.down !== null) {
      instance.refusedConnections++;
      return null;
    }
    return { instanceId: instance.id, readOnly: instance.role === 'reader' };
  }

  /**
   * Whether an endpoint's own port accepts TCP now: not while the instance it leads to is down with
   * outage `'refuse'` (nor ever again once an instance endpoint's instance has been removed).
   */
  acceptsTcp(endpoint: Pick<ClusterEndpoint, 'kind' | 'instanceId'>): boolean {
    if (endpoint.kind === 'instance') {
      const instance = this.find(endpoint.instanceId);
      return instance !== undefined && instance.down !== 'refuse';
    }
    if (endpoint.kind === 'cluster') return this.find(this.clusterTarget)?.down !== 'refuse';
    const record = this.freshReaderRecord();
    if (!record) return true;
    if (this.find(record.instanceId)?.down !== 'refuse') return true;
    // Closed until the record expires: then the next connection gets another reader.
    this.scheduleReaderRecordExpiry(record);
    return false;
  }

  private find(id: string | undefined): InstanceState | undefined {
    return this.instances.find((i) => i.id === id);
  }

  private pick(kind: EndpointKind, instanceId?: string): InstanceState | undefined {
    if (kind === 'instance') return this.find(instanceId);
    if (kind === 'cluster') return this.find(this.clusterTarget);
    return this.readerEndpointInstance();
  }

  /**
   * The reader endpoint answers like a DNS record with a TTL: one instance for `readerRecordTtlMs`
   * (whatever happens to it meanwhile: a client holding the record reaches it even if it is down or
   * has been promoted), then the next available reader in instance order. With no reader up it
   * leads to the writer, as Aurora's reader endpoint does for a cluster without replicas.
   */
  private readerEndpointInstance(): InstanceState | undefined {
    const fresh = this.freshReaderRecord();
    if (fresh) return this.find(fresh.instanceId);
    const previous = this.readerRecord
      ? this.instances.findIndex((i) => i.id === this.readerRecord!.instanceId)
      : -1;
    const readers = this.instances.filter((i) => i.role === 'reader' && available(i));
    // Round robin: the first reader after the previous record's instance, in instance order.
    const next =
      readers.find((r) => this.instances.indexOf(r) > previous) ??
      readers[0] ??
      this.instances.find((i) => i.role === 'writer' && available(i));
    if (!next) {
      this.readerRecord = null;
      return undefined;
    }
    this.readerRecord = { instanceId: next.id, givenAt: this.hooks.now() };
    return next;
  }

  private freshReaderRecord(): ReaderRecord | null {
    const record = this.readerRecord;
    if (!record || !this.find(record.instanceId)) return null;
    const age = this.hooks.now() - record.givenAt;
    // A clock moved backwards (faults.reset() after shiftClock) also ends the record.
    return age >= 0 && age < this.options.readerRecordTtlMs ? record : null;
  }

  /** Looks at the ports again when the record expires (nothing else would, with the reader port closed). */
  private scheduleReaderRecordExpiry(record: ReaderRecord): void {
    if (this.stopped || this.readerRecordTimer?.record === record) return;
    clearTimeout(this.readerRecordTimer?.timer);
    const left = Math.max(0, record.givenAt + this.options.readerRecordTtlMs - this.hooks.now());
    this.readerRecordTimer = {
      record,
      timer: setTimeout(() => {
        this.readerRecordTimer = undefined;
        this.hooks.changed();
      }, left + 1),
    };
  }

  /** Counted per instance for `topology()`: a login accepted there. */
  countLogin(instanceId: string): void {
    const instance = this.find(instanceId);
    if (instance) instance.logins++;
  }

  /** Counted per instance for `topology()`: a statement sent by one of its sessions. */
  countQuery(instanceId: string): void {
    const instance = this.find(instanceId);
    if (instance) instance.queries++;
  }

  /** The rows `information_schema.replica_host_status` holds now: every instance that is up. */
  topologyRows(): TopologyRow[] {
    const now = this.hooks.now();
    return this.instances
      .filter(available)
      .map((i) => ({ serverId: i.id, sessionId: i.sessionId, cpu: 0, replicaLagMs: 0, lastUpdateMs: now }));
  }

  snapshot(): ClusterTopology {
    const writer = this.instances.find((i) => i.role === 'writer' && available(i));
    return {
      writer: writer?.id ?? null,
      clusterEndpointTarget: this.clusterTarget,
      readerEndpointTarget: this.freshReaderRecord()?.instanceId ?? null,
      instances: this.instances
        .filter((i) => !i.creating)
        .map((i) => ({
          id: i.id,
          host: i.host,
          role: i.role,
          available: available(i),
          outage: i.down,
          liveSessions: this.hooks.liveSessions(i.id),
          logins: i.logins,
          queries: i.queries,
          refusedConnections: i.refusedConnections,
        })),
      failovers: this.history.map((r) => ({ ...r })),
    };
  }

  /**
   * Aurora Auto Scaling adding a replica: a new reader, not routable until `readerReady` (its endpoint
   * listens). Returns its name and the ordinal its default port follows from.
   */
  addReader(id?: string): { id: string; host: string; ordinal: number } {
    if (this.stopped) throw this.refused('add', 'the emulator has stopped');
    if (this.instances.length >= MAX_INSTANCES) {
      throw this.refused('add', `the cluster already has ${MAX_INSTANCES} instances, Aurora's limit`);
    }
    const ordinal = this.ordinal + 1;
    const instanceId = id ?? this.names.instanceId(ordinal);
    if (!INSTANCE_ID.test(instanceId)) {
      throw new TypeError(
        `'${instanceId}' is not an RDS DB instance identifier (1-63 letters, digits or hyphens, a letter first, no '--', no trailing '-')`,
      );
    }
    if (this.instances.some((i) => i.id.toLowerCase() === instanceId.toLowerCase())) {
      throw this.refused('add', `there is already an instance '${instanceId}'`);
    }
    const instance = this.newInstance(
      { id: instanceId, host: this.names.instanceHost(instanceId) },
      'reader',
    );
    instance.creating = true;
    this.ordinal = ordinal;
    this.instances.push(instance);
    return { id: instance.id, host: instance.host, ordinal };
  }

  /** The added reader's endpoint listens: it is routable and in the topology from now on. */
  readerReady(id: string): void {
    const instance = this.find(id);
    if (!instance) return;
    instance.creating = false;
    this.hooks.changed();
  }

  /** Forgets an instance that never became ready (its port could not be opened). */
  forgetReader(id: string): void {
    const at = this.instances.findIndex((i) => i.id === id && i.creating);
    if (at >= 0) this.instances.splice(at, 1);
  }

  /**
   * Aurora Auto Scaling removing a replica: its sessions are closed, its endpoint refuses new
   * connections, and it leaves the topology. Not the writer, nor an instance in a running failover.
   */
  removeReader(id: string): void {
    const instance = this.readerFor('remove', id);
    clearTimeout(instance.recoverTimer);
    this.instances.splice(this.instances.indexOf(instance), 1);
    if (this.readerRecord?.instanceId === id) this.readerRecord = null;
    this.hooks.cutInstance(id);
    this.hooks.changed();
  }

  /**
   * A reader fails (no failover): its sessions are cut and it is down, out of the topology, until
   * `recoverReader(id)` or `recoverAfterMs`. The reader endpoint's record may still name it until it
   * expires, as a client's cached DNS answer does.
   */
  failReader(id: string, options: ReaderFailureOptions = {}): void {
    const instance = this.readerFor('fail', id);
    if (instance.down !== null) throw this.refused('fail', `'${id}' is already down`);
    const outage = validateOutage(options.outage ?? this.options.outage);
    const recoverAfterMs =
      options.recoverAfterMs === undefined
        ? undefined
        : validateNonNegative('recoverAfterMs', options.recoverAfterMs);
    instance.down = outage;
    this.hooks.cutInstance(id);
    if (recoverAfterMs !== undefined) {
      instance.recoverTimer = setTimeout(() => this.recoverReader(id), recoverAfterMs);
    }
    this.hooks.changed();
  }

  /** A failed reader is back: available again as a reader. Does nothing for an instance that is up. */
  recoverReader(id: string): void {
    const instance = this.find(id);
    if (!instance) throw this.refused('recover', this.noSuchInstance(id));
    if (this.running && (this.running.record.from === id || this.running.record.to === id)) {
      throw this.refused('recover', `'${id}' is restarting in a failover`);
    }
    clearTimeout(instance.recoverTimer);
    instance.recoverTimer = undefined;
    if (instance.down === null) return;
    instance.down = null;
    this.hooks.changed();
  }

  /** A reader that `what` may be done to: exists, is a reader, and is not part of a running failover. */
  private readerFor(what: 'remove' | 'fail', id: string): InstanceState {
    if (this.stopped) throw this.refused(what, 'the emulator has stopped');
    const instance = this.find(id);
    if (!instance || instance.creating) throw this.refused(what, this.noSuchInstance(id));
    if (this.running && (this.running.record.from === id || this.running.record.to === id)) {
      throw this.refused(what, `'${id}' is restarting in a failover`);
    }
    if (instance.role === 'writer') {
      throw this.refused(what, `'${id}' is the writer (fail it over first: failover())`);
    }
    return instance;
  }

  private noSuchInstance(id: string): string {
    return `no instance '${id}' (instances: ${this.instances.map((i) => i.id).join(', ')})`;
  }

  /**
   * Fails the writer over to a reader, the way Aurora MySQL restarts both instances: at once the
   * writer and the reader to promote go down (their sessions are cut, new connections to them
   * refused or cut, per `outage`); after `promotionMs` the target is the writer and the old writer
   * is back as a reader; `dnsLagMs` later the cluster endpoint leads to the new writer. Other
   * readers keep serving.
   */
  failover(options: FailoverOptions = {}): Failover {
    if (this.stopped) throw this.refused('failover', 'the emulator has stopped');
    if (this.running) {
      throw this.refused(
        'failover',
        `a failover from ${this.running.record.from} to ${this.running.record.to} is still running`,
      );
    }
    const promotionMs = validateNonNegative('promotionMs', options.promotionMs ?? DEFAULT_PROMOTION_MS);
    const dnsLagMs = validateNonNegative('dnsLagMs', options.dnsLagMs ?? DEFAULT_DNS_LAG_MS);
    const outage = validateOutage(options.outage ?? this.options.outage);
    const from = this.instances.find((i) => i.role === 'writer')!;
    const to =
      options.target === undefined
        ? this.instances.find((i) => i.role === 'reader' && available(i))
        : this.find(options.target);
    if (!to || to.creating) {
      throw this.refused(
        'failover',
        options.target === undefined ? 'there is no reader to promote' : this.noSuchInstance(options.target),
      );
    }
    if (to === from) throw this.refused('failover', `'${to.id}' is already the writer`);
    if (to.down !== null) throw this.refused('failover', `'${to.id}' is down (recoverReader() it first)`);

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
      instance.down = outage;
      this.hooks.cutInstance(instance.id);
    }
    this.hooks.changed();

    running.timers.push(
      setTimeout(() => {
        from.role = 'reader';
        from.sessionId = randomUUID();
        to.role = 'writer';
        to.sessionId = WRITER_SESSION_ID;
        from.down = null;
        to.down = null;
        record.promotedAt = this.hooks.now();
        this.hooks.changed();
        running.settle.promoted.resolve({ ...record });
        running.timers.push(
          setTimeout(() => {
            this.clusterTarget = to.id;
            record.dnsUpdatedAt = this.hooks.now();
            this.running = null;
            this.hooks.changed();
            running.settle.completed.resolve({ ...record });
          }, dnsLagMs),
        );
      }, promotionMs),
    );
    return { from: from.id, to: to.id, promoted: promoted.promise, completed: completed.promise };
  }

  /** Cancels a running failover (its promises reject), clears every timer, and refuses what follows. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.readerRecordTimer?.timer);
    for (const instance of this.instances) clearTimeout(instance.recoverTimer);
    const running = this.running;
    this.running = null;
    if (!running) return;
    for (const timer of running.timers) clearTimeout(timer);
    const err = this.refused('failover', 'the emulator stopped before the failover finished');
    running.settle.promoted.reject(err);
    running.settle.completed.reject(err);
  }

  private refused(what: 'failover' | 'add' | 'remove' | 'fail' | 'recover', why: string): EmulatorError {
    if (what === 'failover') {
      return new EmulatorError(
        'EMULATOR_FAILOVER_REFUSED',
        `failover refused: ${why}`,
        'Wait for the running failover (await its `completed`), and name an existing reader that is up as `target`.',
      );
    }
    const verb = {
      add: 'adding a reader',
      remove: 'removing a reader',
      fail: 'failing a reader',
      recover: 'recovering a reader',
    }[what];
    return new EmulatorError(
      'EMULATOR_CLUSTER_CHANGE_REFUSED',
      `${verb} refused: ${why}`,
      'Name an existing reader (emulator.cluster.topology().instances); the writer changes only by failover(), and instances in a running failover only when it has completed.',
    );
  }
}

export function validateOutage(outage: OutageShape): OutageShape {
  if (!OUTAGE_SHAPES.includes(outage)) {
    throw new TypeError(
      `outage must be one of ${OUTAGE_SHAPES.map((s) => `'${s}'`).join(', ')}, got '${String(outage)}'`,
    );
  }
  return outage;
}
