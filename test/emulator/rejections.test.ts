import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConnectOptions,
  createEmulatorFixture,
  type EmulatorFixture,
  rejectionOf,
  TEST_KEY,
  TEST_SESSION_KEY,
  UNTRUSTED_KEY,
} from '../helpers/emulator-harness.js';

const MINUTE = 60_000;

describe('emulator: refused IAM logins', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await createEmulatorFixture({
      name: 'emu_reject',
      iamUsers: ['iam_app', 'iam_other'],
      emulator: {
        keys: [
          TEST_KEY,
          TEST_SESSION_KEY,
          {
            accessKeyId: 'ASIAEMULATOREXPIRED3',
            secretAccessKey: 'emulator-expired-secret-not-real',
            sessionToken: 'emulator-expired-session-token',
            expiration: new Date(Date.now() - MINUTE),
          },
        ],
      },
    });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  async function expectRefused(options: ConnectOptions, reason: string, usingPassword = 'YES') {
    const user = options.user ?? 'iam_app';
    const before = fx.emulator.stats();
    const err = await rejectionOf(() => fx.connect(options));
    expect(err.errno).toBe(1045);
    expect(err.message).toBe(
      `Access denied for user '${user}'@'127.0.0.1' (using password: ${usingPassword})`,
    );
    const after = fx.emulator.stats();
    expect((after.loginsRejected[reason] ?? 0) - (before.loginsRejected[reason] ?? 0)).toBe(1);
    expect(after.loginsAccepted).toBe(before.loginsAccepted);
    return err;
  }

  it.each<[string, ConnectOptions, string]>([
    ['a token for another user', { tokenUser: 'iam_other' }, 'wrong-user'],
    ['a token for another host', { tokenHost: 'other.abc123.us-east-1.rds.amazonaws.com' }, 'wrong-host'],
    ['a token for another port', { tokenPort: 3307 }, 'wrong-host'],
    ['a token for another region', { tokenRegion: 'eu-west-1' }, 'wrong-region'],
    ['a token signed 16 minutes ago', { signingDate: new Date(Date.now() - 16 * MINUTE) }, 'expired'],
    ['a token dated beyond the skew', { signingDate: new Date(Date.now() + 6 * MINUTE) }, 'not-yet-valid'],
    ['a token from an unknown access key', { credentials: UNTRUSTED_KEY }, 'unknown-access-key'],
    [
      'a token without the session token the key carries',
      {
        credentials: {
          accessKeyId: TEST_SESSION_KEY.accessKeyId,
          secretAccessKey: TEST_SESSION_KEY.secretAccessKey,
        },
      },
      'session-token-mismatch',
    ],
    [
      'a token with the wrong session token',
      { credentials: { ...TEST_SESSION_KEY, sessionToken: 'some-other-session-token' } },
      'session-token-mismatch',
    ],
    [
      'a token with a session token the key does not have',
      { credentials: { ...TEST_KEY, sessionToken: 'unexpected-session-token' } },
      'session-token-mismatch',
    ],
    [
      'a token from expired temporary credentials',
      {
        credentials: {
          accessKeyId: 'ASIAEMULATOREXPIRED3',
          secretAccessKey: 'emulator-expired-secret-not-real',
          sessionToken: 'emulator-expired-session-token',
        },
      },
      'credentials-expired',
    ],
  ])('refuses %s', async (_name, options, reason) => {
    await expectRefused(options, reason);
  });

  it('refuses a token with a tampered signature and never echoes the token', async () => {
    const token = await fx.token();
    const tampered = token.replace(
      /X-Amz-Signature=([0-9a-f])/,
      (_m, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`,
    );
    expect(tampered).not.toBe(token);
    const err = await expectRefused({ token: tampered }, 'bad-signature');
    expect(err.message).not.toContain('X-Amz');
  });

  it('accepts a session-token key when the token carries it', async () => {
    const conn = await fx.connect({ credentials: TEST_SESSION_KEY });
    await conn.query('SELECT 1');
    await conn.end();
  });

  it('accepts a token signed 4 minutes in the future (inside the 300 s skew)', async () => {
    const conn = await fx.connect({ signingDate: new Date(Date.now() + 4 * MINUTE) });
    await conn.end();
  });

  it('refuses a user it does not know', async () => {
    // mysql2 sends an empty first auth response (no password configured), so MySQL's message says NO.
    await expectRefused({ user: 'nobody' }, 'unknown-user', 'NO');
  });

  it('refuses even a valid token on a plaintext connection (not-tls)', async () => {
    await expectRefused({ ssl: false }, 'not-tls');
  });

  it('a plaintext-only emulator still asks for mysql_clear_password and refuses the token', async () => {
    const { startEmulator } = await import('../../src/emulator/index.js');
    const plain = await startEmulator({
      backend: { host: '127.0.0.1', port: 3306, user: 'root' },
      users: { iam_app: {} },
      keys: [TEST_KEY],
      offerTls: false,
    });
    try {
      const mysql = (await import('mysql2/promise')).default;
      const net = await import('node:net');
      const token = await fx.token();
      let asked = false;
      const err = await rejectionOf(() =>
        mysql.createConnection({
          host: plain.host,
          port: 3306,
          user: 'iam_app',
          stream: () => net.connect(plain.port, '127.0.0.1'),
          authPlugins: {
            mysql_clear_password: () => () => {
              asked = true;
              return Buffer.from(`${token}\0`);
            },
          },
        }),
      );
      expect(asked).toBe(true);
      expect(err.errno).toBe(1045);
      expect(plain.stats().loginsRejected).toEqual({ 'not-tls': 1 });
      // A TLS-requiring client refuses to talk to it at all.
      const tlsErr = await rejectionOf(() =>
        mysql.createConnection({
          host: plain.host,
          port: 3306,
          user: 'iam_app',
          stream: () => net.connect(plain.port, '127.0.0.1'),
          ssl: { ca: plain.ca },
        }),
      );
      expect(tlsErr.code).toBe('HANDSHAKE_NO_SSL_SUPPORT');
    } finally {
      await plain.stop();
    }
  });
});
