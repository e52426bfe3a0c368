/**
 * The SQL aws-advanced-nodejs-wrapper (a dev dependency) sends to learn an Aurora MySQL cluster's
 * topology, read from its shipped AuroraMySQLDatabaseDialect rather than copied, so a test fails
 * when a wrapper release changes a statement the emulator answers. The class is not exported by
 * the package, so it is imported by file path.
 */
export interface AuroraDialectSql {
  TOPOLOGY_QUERY: string;
  HOST_ID_QUERY: string;
  IS_READER_QUERY: string;
  IS_WRITER_QUERY: string;
  AURORA_VERSION_QUERY: string;
  TOPOLOGY_TABLE_EXIST_QUERY: string;
}

export async function auroraDialectSql(): Promise<AuroraDialectSql> {
  const url = new URL(
    '../../node_modules/aws-advanced-nodejs-wrapper/dist/mysql/lib/dialect/aurora_mysql_database_dialect.js',
    import.meta.url,
  );
  const { AuroraMySQLDatabaseDialect } = (await import(url.href)) as {
    AuroraMySQLDatabaseDialect: AuroraDialectSql;
  };
  return AuroraMySQLDatabaseDialect;
}
