import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport, StepId, StepStatus } from '../../src/cli/doctor/report.js';
import { type Emulator, startEmulator } from '../../src/emulator/index.js';
import {
  createEmulatorFixture,
  type EmulatorFixture,
  MARIADB,
  RUN_ID,
  TEST_KEY,
  TEST_SESSION_KEY,
} from '../helpers/emulator-harness.js';
import { type CliResult, cliEnv, runCli, runInProcess } from './run-cli.js';

/** Temporary credentials the emulator knows have expired (its `credentials-expired` refusal). */
const EXPIRED_SESSION_KEY = {
  accessKeyId: 'ASIAEMULATOREXPIRED1',
  secretAccessKey: 'emulator-expired-secret-not-a-real-key',
  sessionToken: 'emulator-expired-session-token-not-real',
  expiration: new Date(Date.now() - 60 * 60_000),
};
const SECRETS = [
  TEST_KEY.secretAccessKey,
  TEST_SESSION_KEY.secretAccessKey,
  TEST_SESSION_KEY.sessionToken,
  EXPIRED_SESSION_KEY.secretAccessKey,
  EXPIRED_SESSION_KEY.sessionToken,
];

const keyEnv = (key: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, extra = {}) =>
  cliEnv({
    AWS_ACCESS_KEY_ID: key.accessKeyId,
    AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
    AWS_SESSION_TOKEN: key.sessionToken,
    ...extra,
  });

let fixture: EmulatorFixture;
let plaintext: Emulator;
let workDir: string;
let caFile: string;
let closedPort: number;

beforeAll(async () => {
  [fixture, plaintext] = await Promise.all([
    createEmulatorFixture({
      name: 'cli_doctor',
      emulator: { keys: [TEST_KEY, TEST_SESSION_KEY, EXPIRED_SESSION_KEY] },
    }),
    startEmulator({
      backend: { host: MARIADB.host, port: MARIADB.port, user: MARIADB.user, password: MARIADB.password },
      users: { iam_app: {} },
      keys: [TEST_KEY],
      offerTls: false,
    }),
  ]);
  workDir = await mkdtemp(join(tmpdir(), 'rip-cli-doctor-'));
  caFile = join(workDir, 'emulator-ca.pem');
  await writeFile(caFile, fixture.emulator.ca);
  // A port nothing listens on: bind one, note it, close it.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closedPort = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

afterAll(async () => {
  await Promise.all([fixture?.teardown(), plaintext?.stop()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** The doctor pointed at the fixture's emulator, as a user would through a tunnel, with --json. */
function doctorArgs(overrides: Record<string, string | undefined> = {}): string[] {
  const flags: Record<string, string | undefined> = {
    hostname: fixture.emulator.host,
    port: String(fixture.emulator.endpointPort),
    username: 'iam_app',
    database: fixture.database,
    'connect-host': '127.0.0.1',
    'connect-port': String(fixture.emulator.port),
    ca: caFile,
    timeout: '10000',
    ...overrides,
  };
  const args = ['doctor', '--json'];
  for (const [name, value] of Object.entries(flags)) if (value !== undefined) args.push(`--${name}`, value);
  return args;
}

async function doctor(
  overrides: Record<string, string | undefined> = {},
  env = keyEnv(TEST_KEY),
): Promise<{ result: CliResult; report: DoctorReport; status: Record<StepId, StepStatus> }> {
  const result = await runCli(doctorArgs(overrides), env);
  for (const secret of SECRETS) {
    expect(result.stdout).not.toContain(secret);
    expect(result.stderr).not.toContain(secret);
  }
  expect(result.stdout).not.toContain('X-Amz-Signature');
  const report = JSON.parse(result.stdout) as DoctorReport;
  const status = Object.fromEntries(report.steps.map((s) => [s.id, s.status])) as Record<StepId, StepStatus>;
  return { result, report, status };
}

function step(report: DoctorReport, id: StepId) {
  const found = report.steps.find((s) => s.id === id);
  if (!found) throw new Error(`no step ${id} in the report`);
  return found;
}

describe.concurrent('rds-iam-pool doctor against the emulator', () => {
  it('passes every step for a good setup and shows CURRENT_USER() (exit 0)', async () => {
    const { result, report, status } = await doctor();
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.failedStep).toBeNull();
    expect(status).toEqual({
      options: 'pass',
      dns: 'pass',
      tcp: 'pass',
      tls: 'pass',
      credentials: 'pass',
      token: 'pass',
      login: 'pass',
      query: 'pass',
    });
    expect(step(report, 'query').summary).toContain(`CURRENT_USER() = ${fixture.backendUsers.iam_app}@`);
    expect(step(report, 'tls').details.join('\n')).toContain('trusted CA: CN=rds-iam-pool emulator test CA');
    expect(step(report, 'credentials').summary).toContain('environment variables');
    expect(step(report, 'credentials').details.join('\n')).toContain('AKIA****0001');
  });

  it('names the login step and a user without the IAM plugin for an unknown user', async () => {
    const before = fixture.emulator.stats().loginsRejected['unknown-user'] ?? 0;
    const { result, report, status } = await doctor({ username: 'nobody_here', database: undefined });
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(report.failedStep).toBe('login');
    expect(status).toMatchObject({ tls: 'pass', token: 'pass', login: 'fail', query: 'skip' });
    const causes = step(report, 'login').causes ?? [];
    expect(causes[0]).toMatchObject({ id: 'user-not-iam', detected: true });
    expect(step(report, 'login').fix).toContain('setup-sql --user nobody_here');
    expect(fixture.emulator.stats().loginsRejected['unknown-user']).toBe(before + 1);
  });

  it('fails at options, before signing anything, for a --region that contradicts the host name', async () => {
    const { result, report, status } = await doctor({ region: 'us-west-2' });
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(report.failedStep).toBe('options');
    expect(status).toMatchObject({ options: 'fail', token: 'skip', login: 'skip' });
    expect(step(report, 'options').summary).toContain('contradicts the host, which is in us-east-1');
    expect(step(report, 'options').fix).toContain('--region');
  });

  it('fails at tls, without attempting a login, when the certificate is not from a trusted CA', async () => {
    const { result, report, status } = await doctor({ ca: undefined });
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(report.failedStep).toBe('tls');
    expect(status).toMatchObject({
      tcp: 'pass',
      tls: 'fail',
      credentials: 'pass',
      token: 'pass',
      login: 'skip',
    });
    expect(step(report, 'tls').summary).toContain('does not chain to a trusted CA');
    expect(step(report, 'tls').fix).toContain('CN=rds-iam-pool emulator test CA');
    expect(step(report, 'login').summary).toContain('a token is sent only over verified TLS');
  });

  it('fails at tls and says no token was sent when the server offers no TLS', async () => {
    const { result, report, status } = await doctor({ 'connect-port': String(plaintext.port) });
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(report.failedStep).toBe('tls');
    expect(status).toMatchObject({ tcp: 'pass', tls: 'fail', login: 'skip', query: 'skip' });
    expect(step(report, 'tls').summary).toBe('the server does not offer TLS; no token was sent');
    // The plaintext server never received a login, let alone a token.
    expect(plaintext.stats().loginsRejected).toEqual({});
  });

  it('fails at tcp when nothing listens on the port', async () => {
    const { result, report, status } = await doctor({ 'connect-port': String(closedPort) });
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(report.failedStep).toBe('tcp');
    expect(step(report, 'tcp').summary).toContain('ECONNREFUSED');
    expect(step(report, 'tcp').fix).toContain('--connect-port');
    expect(status).toMatchObject({ dns: 'pass', tls: 'skip', credentials: 'pass', login: 'skip' });
    // A skipped step names the failure at its root, not the skipped step in between.
    expect(step(report, 'login').summary).toBe('not attempted: tcp failed');
  });

  it('fails at dns for a --connect-host that does not resolve, and points at the tunnel, not the RDS console', async () => {
    const { result, report, status } = await doctor({ 'connect-host': 'no-such-tunnel.invalid' });
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(report.failedStep).toBe('dns');
    expect(step(report, 'dns').summary).toBe('no-such-tunnel.invalid does not resolve (ENOTFOUND)');
    expect(step(report, 'dns').fix).toContain('--connect-host no-such-tunnel.invalid is where the tunnel');
    expect(step(report, 'dns').fix).not.toContain('RDS console');
    expect(status).toMatchObject({ tcp: 'skip', credentials: 'pass', login: 'skip' });
  });

  it('says the backend login failed, not IAM, when the refusal names the account the emulator maps to', async () => {
    // The emulator checks its backend accounts at start-up, so the password changes afterwards (a
    // rotated secret): every relayed login then fails with a refusal that names the backend account.
    const backendUser = `rip_doctor_backend_${RUN_ID}`;
    const root = await mysql.createConnection(MARIADB);
    await root.query(`DROP USER IF EXISTS '${backendUser}'@'%'`);
    await root.query(`CREATE USER '${backendUser}'@'%' IDENTIFIED BY 'first-password'`);
    const misMapped = await startEmulator({
      backend: { host: MARIADB.host, port: MARIADB.port, user: MARIADB.user, password: MARIADB.password },
      users: { iam_app: { backendUser, backendPassword: 'first-password' } },
      keys: [TEST_KEY],
    });
    try {
      await root.query(`ALTER USER '${backendUser}'@'%' IDENTIFIED BY 'rotated-password'`);
      const misMappedCa = join(workDir, 'mis-mapped-ca.pem');
      await writeFile(misMappedCa, misMapped.ca);
      const { result, report } = await doctor({ 'connect-port': String(misMapped.port), ca: misMappedCa });
      expect(result.code, result.stdout + result.stderr).toBe(1);
      expect(report.failedStep).toBe('login');
      const login = step(report, 'login');
      expect(login.summary).toMatch(new RegExp(`^the refusal names '${backendUser}'@'[^']+', not iam_app: `));
      expect(login.causes?.map((c) => `${c.id}${c.detected ? '!' : ''}`)).toEqual(['backend-login!']);
      expect(login.fix).toContain('--backend mysql://USER:PASSWORD@HOST:PORT');
    } finally {
      await misMapped.stop();
      await root.query(`DROP USER IF EXISTS '${backendUser}'@'%'`);
      await root.end();
    }
  });

  it('fails at credentials when the credentials say they have expired (AWS_CREDENTIAL_EXPIRATION)', async () => {
    const { result, report, status } = await doctor(
      {},
      keyEnv(EXPIRED_SESSION_KEY, {
        AWS_CREDENTIAL_EXPIRATION: EXPIRED_SESSION_KEY.expiration.toISOString(),
      }),
    );
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(report.failedStep).toBe('credentials');
    expect(status).toMatchObject({ tls: 'pass', credentials: 'fail', token: 'skip', login: 'skip' });
    expect(step(report, 'login').summary).toBe('not attempted: credentials failed');
    expect(step(report, 'credentials').summary).toContain(
      `expired at ${EXPIRED_SESSION_KEY.expiration.toISOString()}`,
    );
    expect(step(report, 'credentials').details.join('\n')).toContain('access key ASIA****RED1, temporary');
  });

  it('fails at login and lists expired credentials when their expiry is not known locally', async () => {
    const before = fixture.emulator.stats().loginsRejected['credentials-expired'] ?? 0;
    const { result, report, status } = await doctor({}, keyEnv(EXPIRED_SESSION_KEY));
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(report.failedStep).toBe('login');
    expect(status).toMatchObject({ credentials: 'pass', token: 'pass', login: 'fail' });
    expect(step(report, 'credentials').details).toContain('expiry not reported by the provider');
    const causes = step(report, 'login').causes ?? [];
    expect(causes.map((c) => c.id)).toContain('credentials-expired');
    expect(fixture.emulator.stats().loginsRejected['credentials-expired']).toBe(before + 1);
  });

  it('prints a readable report without colour when stdout is not a terminal', async () => {
    const args = doctorArgs({ username: 'iam_unknown' }).filter((a) => a !== '--json');
    const result = await runCli(args, keyEnv(TEST_KEY));
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stdout).toMatch(/^PASS options /m);
    expect(result.stdout).toMatch(/^PASS tls /m);
    expect(result.stdout).toMatch(/^FAIL login /m);
    expect(result.stdout).toContain('1 check failed (login)');
    expect(result.stdout).not.toContain('\u001b[');
    expect(result.stderr).toBe('');
  });

  it('fails at options, and runs nothing else, for an IP address as --hostname', async () => {
    const result = await runInProcess([
      'doctor',
      '--hostname',
      '10.1.2.3',
      '--username',
      'iam_app',
      '--json',
    ]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as DoctorReport;
    expect(report.failedStep).toBe('options');
    expect(report.steps.filter((s) => s.status !== 'skip').map((s) => s.id)).toEqual(['options']);
    expect(step(report, 'options').summary).toContain('--hostname is an IP address');
    expect(step(report, 'options').fix).toContain('--connect-host');
  });

  it('exits 2 without --username', async () => {
    const result = await runInProcess(['doctor', '--hostname', fixture.emulator.host]);
    expect(result.code, result.stdout + result.stderr).toBe(2);
    expect(result.stderr).toContain('--username is required');
  });
});
