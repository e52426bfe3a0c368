import { createServer, type Server, type Socket } from 'node:net';
import type { AuroraFacts } from './aurora-queries.js';
import type { ClusterEndpoint, ClusterState, EndpointKind } from './cluster.js';
import type { ClusterNames } from './cluster-names.js';
import type { Route } from './session.js';

/** An endpoint before it listens. */
export interface EndpointSpec {
  kind: EndpointKind;
  host: string;
  instanceId?: string;
}

/** The endpoints to listen for: one in single-instance mode, cluster + reader + one per instance otherwise. */
export function endpointSpecs(host: string, names: ClusterNames | undefined): EndpointSpec[] {
  if (!names) return [{ kind: 'instance', host }];
  return [
    { kind: 'cluster', host: names.cluster },
    { kind: 'reader', host: names.reader },
    ...names.instances.map((i) => ({ kind: 'instance' as const, host: i.host, instanceId: i.id })),
  ];
}

/**
 * The names the server certificate must carry: every endpoint (in cluster mode also the instance
 * wildcard, for instances added later), plus what a local client may dial.
 */
export function certificateNames(specs: readonly EndpointSpec[], names: ClusterNames | undefined): string[] {
  return [...specs.map((s) => s.host), ...(names ? [names.instanceWildcard] : []), 'localhost', '127.0.0.1'];
}

/** How long to wait before trying again to reopen a port that could not be bound (another socket on it). */
const REOPEN_RETRY_MS = 50;

/**
 * One endpoint's TCP listener. It can stop accepting and start again on the same port, which is how
 * an instance that is down refuses TCP (`ECONNREFUSED`), and close for good (a removed instance).
 * Closing a listener does not touch the connections it accepted: their sessions are owned elsewhere.
 */
export class EndpointListener {
  private server: Server | null = null;
  private wanted = true;
  private finished = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private binding = false;
  /** Every server this listener has had, for `stop()` to wait on. */
  private readonly closing: Array<Promise<void>> = [];

  constructor(
    readonly endpoint: ClusterEndpoint,
    private readonly listenHost: string,
    private readonly onConnection: (socket: Socket, endpoint: ClusterEndpoint) => void,
  ) {}

  /** Accepting TCP connections now. */
  get listening(): boolean {
    return this.server !== null;
  }

  /** The first listen: on `port` (0 = a free one); rejects if it cannot be bound. */
  async start(port: number): Promise<void> {
    this.server = await this.bind(port);
    const address = this.server.address();
    this.endpoint.port = typeof address === 'object' && address ? address.port : 0;
  }

  /** Start or stop accepting on the endpoint's port; a port that cannot be bound again is retried. */
  setAccepting(accepting: boolean): void {
    if (this.finished) return;
    this.wanted = accepting;
    if (!accepting) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.release();
      return;
    }
    if (this.server || this.retryTimer || this.binding) return;
    this.reopen();
  }

  /**
   * Binds the endpoint's port again. On an IP address `listen()` binds before it returns, so the port
   * accepts as soon as this is called; only the bookkeeping waits for the 'listening' callback.
   */
  private reopen(): void {
    this.binding = true;
    this.bind(this.endpoint.port).then(
      (server) => {
        this.binding = false;
        if (this.finished || !this.wanted || this.server) {
          this.closing.push(closeServer(server));
          return;
        }
        this.server = server;
      },
      () => {
        this.binding = false;
        if (this.finished || !this.wanted) return;
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          if (!this.server && this.wanted && !this.finished) this.reopen();
        }, REOPEN_RETRY_MS);
      },
    );
  }

  private release(): void {
    const server = this.server;
    this.server = null;
    if (server) this.closing.push(closeServer(server));
  }

  /** Stops accepting for good; resolves when every server it had has closed. */
  close(): Promise<void> {
    this.finished = true;
    clearTimeout(this.retryTimer);
    this.release();
    return Promise.all(this.closing).then(() => undefined);
  }

  private bind(port: number): Promise<Server> {
    const server = createServer((socket) => this.onConnection(socket, this.endpoint));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.listenHost, () => {
        server.off('error', reject);
        server.on('error', () => {});
        resolve(server);
      });
    });
  }
}

/** Resolves when the server has closed (its accepted connections are ended by their sessions). */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Opens one listener per endpoint: on `firstPort` and the ports after it, or on free ports when
 * `firstPort` is 0. If any port cannot be opened, the ones already open are closed again.
 */
export async function listenOnEndpoints(
  specs: readonly EndpointSpec[],
  listenHost: string,
  firstPort: number,
  onConnection: (socket: Socket, endpoint: ClusterEndpoint) => void,
): Promise<EndpointListener[]> {
  const listeners: EndpointListener[] = [];
  try {
    for (const [i, spec] of specs.entries()) {
      const listener = new EndpointListener({ ...spec, port: 0 }, listenHost, onConnection);
      await listener.start(firstPort === 0 ? 0 : firstPort + i);
      listeners.push(listener);
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    throw err;
  }
  return listeners;
}

/**
 * The endpoints by DNS name, for routing by TLS server name. A removed instance's name stays known
 * (as gone) so that a connection naming it is closed rather than served by the port it came in on.
 */
export class EndpointDirectory {
  private readonly byHost = new Map<string, ClusterEndpoint | 'removed'>();

  constructor(endpoints: readonly ClusterEndpoint[]) {
    for (const endpoint of endpoints) this.add(endpoint);
  }

  add(endpoint: ClusterEndpoint): void {
    this.byHost.set(endpoint.host.toLowerCase(), endpoint);
  }

  remove(host: string): void {
    this.byHost.set(host.toLowerCase(), 'removed');
  }

  /** The endpoint with this name; undefined for an unknown or removed name. */
  get(host: string): ClusterEndpoint | undefined {
    const found = this.byHost.get(host.toLowerCase());
    return found === 'removed' ? undefined : found;
  }

  isRemoved(host: string): boolean {
    return this.byHost.get(host.toLowerCase()) === 'removed';
  }
}

/**
 * Where a connection goes: the endpoint named by the TLS server name when it is one of ours,
 * otherwise the endpoint of the port it came in on; in cluster mode, then the instance behind it.
 * Null closes the connection (the instance is down, or the name is a removed instance's).
 */
export function createRouter(
  directory: EndpointDirectory,
  cluster: ClusterState | undefined,
): (listener: ClusterEndpoint, servername: string | undefined) => Route | null {
  return (listener, servername) => {
    if (servername && directory.isRemoved(servername)) return null;
    const endpoint = (servername && directory.get(servername)) || listener;
    if (!cluster) return { host: endpoint.host };
    const instance = cluster.route(endpoint.kind, endpoint.instanceId);
    return instance ? { host: endpoint.host, instance } : null;
  };
}

/** What the Aurora queries of a session on `instanceId` see. */
export function auroraFacts(
  cluster: ClusterState,
  instance: { instanceId: string; readOnly: boolean },
  port: number,
  now: number,
): AuroraFacts {
  return {
    instanceId: instance.instanceId,
    readOnly: instance.readOnly,
    port,
    topology: cluster.topologyRows(),
    now,
  };
}
