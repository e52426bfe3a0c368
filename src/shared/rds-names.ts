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

/** `?.abc123.us-east-1.rds.amazonaws.com` from `orders.cluster-abc123.us-east-1.rds.amazonaws.com`. */
export function instanceHostPattern(clusterHost: string): string | undefined {
  const match = /^[^.]+\.cluster-([a-z0-9]+\..+)$/i.exec(clusterHost);
  return match ? `?.${match[1]}` : undefined;
}
