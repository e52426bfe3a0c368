/**
 * RDS host-name rules, in one place: the region in an endpoint name, which endpoints are Aurora
 * cluster (writer) endpoints, and how instance endpoints are named. Shared by the library, the CLI
 * and the emulator.
 */
// <name>.<id>.<region>.rds.amazonaws.com(.cn), also cluster-, cluster-ro-, proxy- and custom endpoints.
const RDS_HOST_REGION = /\.([a-z]{2}(?:-[a-z]+)+-\d+)\.rds\.amazonaws\.com(?:\.cn)?\.?$/i;

/** An AWS region code such as us-east-1 or us-gov-west-1. */
export const REGION_SHAPE = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;

/** The region in an RDS, Aurora or RDS Proxy endpoint name, or undefined for other names. */
export function inferRegion(host: string): string | undefined {
  return RDS_HOST_REGION.exec(host)?.[1]?.toLowerCase();
}

/**
 * Whether `host` is an Aurora cluster (writer) endpoint, `<name>.cluster-<id>.<region>.rds.amazonaws.com`:
 * its DNS record can lead to the old, now read-only, writer for a while after a failover. Reader
 * (`cluster-ro-`) and custom (`cluster-custom-`) endpoints are not.
 */
export function isClusterWriterEndpoint(host: string): boolean {
  return /\.cluster-(?!ro-|custom-)[a-z0-9]+\.[a-z0-9-]+\.rds\.amazonaws\.com(?:\.cn)?\.?$/i.test(host);
}

/**
 * The DNS suffix a cluster's endpoints share, `abc123.us-east-1.rds.amazonaws.com`, from a cluster
 * (`cluster-`), reader (`cluster-ro-`) or custom (`cluster-custom-`) endpoint name.
 */
export function clusterDomain(clusterHost: string): string | undefined {
  const match =
    /^[^.]+\.cluster-(?:ro-|custom-)?([a-z0-9]+\.[a-z0-9-]+\.rds\.amazonaws\.com(?:\.cn)?)\.?$/i.exec(
      clusterHost,
    );
  return match?.[1];
}

/** `?.abc123.us-east-1.rds.amazonaws.com` from `orders.cluster-abc123.us-east-1.rds.amazonaws.com`. */
export function instanceHostPattern(clusterHost: string): string | undefined {
  const domain = clusterDomain(clusterHost);
  return domain === undefined ? undefined : `?.${domain}`;
}

/**
 * Whether `id` is a valid RDS DB instance identifier: 1 to 63 letters, digits and hyphens, starting
 * with a letter, without two hyphens in a row or a hyphen at the end. What a server reports as an
 * instance id must pass this before it becomes part of a host name.
 */
export function isInstanceIdentifier(id: string): boolean {
  return /^[a-z][a-z0-9-]{0,62}$/i.test(id) && !id.includes('--') && !id.endsWith('-');
}

/** The instance endpoint of instance `id`: the pattern's `?` replaced by the id (and nothing else). */
export function instanceHost(pattern: string, id: string): string {
  const at = pattern.indexOf('?');
  return `${pattern.slice(0, at)}${id}${pattern.slice(at + 1)}`;
}
