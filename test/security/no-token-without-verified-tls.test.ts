import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  generateCertificateAuthority,
  issueServerCertificate,
  type ServerCertificate,
} from '../../src/emulator/certificates.js';
import { createIamPool, type IamAuthError, IamLoginError, IamTlsError } from '../../src/index.js';
import { type RawServerOptions, type RecordingServer, startRecordingServer } from './raw-tls-server.js';

const HOST = 'mydb.abc123.us-east-1.rds.amazonaws.com';
const KEY = { accessKeyId: 'AKIARAWSERVERTEST001', secretAccessKey: 'raw-server-test-secret-not-real' };

/** What a token would put on the wire: any of these in the server's plaintext means it was sent. */
function carriesToken(bytes: Buffer): boolean {
  const text = bytes.toString('latin1');
  return ['X-Amz-Signature=', 'X-Amz-Credential=', 'Action=connect', KEY.accessKeyId].some((needle) =>
    text.includes(needle),
  );
}

describe('the auth plugin sends the token only on a verified TLS socket (raw recording server)', () => {
  let trusted: ServerCertificate;
  let otherHost: ServerCertificate;
  let untrusted: ServerCertificate;
  let server: RecordingServer | undefined;

  beforeAll(async () => {
    const ca = await generateCertificateAuthority('raw-server trusted test CA');
    [trusted, otherHost, untrusted] = await Promise.all([
      issueServerCertificate(ca, [HOST]),
      issueServerCertificate(ca, ['other.abc123.us-east-1.rds.amazonaws.com']),
      issueServerCertificate(await generateCertificateAuthority('raw-server unknown CA'), [HOST]),
    ]);
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  afterAll(async () => {
    await server?.close();
  });

  /** One login attempt (no retries) through createIamPool, trusting only `trusted`'s CA. */
  async function attempt(options: RawServerOptions) {
    server = await startRecordingServer(options);
    const pool = createIamPool({
      host: HOST,
      user: 'app_iam',
      connectHost: '127.0.0.1',
      connectPort: server.port,
      ssl: { ca: trusted.caPem },
      credentials: async () => ({ ...KEY }),
      connectTimeout: 3000,
      retry: { retries: 0 },
    });
    let signed = 0;
    pool.iam.on('tokenSigned', () => signed++);
    try {
      const error = (await pool.query('SELECT 1').then(
        () => new Error('the login unexpectedly succeeded'),
        (err: unknown) => err,
      )) as IamAuthError;
      return { error, signed, stats: pool.iam.stats() };
    } finally {
      await pool.end();
    }
  }

  it.each([
    ['offers no TLS', { mode: 'plaintext' }, 'RDS_IAM_TLS_REQUIRED'],
    ['offers TLS but asks for the password on the plain socket', { mode: 'tls-offered-never-started' }, null],
    [
      'presents a certificate from an unknown CA',
      { mode: 'tls', cert: 'untrusted' },
      'RDS_IAM_TLS_VERIFY_FAILED',
    ],
    [
      'presents a trusted certificate for another host',
      { mode: 'tls', cert: 'otherHost' },
      'RDS_IAM_TLS_VERIFY_FAILED',
    ],
  ] as const)('receives no token when the server %s', async (_name, setup, code) => {
    const certificate = 'cert' in setup ? { untrusted, otherHost }[setup.cert] : undefined;
    const { error, signed, stats } = await attempt({
      mode: setup.mode,
      ...(certificate ? { certificate } : {}),
    });

    expect(error).toBeInstanceOf(IamTlsError);
    expect(error.step).toBe('tls');
    if (code) expect(error.code).toBe(code);
    // Nothing reached the server: not on the wire, not inside TLS.
    expect(server?.tlsSessions()).toBe(0);
    expect(carriesToken(server?.wire() ?? Buffer.alloc(0))).toBe(false);
    expect(carriesToken(server?.plaintext() ?? Buffer.alloc(0))).toBe(false);
    // The token was not even signed: the TLS check comes before the token cache.
    expect(signed).toBe(0);
    expect(stats.tokensSigned).toBe(0);
    // Without TLS on offer the client hangs up at the greeting; otherwise the server did get bytes
    // (an SSLRequest, a handshake response or a ClientHello), so "no token" is not a deaf recorder.
    if (setup.mode === 'plaintext') expect(server?.wire().length).toBe(0);
    else expect(server?.wire().length).toBeGreaterThan(0);
  });

  it('does send the token over TLS verified against the CA and host (the recorder can see one)', async () => {
    const { error, signed } = await attempt({ mode: 'tls', certificate: trusted });

    // The raw server refuses every login after reading the password.
    expect(error).toBeInstanceOf(IamLoginError);
    expect(signed).toBe(1);
    expect(server?.tlsSessions()).toBe(1);
    expect(carriesToken(server?.plaintext() ?? Buffer.alloc(0))).toBe(true);
    // Inside TLS only: the wire never shows it.
    expect(carriesToken(server?.wire() ?? Buffer.alloc(0))).toBe(false);
  });
});
