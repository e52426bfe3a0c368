import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { IamAuthError, IamLoginError, IamTlsError, redactSecrets } from '../../src/errors.js';

const token =
  'db.abc.us-east-1.rds.amazonaws.com:3306/?Action=connect&DBUser=u&X-Amz-Algorithm=AWS4-HMAC-SHA256' +
  '&X-Amz-Credential=AKIAEXAMPLE0000000%2F20261126%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Date=20261126T100000Z' +
  '&X-Amz-Expires=900&X-Amz-Security-Token=FQoGZXIvYXdzEBYaDExample&X-Amz-Signature=' +
  'ab'.repeat(32) +
  '&X-Amz-SignedHeaders=host';

describe('errors', () => {
  it('redacts every token-shaped fragment', () => {
    const out = redactSecrets(`login failed with ${token} and key AKIAABCDEFGHIJKLMNOP`);
    expect(out).not.toMatch(/X-Amz-Signature=|FQoGZXIvYXdzEBYaDExample|ab{0}(ab){32}|AKIAABCDEFGHIJKLMNOP/);
    expect(out).toContain('[REDACTED]');
  });

  it('keeps a stable code when mysql2 overwrites it', () => {
    const err = new IamTlsError('RDS_IAM_TLS_REQUIRED', 'no TLS');
    (err as unknown as { code: string }).code = 'AUTH_SWITCH_PLUGIN_ERROR';
    expect(err.code).toBe('RDS_IAM_TLS_REQUIRED');
    expect(err).toBeInstanceOf(IamAuthError);
    expect(err.step).toBe('tls');
  });

  it('carries step, hint and cause, and redacts a message built from a token', () => {
    const cause = new Error('Access denied');
    const err = new IamLoginError('RDS_IAM_ACCESS_DENIED', `refused ${token}`, cause, 1045);
    expect(err.cause).toBe(cause);
    expect(err.errno).toBe(1045);
    expect(err.step).toBe('login');
    expect(err.hint).toMatch(/AWSAuthenticationPlugin/);
    expect(err.hint).toMatch(/rds-db:connect/);
    for (const text of [err.message, err.stack ?? '', inspect(err), JSON.stringify(err)]) {
      expect(text).not.toContain('X-Amz-Signature=');
      expect(text).not.toContain('ab'.repeat(32));
    }
  });
});
