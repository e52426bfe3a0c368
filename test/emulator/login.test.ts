import { Signer } from '@aws-sdk/rds-signer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmulatorFixture, type EmulatorFixture, TEST_KEY } from '../helpers/emulator-harness.js';

describe('emulator: valid IAM logins', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'emu_login' });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('accepts a token from @aws-sdk/rds-signer and relays queries to the mapped backend user', async () => {
    const signer = new Signer({
      hostname: fx.emulator.host,
      port: fx.emulator.endpointPort,
      username: 'iam_app',
      region: fx.emulator.region,
      credentials: TEST_KEY,
    });
    const token = await signer.getAuthToken();
    const conn = await fx.connect({ token, multipleStatements: true });
    try {
      const [who] = await conn.query<any[]>('SELECT CURRENT_USER() AS u');
      expect(who[0].u).toBe(`${fx.backendUsers.iam_app}@%`);

      const [big] = await conn.query<any[]>('SELECT seq FROM seq_1_to_10000');
      expect(big).toHaveLength(10_000);
      expect(big[9999].seq).toBe(10_000);

      const [prepared] = await conn.execute<any[]>('SELECT name FROM items WHERE id = ?', [2]);
      expect(prepared).toEqual([{ name: 'two' }]);

      const [multi] = await conn.query<any[]>('SELECT 1 AS a; SELECT name FROM items ORDER BY id');
      expect(multi[0]).toEqual([{ a: 1 }]);
      expect(multi[1]).toEqual([{ name: 'one' }, { name: 'two' }]);

      await conn.query("INSERT INTO items VALUES (3, 'three')");
      const [count] = await conn.query<any[]>('SELECT COUNT(*) AS n FROM items');
      expect(Number(count[0].n)).toBe(3);

      expect(fx.emulator.stats().liveSessions).toBe(1);
      expect(fx.emulator.sessions()).toEqual([expect.objectContaining({ user: 'iam_app' })]);
    } finally {
      await conn.end();
    }
  });

  it('counts one distinct token for many logins with the same signing', async () => {
    const before = fx.emulator.stats();
    // A signing date of its own: a token signed in the same second as the previous test's would be
    // byte-identical (SigV4 is deterministic) and not count as new.
    const token = await fx.token('iam_app', { signingDate: new Date(Date.now() - 7000) });
    for (let i = 0; i < 3; i++) {
      const conn = await fx.connect({ token });
      await conn.query('SELECT 1');
      await conn.end();
    }
    const after = fx.emulator.stats();
    expect(after.loginsAccepted - before.loginsAccepted).toBe(3);
    expect(after.distinctTokens - before.distinctTokens).toBe(1);
  });

  it('passes the client database and forwards a backend refusal (unknown database) as is', async () => {
    const err = await fx.connect({ database: 'rip_emu_login_no_such_db' }).then(
      (c) => c.end().then(() => null),
      (e: any) => e,
    );
    // MariaDB answers 1044 (no access) for a database the user has no grant on, 1049 when it could see it.
    expect([1044, 1049]).toContain(err?.errno);
    expect(fx.emulator.stats().loginsRejected['backend-refused']).toBe(1);
  });

  it('logs in without a database and sees the connection drop after COM_QUIT', async () => {
    const conn = await fx.connect({ database: null });
    const [rows] = await conn.query<any[]>('SELECT DATABASE() AS db');
    expect(rows[0].db).toBeNull();
    await conn.end();
    await expect.poll(() => fx.emulator.stats().liveSessions).toBe(0);
  });
});
