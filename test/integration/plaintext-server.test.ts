import { afterEach, describe, expect, it } from 'vitest';
import { createIamPool, IamTlsError } from '../../src/index.js';
import { type RawServer, startPlaintextServer } from '../helpers/raw-mysql-server.js';

const credentials = async () => ({
  accessKeyId: 'AKIDPLAINTEXTTEST',
  secretAccessKey: 'plaintext-test-secret',
});

describe('a server that asks for the token without TLS', () => {
  let server: RawServer | undefined;
  afterEach(async () => {
    await server?.close();
  });

  it.each([
    ['does not offer TLS', false],
    ['offers TLS but never starts it', true],
  ])('receives no token when it %s', async (_name, offerTls) => {
    server = await startPlaintextServer({ offerTls });
    const pool = createIamPool({
      host: 'mydb.abc123.us-east-1.rds.amazonaws.com',
      user: 'app_iam',
      connectHost: '127.0.0.1',
      connectPort: server.port,
      credentials,
      connectTimeout: 2000,
      retry: { retries: 0 },
    });
    const signed: unknown[] = [];
    pool.iam.on('tokenSigned', (info) => signed.push(info));
    const error = await pool.query('SELECT 1').catch((err: unknown) => err);
    await pool.end();
    expect(error).toBeInstanceOf(IamTlsError);
    expect((error as IamTlsError).step).toBe('tls');
    const bytes = server.received().toString('latin1');
    expect(bytes).not.toContain('X-Amz');
    expect(bytes).not.toContain('Action=connect');
    expect(signed).toHaveLength(0); // the token was not even signed
  });
});
