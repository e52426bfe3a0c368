import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { IamConnectError, IamLoginError, IamTlsError } from '../../src/errors.js';
import { createIamAuthPlugins } from '../../src/login/auth-plugin.js';
import { classifyConnectError, toIamError } from '../../src/retry.js';

/** `error` as the server's answer to a login whose plugin sent a token. */
async function refusedAfterToken<E extends object>(error: E): Promise<E> {
  const command = new EventEmitter();
  const socket = new TLSSocket(new Socket());
  Object.defineProperty(socket, 'authorized', { value: true });
  const plugin = createIamAuthPlugins({
    token: async () => ({ token: 't', signedAt: 1 }),
    refused: () => {},
    succeeded: () => {},
  }).mysql_clear_password;
  const answer = plugin?.({ connection: { stream: socket }, command } as never);
  await answer?.(Buffer.alloc(0));
  command.emit('error', error);
  socket.destroy();
  return error;
}

/** An error as mysql2 reports it during the TLS upgrade: Node's code overwritten. */
function handshakeError(message: string): Error {
  return Object.assign(new Error(message), { code: 'HANDSHAKE_SSL_ERROR' });
}

describe('connect error classification', () => {
  it.each([
    [{ errno: 1045, code: 'ER_ACCESS_DENIED_ERROR' }, 'auth-rejected'],
    [{ errno: 1698 }, 'auth-rejected'],
  ])('%o after the token was sent is %s', async (error, expected) => {
    expect(classifyConnectError(await refusedAfterToken(Object.assign(new Error('x'), error)))).toBe(
      expected,
    );
  });

  it('does not retry a user refused before it was asked for a token, and says it is not an IAM user', () => {
    const refused = Object.assign(new Error("Access denied for user 'app'@'10.0.0.1' (using password: NO)"), {
      errno: 1045,
      code: 'ER_ACCESS_DENIED_ERROR',
    });
    expect(classifyConnectError(refused)).toBe('final');
    const error = toIamError(refused, 'db:3306');
    expect(error).toBeInstanceOf(IamLoginError);
    expect(error).toMatchObject({ code: 'RDS_IAM_NOT_IAM_USER', step: 'login', errno: 1045 });
    expect(error.hint).toMatch(/without asking for a token/);
  });

  it.each([
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

  it('types every connect failure, with the original error as its cause', () => {
    const unknownDb = Object.assign(new Error("Unknown database 'x'"), { errno: 1049 });
    expect(toIamError(unknownDb, 'db:3306')).toMatchObject({
      code: 'RDS_IAM_UNKNOWN_DATABASE',
      step: 'login',
      cause: unknownDb,
    });
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND db.example'), { code: 'ENOTFOUND' });
    expect(classifyConnectError(dns)).toBe('final');
    expect(toIamError(dns, 'db:3306')).toMatchObject({ code: 'RDS_IAM_CONNECT_FAILED', cause: dns });
    expect(toIamError(dns, 'db:3306 via tunnel.internal:3306').hint).toMatch(/connectHost/);
    const odd = Object.assign(new Error('Unexpected packet'), { code: 'PROTOCOL_UNEXPECTED_PACKET' });
    expect(toIamError(odd, 'db:3306')).toBeInstanceOf(IamConnectError);
  });
});
