import net from 'node:net';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcedVersion, defaultEngineFor, ENGINE_PROFILES } from '../../src/emulator/engine-profiles.js';
import type { EngineProfileName } from '../../src/emulator/index.js';
import { Capability, decodeGreeting } from '../../src/protocol/mysql-packets.js';
import { createEmulatorFixture, type EmulatorFixture, rawConnect } from '../helpers/emulator-harness.js';

/** The greeting payload a raw client receives first. */
async function readGreeting(fx: EmulatorFixture) {
  const client = await rawConnect(fx.emulator.port);
  try {
    const header = await client.waitFor(4);
    const length = header.readUIntLE(0, 3);
    const data = await client.waitFor(4 + length);
    return decodeGreeting(data.subarray(4, 4 + length));
  } finally {
    client.socket.destroy();
  }
}

const cases: Array<{ engine: EngineProfileName; plugin: string; version: RegExp; clientMysql: boolean }> = [
  {
    engine: 'mysql8.0',
    plugin: 'mysql_native_password',
    version: /^8\.0\.\d+-rds-iam-emulator$/,
    clientMysql: true,
  },
  {
    engine: 'mysql8.4',
    plugin: 'caching_sha2_password',
    version: /^8\.4\.\d+-rds-iam-emulator$/,
    clientMysql: true,
  },
  // The backend is MariaDB, so the MariaDB profile announces the backend's own version.
  {
    engine: 'mariadb',
    plugin: 'mysql_native_password',
    version: /^5\.5\.5-10\.\d+\.\d+-MariaDB.*-rds-iam-emulator$/,
    clientMysql: false,
  },
];

describe.each(cases)('emulator engine profile $engine', ({ engine, plugin, version, clientMysql }) => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: `emu_engine_${engine.replace('.', '')}`, emulator: { engine } });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it(`greets with ${plugin} and its engine's version string`, async () => {
    const greeting = await readGreeting(fx);
    expect(greeting.authPluginName).toBe(plugin);
    expect(greeting.serverVersion).toMatch(version);
    expect(greeting.serverVersion).toBe(fx.emulator.serverVersion);
    expect(Boolean(greeting.capabilities & Capability.LONG_PASSWORD)).toBe(clientMysql);
    expect(fx.emulator.engine).toBe(engine);
  });

  it('logs in through a switch to mysql_clear_password and relays queries', async () => {
    const conn = await fx.connect();
    try {
      const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT name FROM items WHERE id = 2');
      expect(rows).toEqual([{ name: 'two' }]);
    } finally {
      await conn.end();
    }
  });
});

/**
 * What mysql2 3.24 sends as its first answer depends on the greeted plugin and on whether its
 * `authPlugins` has an entry for that plugin (lib/commands/client_handshake.js: a custom entry
 * for the greeted plugin makes it fall back to mysql_native_password). The emulator must log in
 * either way; this pins the behaviour so a mysql2 change is noticed.
 */
describe('mysql2 first answer to each greeting', () => {
  let fx80: EmulatorFixture;
  let fx84: EmulatorFixture;
  beforeAll(async () => {
    [fx80, fx84] = await Promise.all([
      createEmulatorFixture({ name: 'emu_first_80', emulator: { engine: 'mysql8.0' } }),
      createEmulatorFixture({ name: 'emu_first_84', emulator: { engine: 'mysql8.4' } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([fx80?.teardown(), fx84?.teardown()]);
  });

  async function firstAnswer(fx: EmulatorFixture, extraPlugins: Record<string, mysql.AuthPlugin>) {
    const token = await fx.token();
    const before = fx.emulator.stats().clientAuthPlugins;
    const conn = await mysql.createConnection({
      host: fx.emulator.host,
      port: fx.emulator.endpointPort,
      user: 'iam_app',
      database: fx.database,
      stream: () => net.connect(fx.emulator.port, '127.0.0.1'),
      ssl: { ca: fx.emulator.ca, rejectUnauthorized: true, verifyIdentity: true },
      authPlugins: { ...extraPlugins, mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
    });
    await conn.query('SELECT 1');
    await conn.end();
    const after = fx.emulator.stats().clientAuthPlugins;
    return Object.keys(after).filter((name) => (after[name] ?? 0) > (before[name] ?? 0));
  }

  const refuse: mysql.AuthPlugin = () => () => {
    throw new Error('must not be asked');
  };

  it('MySQL 8.0 greeting: mysql_native_password, with or without an entry for it', async () => {
    expect(await firstAnswer(fx80, {})).toEqual(['mysql_native_password']);
    expect(await firstAnswer(fx80, { mysql_native_password: refuse })).toEqual(['mysql_native_password']);
  });

  it('MySQL 8.4 greeting: caching_sha2_password without an entry for it, mysql_native_password with one', async () => {
    expect(await firstAnswer(fx84, {})).toEqual(['caching_sha2_password']);
    expect(await firstAnswer(fx84, { caching_sha2_password: refuse })).toEqual(['mysql_native_password']);
  });
});

describe('engine profile selection', () => {
  it('defaults to the backend family and announces the backend version only for its own engine', () => {
    expect(defaultEngineFor('5.5.5-10.11.19-MariaDB-0+deb12u1')).toBe('mariadb');
    expect(defaultEngineFor('8.0.36')).toBe('mysql8.0');
    expect(defaultEngineFor('8.4.2')).toBe('mysql8.0');
    expect(announcedVersion(ENGINE_PROFILES['mysql8.4'], '8.4.2')).toBe('8.4.2-rds-iam-emulator');
    expect(announcedVersion(ENGINE_PROFILES['mysql8.4'], '5.5.5-10.11.19-MariaDB')).toBe(
      '8.4.3-rds-iam-emulator',
    );
    expect(announcedVersion(ENGINE_PROFILES.mariadb, '8.0.36')).toBe(
      '5.5.5-10.11.9-MariaDB-rds-iam-emulator',
    );
  });

  it('refuses an unknown engine name', async () => {
    const { startEmulator } = await import('../../src/emulator/index.js');
    await expect(
      startEmulator({
        backend: { host: '127.0.0.1', port: 3306, user: 'root' },
        users: {},
        keys: [],
        engine: 'postgres' as EngineProfileName,
      }),
    ).rejects.toThrow(/unknown engine 'postgres'.*mysql8\.0, mysql8\.4, mariadb/);
  });
});
