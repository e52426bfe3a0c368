import { execFile } from 'node:child_process';
import diagnosticsChannel, { channel } from 'node:diagnostics_channel';
import type { EventEmitter } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatFindings,
  type LeakFinding,
  SecretRegistry,
  scanText,
} from '../../bench/chaos/leak-scanner.js';
import { IamConnectError, IamLoginError, type IamPool } from '../../src/index.js';
import { signAuthToken } from '../../src/token/sign.js';
import {
  createEmulatorFixture,
  type EmulatorFixture,
  TEST_SESSION_KEY,
} from '../helpers/emulator-harness.js';
import { leakScanState, resetCollected, scanCollected } from '../helpers/leak-scan-setup.js';
import { poolFor } from '../helpers/pool-fixture.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

/** Plants a leak with output muted, returns what the scan finds, and forgets the plant. */
function plant(leak: () => void): LeakFinding[] {
  resetCollected();
  const state = leakScanState();
  state.muted = true;
  try {
    leak();
  } finally {
    state.muted = false;
  }
  const findings = scanCollected();
  resetCollected();
  return findings;
}

describe('secret-leak scan', () => {
  let fx: EmulatorFixture;
  let pool: IamPool;
  /** A token signed with the session key: its signature and session token are registered secrets. */
  let token: string;
  let signature: string;

  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'sec_leak' });
    pool = poolFor(fx, { credentials: async () => ({ ...TEST_SESSION_KEY }), connectionLimit: 2 });
    token = await signAuthToken({
      hostname: fx.emulator.host,
      port: fx.emulator.endpointPort,
      username: 'iam_app',
      region: fx.emulator.region,
      credentials: TEST_SESSION_KEY,
    });
    signature = new URLSearchParams(token.split('/?')[1]).get('X-Amz-Signature') ?? '';
    // One login with this very token: the emulator verifies it, so the scan learns its signature.
    // The pool's own token has the same signature only if it is signed within the same second.
    await (await fx.connect({ token })).end();
  });
  afterAll(async () => {
    await pool?.end();
    await fx?.teardown();
  });

  it('sees a real pool at work and finds nothing in what it produced', async () => {
    fx.emulator.faults.rejectNextLogins(1); // one retry event and one refused login to inspect
    // Two callers holding their connections: two logins, one refused and retried with a fresh token.
    await Promise.all([pool.query('SELECT SLEEP(0.2)'), pool.query('SELECT SLEEP(0.2)')]);
    await pool.query({ sql: 'SELECT 1 FROM no_such_table' }).catch(() => undefined);
    const state = leakScanState();
    expect(state.seen.handle).toBe(1);
    expect(state.seen.pool).toBe(1);
    expect(state.seen.event).toBeGreaterThanOrEqual(2); // tokenSigned, retry
    // The library's own diagnostics channels (rds-iam-pool:token-signed, :login-failed, ...).
    expect(state.seen.diagnostics_channel).toBeGreaterThanOrEqual(2);
    expect(state.seen.signing).toBeGreaterThanOrEqual(3); // pool x2, beforeAll, emulator re-signing
    // Learned from the signer: the key's secret, its session token and each token's signature.
    for (const secret of [TEST_SESSION_KEY.secretAccessKey, TEST_SESSION_KEY.sessionToken, signature]) {
      expect(state.secrets.find(`(${secret})`)).toHaveLength(1);
    }
    expect(formatFindings(scanCollected())).toBe('');
  });

  it('catches a token signature fragment written to the console', () => {
    const findings = plant(() => console.log(`signed …${signature.slice(10, 30)}…`));
    expect(findings).toContainEqual(
      expect.objectContaining({ source: 'console.log', kind: 'fragment of a token signature' }),
    );
  });

  it('catches a whole token on stderr by its signature and its parameters', () => {
    const findings = plant(() => process.stderr.write(`login with ${token}\n`));
    const kinds = findings.filter((f) => f.source === 'process.stderr').map((f) => f.kind);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'a token signature',
        'token parameter X-Amz-Signature=',
        'token parameter X-Amz-Security-Token=',
        'token parameter X-Amz-Credential=',
      ]),
    );
  });

  it('catches the secret key and session token in a logged credentials object', () => {
    const findings = plant(() => console.error('credentials:', { ...TEST_SESSION_KEY }));
    const kinds = findings.map((f) => f.kind);
    expect(kinds).toEqual(
      expect.arrayContaining(['a secret access key', 'a session token', 'credential field with a value']),
    );
  });

  it('catches a secret in a pool event payload', () => {
    const findings = plant(() =>
      (pool.iam as unknown as EventEmitter).emit('retry', {
        attempt: 1,
        reason: 'transient',
        code: `sig=${signature}`,
      }),
    );
    expect(findings).toContainEqual(
      expect.objectContaining({ source: 'event retry', kind: 'a token signature' }),
    );
  });

  it('catches a token carried by the cause of a typed error', () => {
    const findings = plant(() => {
      const error = new IamConnectError('could not connect', new Error(`server echoed ${token}`));
      expect(error.message).not.toContain(signature); // the message itself is redacted...
    });
    // ...but util.inspect prints the cause, and the scan sees it.
    expect(findings.some((f) => f.source.endsWith('(util.inspect)') && f.kind === 'a token signature')).toBe(
      true,
    );
  });

  it('catches a secret published on a library diagnostics channel, however it was created', () => {
    const findings = plant(() => {
      diagnosticsChannel.channel('rds-iam-pool:planted').publish({ token });
      channel('rds-iam-pool:planted-named').publish({ secret: TEST_SESSION_KEY.secretAccessKey });
      channel('another-library:planted').publish({ token }); // not ours: not subscribed
    });
    const sources = new Set(findings.map((f) => f.source));
    expect(sources).toEqual(
      new Set(['diagnostics_channel rds-iam-pool:planted', 'diagnostics_channel rds-iam-pool:planted-named']),
    );
  });

  it('catches a token kept on an inspected pool, as a string or as the bytes of a Buffer', () => {
    const planted = { enumerable: true, configurable: true };
    const findings = plant(() => {
      const state = leakScanState();
      // resetCollected() forgot the pool and handle; put them back with something planted on each.
      Object.defineProperty(pool.pool, 'lastPacket', { ...planted, value: Buffer.from(`${token}\0`) });
      Object.defineProperty(pool.iam, 'lastToken', { ...planted, value: token });
      state.pools.add(pool.pool);
      state.handles.add(pool.iam);
    });
    Reflect.deleteProperty(pool.pool, 'lastPacket');
    Reflect.deleteProperty(pool.iam, 'lastToken');
    expect(findings.map((f) => f.source)).toEqual(
      expect.arrayContaining([
        'mysql2 pool of createIamPool (util.inspect) (bytes shown as hex)',
        'pool.iam (util.inspect)',
      ]),
    );
  });

  it("catches a token in mysql2's packet dump (debug: true prints every packet as hex)", async () => {
    resetCollected();
    const state = leakScanState();
    state.muted = true;
    try {
      const connection = await mysql.createConnection({
        host: fx.emulator.host,
        port: fx.emulator.endpointPort,
        user: 'iam_app',
        database: fx.database,
        stream: () => net.connect(fx.emulator.port, '127.0.0.1'),
        ssl: { ca: fx.emulator.ca, rejectUnauthorized: true, verifyIdentity: true },
        authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
        debug: true,
      });
      await connection.end();
    } finally {
      state.muted = false;
    }
    const findings = scanCollected();
    resetCollected();
    expect(
      findings.some(
        (f) =>
          f.source === 'console.log (bytes shown as hex)' && f.kind === 'token parameter X-Amz-Signature=',
      ),
    ).toBe(true);
  });

  it('never prints the secret it found', () => {
    const findings = plant(() => console.log(`token=${token}`, { ...TEST_SESSION_KEY }));
    expect(findings.length).toBeGreaterThan(0);
    const report = formatFindings(findings);
    for (const secret of [signature, TEST_SESSION_KEY.secretAccessKey, TEST_SESSION_KEY.sessionToken]) {
      expect(report.includes(secret)).toBe(false);
      expect(report.includes(secret.slice(0, 16))).toBe(false);
    }
  });

  it('does not flag what the library is allowed to say', () => {
    const registry = new SecretRegistry();
    registry.add('a secret access key', TEST_SESSION_KEY.secretAccessKey);
    const refused = new IamLoginError(
      'RDS_IAM_ACCESS_DENIED',
      `IAM login refused with ${token}`,
      new Error("Access denied for user 'iam_app'@'127.0.0.1' (using password: YES)"),
      1045,
    );
    const texts = [
      refused.message,
      refused.hint,
      JSON.stringify(refused),
      'X-Amz-Date=20261126T100000Z X-Amz-Expires=900 AKIAEMULATORTEST0001',
      'sha1 0123456789abcdef0123456789abcdef01234567',
    ];
    expect(texts.flatMap((t) => scanText('allowed', t, registry))).toEqual([]);
  });

  it('fails a test file that leaks (vitest run on a planted-leak fixture)', async () => {
    const result = await run(
      process.execPath,
      [
        'node_modules/vitest/vitest.mjs',
        'run',
        '--config',
        'test/security/fixtures/vitest.planted-leak.config.ts',
      ],
      { cwd: root, timeout: 60_000, env: { ...process.env, CI: 'true', NO_COLOR: '1' } },
    ).then(
      () => ({ code: 0, output: '' }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({
        code: err.code,
        output: `${err.stdout ?? ''}${err.stderr ?? ''}`,
      }),
    );
    expect(result.code).toBe(1);
    expect(result.output).toContain('Secret-leak scan: 2 finding(s)');
    expect(result.output).toContain('console.log: token parameter X-Amz-Signature=');
    expect(result.output).toContain('console.log: signature-shaped hex (64 digits)');
  });
});
