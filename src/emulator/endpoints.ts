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

/** The names the server certificate must carry: every endpoint, plus what a local client may dial. */
export function certificateNames(specs: readonly EndpointSpec[]): string[] {
  return [...specs.map((s) => s.host), 'localhost', '127.0.0.1'];
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
): Promise<{ servers: Server[]; endpoints: ClusterEndpoint[] }> {
  const servers: Server[] = [];
  const endpoints: ClusterEndpoint[] = [];
  try {
    for (const [i, spec] of specs.entries()) {
      const endpoint: ClusterEndpoint = { ...spec, port: 0 };
      const server = createServer((socket) => onConnection(socket, endpoint));
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(firstPort === 0 ? 0 : firstPort + i, listenHost, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', () => {});
      const address = server.address();
      endpoint.port = typeof address === 'object' && address ? address.port : 0;
      endpoints.push(endpoint);
    }
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    throw err;
  }
  return { servers, endpoints };
}

/**
 * Where a connection goes: the endpoint named by the TLS server name when it is one of ours,
 * otherwise the endpoint of the port it came in on; in cluster mode, then the instance behind it.
 */
export function createRouter(
  endpoints: readonly ClusterEndpoint[],
  cluster: ClusterState | undefined,
): (listener: ClusterEndpoint, servername: string | undefined) => Route | null {
  const byHost = new Map(endpoints.map((e) => [e.host.toLowerCase(), e]));
  return (listener, servername) => {
    const endpoint = (servername && byHost.get(servername.toLowerCase())) || listener;
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
