import net from 'node:net';
import { AwsMySQLClient } from 'aws-advanced-nodejs-wrapper/mysql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEmulator } from '../../src/emulator/index.js';
import { createEmulatorFixture, type EmulatorFixture, TEST_KEY } from '../helpers/emulator-harness.js';

type Rows = [Array<Record<string, unknown>>, unknown];

/**
 * AWS's own Aurora-aware driver, pointed at the emulator cluster: it identifies Aurora, reads the
 * topology, signs IAM tokens per instance endpoint, and after a failover connects straight to the
 * new writer's instance endpoint while the cluster endpoint still leads to the old writer. Every
 * connection it opens goes through `stream` to the cluster endpoint's port, where the TLS server
 * name (mysql2 sends `host`) picks the endpoint. Both failover plugin generations are tried.
 */
// Each run gets a cluster of its own name: the wrapper caches topology per cluster in static state.
describe.each([
  { plugins: 'iam,failover', name: 'emu_aws_fo1', host: 'fo1db.cluster-abc123.us-east-1.rds.amazonaws.com' },
  {
    plugins: 'iam,failover2,efm2',
    name: 'emu_aws_fo2',
    host: 'fo2db.cluster-abc123.us-east-1.rds.amazonaws.com',
  },
])(
  'aws-advanced-nodejs-wrapper with plugins $plugins against the emulator cluster',
  ({ plugins, name, host }) => {
    let fx: EmulatorFixture;
    let emulator: ClusterEmulator;
    const savedEnv = { ...process.env };
    beforeAll(async () => {
      fx = await createEmulatorFixture({ name, emulator: { host, cluster: {} } });
      emulator = fx.emulator as ClusterEmulator;
      // The wrapper's IAM plugin takes credentials from the default provider chain: the emulator's test key.
      process.env.AWS_ACCESS_KEY_ID = TEST_KEY.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = TEST_KEY.secretAccessKey;
      delete process.env.AWS_SESSION_TOKEN;
      delete process.env.AWS_PROFILE;
      process.env.AWS_EC2_METADATA_DISABLED = 'true';
    });
    afterAll(async () => {
      process.env = savedEnv;
      await fx?.teardown();
    });

    it('detects Aurora, follows the topology and fails over to the new writer before DNS does', async () => {
      const client = new AwsMySQLClient({
        host: emulator.host,
        port: emulator.endpointPort,
        user: 'iam_app',
        database: fx.database,
        plugins,
        ssl: { ca: emulator.ca, rejectUnauthorized: true },
        enableCleartextPlugin: true,
        stream: () => net.connect(emulator.port, '127.0.0.1'),
      } as ConstructorParameters<typeof AwsMySQLClient>[0]);
      try {
        await client.connect();
        const [before] = (await client.query({ sql: 'SELECT @@aurora_server_id AS id' })) as Rows;
        expect(before[0]?.id).toBe(emulator.cluster.instanceEndpoints[0]!.instanceId);

        const failover = emulator.cluster.failover({ promotionMs: 1000, dnsLagMs: 20_000 });
        // The wrapper reports the switch to the caller of the interrupted statement.
        const interrupted = await client.query({ sql: 'SELECT 1' }).then(
          () => null,
          (err: Error) => err.constructor.name,
        );
        expect(interrupted).toBe('FailoverSuccessError');

        await client.query({ sql: "INSERT INTO items VALUES (30, 'written after the failover')" });
        const [after] = (await client.query({
          sql: 'SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro',
        })) as Rows;
        expect(after[0]).toEqual({ id: failover.to, ro: 0 });
        // It got there through the new writer's instance endpoint, with a token signed for that name,
        // while the cluster endpoint still led to the old writer.
        expect(emulator.cluster.topology().clusterEndpointTarget).toBe(failover.from);
        const onNewWriter = emulator
          .sessions()
          .filter((s) => s.instanceId === failover.to && s.role === 'writer');
        expect(onNewWriter.map((s) => s.endpoint)).toContain(emulator.cluster.instanceEndpoints[1]!.host);
        // It read the topology, and every Aurora question it asked was one the emulator answers.
        const asked = emulator.stats().cluster!.auroraQueries;
        expect(asked.topology).toBeGreaterThanOrEqual(1);
        expect(asked.refused).toBe(0);
      } finally {
        await client.end().catch(() => {});
      }
    });
  },
);

describe('aws-advanced-nodejs-wrapper through an instance endpoint', () => {
  let fx: EmulatorFixture;
  let emulator: ClusterEmulator;
  const savedEnv = { ...process.env };
  beforeAll(async () => {
    fx = await createEmulatorFixture({
      name: 'emu_aws_inst',
      emulator: { host: 'instdb.cluster-abc123.us-east-1.rds.amazonaws.com', cluster: {} },
    });
    emulator = fx.emulator as ClusterEmulator;
    process.env.AWS_ACCESS_KEY_ID = TEST_KEY.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = TEST_KEY.secretAccessKey;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
  });
  afterAll(async () => {
    process.env = savedEnv;
    await fx?.teardown();
  });

  it("recognises Aurora from SHOW VARIABLES LIKE 'aurora_version' when the host name does not say so", async () => {
    const instance = emulator.cluster.instanceEndpoints[1]!;
    const client = new AwsMySQLClient({
      host: instance.host, // an instance endpoint: the wrapper starts from its RDS MySQL dialect
      port: emulator.endpointPort,
      user: 'iam_app',
      database: fx.database,
      plugins: 'iam,failover',
      ssl: { ca: emulator.ca, rejectUnauthorized: true },
      enableCleartextPlugin: true,
      stream: () => net.connect(emulator.port, '127.0.0.1'),
    } as ConstructorParameters<typeof AwsMySQLClient>[0]);
    try {
      await client.connect();
      const [rows] = (await client.query({ sql: 'SELECT @@aurora_server_id AS id' })) as Rows;
      expect(rows[0]?.id).toBe(instance.instanceId);
      // Only the Aurora dialect reads the topology: the version query made it switch.
      const asked = emulator.stats().cluster!.auroraQueries;
      expect(asked.variables).toBeGreaterThanOrEqual(2);
      expect(asked.topology).toBeGreaterThanOrEqual(1);
      expect(asked.refused).toBe(0);
    } finally {
      await client.end().catch(() => {});
    }
  });
});
