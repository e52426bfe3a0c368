import { describe, expect, it } from 'vitest';
import { IamConnectError, IamTlsError } from '../../src/errors.js';
import { classifyConnectError, toIamError } from '../../src/retry.js';

/** An error as mysql2 reports it during the TLS upgrade: Node's code overwritten. */
function handshakeError(message: string): Error {
  return Object.assign(new Error(message), { code: 'HANDSHAKE_SSL_ERROR' });
}

describe('connect error classification', () => {
  it.each([
    [{ errno: 1045, code: 'ER_ACCESS_DENIED_ERROR' }, 'auth-rejected'],
    [{ errno: 1698 }, 'auth-rejected'],
    [{ code: 'ECONNREFUSED' }, 'transient'],
    [{ code: 'PROTOCOL_CONNECTION_LOST' }, 'transient'],
    [{ errno: 1040 }, 'transient'],
    [{ errno: 1524 }, 'final'],
    [{ errno: 1044 }, 'final'],
    [{ code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, 'final'],
    [{ code: 'SELF_SIGNED_CERT_IN_CHAIN' }, 'final'],
    [{ code: 'HANDSHAKE_NO_SSL_SUPPORT' }, 'final'],
  ])('%o is %s', (error, expected) => {
    expect(classifyConnectError(Object.assign(new Error('x'), error))).toBe(expected);
  });

  it('retries a TLS handshake the server cut off, as a network error', () => {
    const cut = handshakeError(
      'Client network socket disconnected before secure TLS connection was established',
    );
    expect(classifyConnectError(cut)).toBe('transient');
    expect(toIamError(cut, 'db:3306')).toBeInstanceOf(IamConnectError);
  });

  it('does not retry a certificate that failed verification', () => {
    const untrusted = handshakeError('self-signed certificate in certificate chain');
    expect(classifyConnectError(untrusted)).toBe('final');
    expect(toIamError(untrusted, 'db:3306')).toMatchObject({ code: 'RDS_IAM_TLS_VERIFY_FAILED' });
    expect(toIamError(untrusted, 'db:3306')).toBeInstanceOf(IamTlsError);
  });

  it('leaves errors outside the IAM flow as mysql2 gave them', () => {
    const unknownDb = Object.assign(new Error("Unknown database 'x'"), { errno: 1049 });
    expect(toIamError(unknownDb, 'db:3306')).toBe(unknownDb);
  });
});
