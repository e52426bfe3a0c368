import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEmulatorFixture,
  type EmulatorFixture,
  TEST_KEY,
  TEST_SESSION_KEY,
} from '../helpers/emulator-harness.js';
import { cliEnv, runCli, runInProcess } from './run-cli.js';

let fixture: EmulatorFixture;

beforeAll(async () => {
  fixture = await createEmulatorFixture({ name: 'cli_token' });
});

afterAll(async () => {
  await fixture?.teardown();
});

const keyEnv = (key: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, extra = {}) =>
  cliEnv({
    AWS_ACCESS_KEY_ID: key.accessKeyId,
    AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
    AWS_SESSION_TOKEN: key.sessionToken,
    ...extra,
  });

describe.concurrent('rds-iam-pool token', () => {
  it('prints only a token, which logs in through the emulator', async () => {
    const result = await runCli(
      ['token', '--hostname', fixture.emulator.host, '--port', '3306', '--username', 'iam_app'],
      keyEnv(TEST_KEY),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout.split('\n');
    expect(lines).toHaveLength(2); // the token and the final newline
    const token = lines[0]!;
    expect(token.startsWith(`${fixture.emulator.host}:3306/?Action=connect&DBUser=iam_app&`)).toBe(true);
    expect(token).toContain('%2Fus-east-1%2Frds-db%2Faws4_request');

    const connection = await fixture.connect({ token });
    try {
      const [rows] = await connection.query('SELECT COUNT(*) AS n FROM items');
      expect(rows).toEqual([{ n: 2 }]);
    } finally {
      await connection.end();
    }
  });

  it('signs with the session token of temporary credentials (AWS_SESSION_TOKEN)', async () => {
    const result = await runCli(
      ['token', '--hostname', fixture.emulator.host, '--username', 'iam_app'],
      keyEnv(TEST_SESSION_KEY),
    );
    expect(result.code, result.stderr).toBe(0);
    const token = result.stdout.trim();
    expect(token).toContain('X-Amz-Security-Token=');
    const connection = await fixture.connect({ token });
    await connection.end();
  });

  it('describes the token with --json, without the secret key', async () => {
    const before = Date.now();
    const result = await runCli(
      ['token', '--hostname', fixture.emulator.host, '--username', 'iam_app', '--json'],
      keyEnv(TEST_KEY),
    );
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out).toMatchObject({
      hostname: fixture.emulator.host,
      port: 3306,
      username: 'iam_app',
      region: 'us-east-1',
      regionSource: 'host name',
      credentials: { accessKeyId: 'AKIA****0001', temporary: false },
    });
    expect(out.credentials.source).toContain('environment variables');
    const expiresAt = Date.parse(out.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 14 * 60_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 15 * 60_000);
    expect(result.stdout).not.toContain(TEST_KEY.secretAccessKey);
  });

  it('takes the region from AWS_REGION for a name that is not an RDS endpoint, and needs one', async () => {
    const args = ['token', '--hostname', 'db.internal.example.com', '--username', 'iam_app'];
    const withRegion = await runCli(args, keyEnv(TEST_KEY, { AWS_REGION: 'eu-west-3' }));
    expect(withRegion.code, withRegion.stderr).toBe(0);
    expect(withRegion.stdout).toContain('%2Feu-west-3%2Frds-db%2Faws4_request');

    const without = await runInProcess(args, { env: keyEnv(TEST_KEY) });
    expect(without.code).toBe(2);
    expect(without.stderr).toContain('--region cannot be inferred from host "db.internal.example.com"');
    // Every way to give a region, not only the flag.
    expect(without.stderr).toContain(
      'Pass --region (e.g. us-east-1), or set AWS_REGION (or AWS_DEFAULT_REGION)',
    );
    expect(without.stdout).toBe('');
  });

  it('refuses an IP address as --hostname and a missing --username (exit 2)', async () => {
    const ip = await runInProcess(['token', '--hostname', '10.0.0.12', '--username', 'iam_app'], {
      env: keyEnv(TEST_KEY),
    });
    expect(ip.code).toBe(2);
    expect(ip.stderr).toContain('--hostname is an IP address');
    expect(ip.stderr).toContain('point the mysql client at the IP or tunnel with its own -h');
    expect(ip.stdout).toBe('');
    const missing = await runInProcess(['token', '--hostname', fixture.emulator.host], {
      env: keyEnv(TEST_KEY),
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--username is required');
  });

  it('exits 1 when there are no credentials', async () => {
    const result = await runCli(
      ['token', '--hostname', fixture.emulator.host, '--username', 'iam_app'],
      cliEnv(),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No AWS credentials');
    expect(result.stdout).toBe('');
  });

  it('exits 1 without a token when the credentials have expired', async () => {
    const result = await runCli(
      ['token', '--hostname', fixture.emulator.host, '--username', 'iam_app'],
      keyEnv(TEST_SESSION_KEY, { AWS_CREDENTIAL_EXPIRATION: new Date(Date.now() - 60_000).toISOString() }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('expired at');
    expect(result.stdout).toBe('');
  });
});
