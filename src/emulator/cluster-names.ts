/** The DNS names of an Aurora cluster's endpoints, derived from its cluster (writer) endpoint. */
export interface ClusterNames {
  /** `<cluster>.cluster-<id>.<region>.rds.amazonaws.com`: follows the writer. */
  cluster: string;
  /** `<cluster>.cluster-ro-<id>.<region>.rds.amazonaws.com`: spreads over the readers. */
  reader: string;
  /** One per DB instance: `<cluster>-instance-<n>.<id>.<region>.rds.amazonaws.com`. */
  instances: Array<{ id: string; host: string }>;
  /**
   * `*.<id>.<region>.rds.amazonaws.com`: every instance endpoint name, including those of instances
   * added later (the certificate carries it, as RDS certificates carry such wildcards).
   */
  instanceWildcard: string;
  /** The console's default identifier of the n-th instance: `<cluster>-instance-<n>`. */
  instanceId(n: number): string;
  /** The endpoint name of an instance: `<identifier>.<id>.<region>.rds.amazonaws.com`. */
  instanceHost(instanceId: string): string;
}

export const DEFAULT_CLUSTER_HOST = 'mydb.cluster-abc123.us-east-1.rds.amazonaws.com';

const CLUSTER_HOST = /^([a-z0-9][a-z0-9-]*)\.cluster-([a-z0-9]+)\.(.+)$/i;

/**
 * Aurora's naming: the cluster endpoint carries `cluster-<id>`, the reader endpoint `cluster-ro-<id>`,
 * and each instance endpoint is `<instance identifier>.<id>.<rest>` (what AWS's wrappers build
 * from their `?.<id>.<rest>` instance host pattern). Instance identifiers follow the console's
 * default, `<cluster>-instance-<n>`.
 */
export function clusterNames(clusterHost: string, instanceCount: number): ClusterNames {
  const match = CLUSTER_HOST.exec(clusterHost);
  if (!match) {
    throw new TypeError(
      `cluster mode needs a cluster endpoint name like '${DEFAULT_CLUSTER_HOST}' (<name>.cluster-<id>.<region>...), got '${clusterHost}'`,
    );
  }
  const [, name, id, rest] = match as unknown as [string, string, string, string];
  if (!Number.isInteger(instanceCount) || instanceCount < 2 || instanceCount > 16) {
    throw new RangeError(`cluster.instances must be an integer from 2 to 16, got ${instanceCount}`);
  }
  const instanceId = (n: number) => `${name}-instance-${n}`;
  const instanceHost = (instance: string) => `${instance}.${id}.${rest}`;
  return {
    cluster: clusterHost,
    reader: `${name}.cluster-ro-${id}.${rest}`,
    instances: Array.from({ length: instanceCount }, (_, i) => ({
      id: instanceId(i + 1),
      host: instanceHost(instanceId(i + 1)),
    })),
    instanceWildcard: `*.${id}.${rest}`,
    instanceId,
    instanceHost,
  };
}
