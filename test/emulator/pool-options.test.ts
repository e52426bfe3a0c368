import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/index.js';
import { createIamPool } from '../../src/index.js';
import {
  createEmulatorFixture,
  type EmulatorFixture,
  MARIADB,
  TEST_KEY,
} from '../helpers/emulator-harness.js';

describe('emulator.poolOptions(): ready-to-spread options for createIamPool', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'emu_pool_options' });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('names the RDS endpoint, the listening address, the CA and the first trusted key', async () => {
    const options = fx.emulator.poolOptions();
    expect(options).toEqual({
      host: fx.emulator.host,
      port: fx.emulator.endpointPort,
      connectHost: '127.0.0.1',
      connectPort: fx.emulator.port,
      ssl: { ca: fx.emulator.ca },
      credentials: expect.any(Function),
    });
    expect(await options.credentials()).toEqual(TEST_KEY);
  });

  it('is all a pool needs besides the user: a query through it logs in over verified TLS', async () => {
    const pool = createIamPool({ ...fx.emulator.poolOptions(), user: 'iam_app', database: fx.database });
    try {
      const [rows] = await pool.query('SELECT name FROM items ORDER BY id');
      expect(rows).toEqual([{ name: 'one' }, { name: 'two' }]);
      expect(pool.iam.stats()).toMatchObject({ tokensSigned: 1, authRetries: 0 });
    } finally {
      await pool.end();
    }
  });

  it('refuses a name that is not one of its endpoints', () => {
    expect(() => fx.emulator.poolOptions('other.abc123.us-east-1.rds.amazonaws.com')).toThrow(
      /is not an endpoint of this emulator/,
    );
  });
});

describe('emulator.poolOptions() in cluster mode and on every address', () => {
  it('reaches the endpoint it names (here the reader endpoint) on its own port', async () => {
    const emulator = await startEmulator({
      backend: MARIADB,
      users: { app_iam: {} },
      keys: [TEST_KEY],
      cluster: {},
      listenHost: '0.0.0.0',
    });
    try {
      const reader = emulator.cluster.readerEndpoint;
      const options = emulator.poolOptions(reader.host.toUpperCase());
      // A listener on every address is reached on the loopback address.
      expect(options).toMatchObject({
        host: reader.host,
        connectHost: '127.0.0.1',
        connectPort: reader.port,
      });
      const pool = createIamPool({ ...options, user: 'app_iam' });
      try {
        const [rows] = await pool.query('SELECT @@innodb_read_only AS ro');
        expect(rows).toEqual([{ ro: 1 }]);
      } finally {
        await pool.end();
      }
    } finally {
      await emulator.stop();
    }
  });
});
