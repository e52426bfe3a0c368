// <name>.<id>.<region>.rds.amazonaws.com(.cn), also cluster-, cluster-ro-, proxy- and custom endpoints.
const RDS_HOST_REGION = /\.([a-z]{2}(?:-[a-z]+)+-\d+)\.rds\.amazonaws\.com(?:\.cn)?\.?$/i;

/** An AWS region code such as us-east-1 or us-gov-west-1. */
export const REGION_SHAPE = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;

/** The region in an RDS, Aurora or RDS Proxy endpoint name, or undefined for other names. */
export function inferRegion(host: string): string | undefined {
  return RDS_HOST_REGION.exec(host)?.[1]?.toLowerCase();
}
