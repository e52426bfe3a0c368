import { describe, expect, it } from 'vitest';
import { explainLoginFailure, type LoginFailure } from '../../src/cli/doctor/login-causes.js';
import type { CredentialFacts } from '../../src/cli/shared/credentials.js';
import type { Endpoint } from '../../src/cli/shared/endpoint.js';
import { IamUnsupportedAuthPluginError } from '../../src/index.js';
import { toIamError } from '../../src/retry.js';

const endpoint: Endpoint = {
  hostname: 'mydb.abc123.eu-west-1.rds.amazonaws.com',
  port: 3306,
  username: 'app_iam',
  region: 'eu-west-1',
  regionSource: 'host name',
  rdsName: true,
  connectHost: undefined,
  connectPort: undefined,
};
const longTermKey: CredentialFacts = {
  source: 'environment variables',
  sourceIds: ['CREDENTIALS_ENV_VARS'],
  profile: undefined,
  accessKeyId: 'AKIA****0001',
  temporary: false,
  expiration: undefined,
  accountId: '123456789012',
};

/** A mysql2-shaped server error, turned into the library's typed error as the login step does. */
function serverError(errno: number, message: string): unknown {
  return toIamError(Object.assign(new Error(message), { errno, code: 'ER' }), `${endpoint.hostname}:3306`);
}

function explain(overrides: Partial<LoginFailure>) {
  return explainLoginFailure({
    error: serverError(1045, "Access denied for user 'app_iam'@'10.0.0.5' (using password: YES)"),
    tokenSent: true,
    endpoint,
    database: undefined,
    credentials: longTermKey,
    tokenSignedAt: new Date('2026-11-26T12:00:00Z'),
    ...overrides,
  });
}

const ids = (outcome: ReturnType<typeof explain>) =>
  (outcome.causes ?? []).map((c) => `${c.id}${c.detected ? '!' : ''}`);

describe('why an IAM login failed (doctor login step)', () => {
  it('blames the backend login, not IAM, when the refusal names another account than the IAM user', () => {
    const outcome = explain({
      error: serverError(1045, "Access denied for user 'root'@'localhost' (using password: YES)"),
      endpoint: { ...endpoint, connectHost: '127.0.0.1', connectPort: 45123 },
    });
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toBe(
      "the refusal names 'root'@'localhost', not app_iam: Access denied for user 'root'@'localhost' (using password: YES)",
    );
    expect(outcome.details.join('\n')).toContain('whatever answers on 127.0.0.1');
    expect(ids(outcome)).toEqual(['backend-login!']);
    // The same refusal naming the IAM user is the usual IAM checklist.
    expect(ids(explain({}))).toContain('policy');
  });

  it('lists the checklist, with the policy ARN for the account the credentials carry, when nothing is detected', () => {
    const outcome = explain({});
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toBe(
      "the server refused the IAM login: Access denied for user 'app_iam'@'10.0.0.5' (using password: YES)",
    );
    expect(ids(outcome)).toEqual(['user-not-iam', 'policy', 'clock-skew', 'iam-auth-disabled']);
    const policy = outcome.causes?.find((c) => c.id === 'policy');
    expect(policy?.message).toContain('arn:aws:rds-db:eu-west-1:123456789012:dbuser:<DbiResourceId>/app_iam');
    expect(outcome.fix).toContain('iam-db-auth-error');
  });

  it('puts a detected cause first: a user refused before the token was asked for', () => {
    const outcome = explain({ tokenSent: false });
    expect(ids(outcome)).toEqual(['user-not-iam!']);
    expect(outcome.summary).toContain('before asking for the token');
  });

  it('detects a server that asks for a password plugin instead of the token', () => {
    const outcome = explain({
      error: new IamUnsupportedAuthPluginError('caching_sha2_password'),
      tokenSent: false,
    });
    expect(outcome.summary).toBe(
      'the server asked for caching_sha2_password, not for an IAM token; no token was sent',
    );
    expect(ids(outcome)).toEqual(['user-not-iam!']);
  });

  it('detects a host name that is not an RDS endpoint', () => {
    expect(ids(explain({ endpoint: { ...endpoint, hostname: 'db.example.com', rdsName: false } }))[0]).toBe(
      'wrong-host!',
    );
  });

  it('lists expired credentials only for temporary ones without a known expiry, and the port only when unusual', () => {
    const temporary = { ...longTermKey, temporary: true };
    expect(ids(explain({ credentials: temporary }))).toContain('credentials-expired');
    expect(ids(explain({ credentials: { ...temporary, expiration: new Date() } }))).not.toContain(
      'credentials-expired',
    );
    expect(ids(explain({}))).not.toContain('wrong-port');
    expect(ids(explain({ endpoint: { ...endpoint, port: 13306 } }))).toContain('wrong-port');
  });

  it('maps 1524 to IAM authentication not enabled, and 1044 / 1049 to the database', () => {
    expect(
      ids(explain({ error: serverError(1524, "Plugin 'AWSAuthenticationPlugin' is not loaded") })),
    ).toEqual(['iam-auth-disabled!']);
    expect(
      ids(explain({ error: serverError(1044, 'Access denied to database orders'), database: 'orders' })),
    ).toEqual(['database-access!']);
    expect(
      ids(explain({ error: serverError(1049, "Unknown database 'orderz'"), database: 'orderz' })),
    ).toEqual(['database-access!']);
  });
});
