import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { describe, expect, it, vi } from 'vitest';
import { IamTlsError, IamUnsupportedAuthPluginError } from '../../src/errors.js';
import { createIamAuthPlugins } from '../../src/login/auth-plugin.js';

type PluginContext = Parameters<ReturnType<typeof createIamAuthPlugins>[string]>[0];

/** The plugins with a token getter and no-op login hooks. */
function createAuthPlugins(getToken: () => Promise<string>) {
  return createIamAuthPlugins({
    token: async () => ({ token: await getToken(), signedAt: 0 }),
    refused: () => {},
    succeeded: () => {},
  });
}

function answer(plugins: ReturnType<typeof createIamAuthPlugins>, name: string, stream: unknown) {
  const plugin = plugins[name];
  if (!plugin) throw new Error(`no plugin ${name}`);
  return Promise.resolve().then(() =>
    plugin({ connection: { stream }, command: '' } as unknown as PluginContext)(Buffer.alloc(0)),
  );
}

describe('mysql_clear_password plugin', () => {
  it('refuses a plaintext socket without asking for a token', async () => {
    const getToken = vi.fn(async () => 'token');
    const err = await answer(createAuthPlugins(getToken), 'mysql_clear_password', new Socket()).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(IamTlsError);
    expect((err as IamTlsError).code).toBe('RDS_IAM_TLS_REQUIRED');
    expect(getToken).not.toHaveBeenCalled();
  });

  it('refuses a TLS socket whose certificate did not verify', async () => {
    const getToken = vi.fn(async () => 'token');
    const tls = new TLSSocket(new Socket());
    expect(tls.authorized).toBe(false);
    const err = await answer(createAuthPlugins(getToken), 'mysql_clear_password', tls).catch(
      (e: unknown) => e,
    );
    tls.destroy();
    expect(err).toBeInstanceOf(IamTlsError);
    expect(getToken).not.toHaveBeenCalled();
  });

  /** A TLS socket that reports a verified session with this protocol and cipher. */
  function verifiedTls(protocol = 'TLSv1.3', cipher = 'TLS_AES_128_GCM_SHA256'): TLSSocket {
    const tls = new TLSSocket(new Socket());
    Object.defineProperty(tls, 'authorized', { value: true });
    Object.defineProperty(tls, 'getProtocol', { value: () => protocol });
    Object.defineProperty(tls, 'getCipher', {
      value: () => ({ name: cipher, standardName: cipher, version: protocol }),
    });
    return tls;
  }

  // Fails on the code before 2026-12, which checked only that the certificate verified.
  it.each([
    ['TLSv1.2', 'NULL-SHA256'],
    ['TLSv1.2', 'ECDHE-RSA-NULL-SHA'],
    ['TLSv1.2', 'ADH-AES128-GCM-SHA256-anon'],
    ['TLSv1.1', 'ECDHE-RSA-AES128-SHA'],
  ])('refuses a verified session that does not protect the token (%s, %s)', async (protocol, cipher) => {
    const getToken = vi.fn(async () => 'token');
    const tls = verifiedTls(protocol, cipher);
    const err = await answer(createAuthPlugins(getToken), 'mysql_clear_password', tls).catch(
      (e: unknown) => e,
    );
    tls.destroy();
    expect(err).toBeInstanceOf(IamTlsError);
    expect((err as Error).message).toContain(cipher);
    expect(getToken).not.toHaveBeenCalled();
  });

  it('answers with the NUL-terminated token on a verified TLS socket', async () => {
    const tls = verifiedTls();
    const data = await answer(
      createAuthPlugins(async () => 'the-token'),
      'mysql_clear_password',
      tls,
    );
    tls.destroy();
    expect(data).toEqual(Buffer.from('the-token\0'));
  });

  it.each(['mysql_native_password', 'caching_sha2_password', 'sha256_password', 'client_ed25519'])(
    'answers a request for %s with a clear error',
    async (name) => {
      const err = await answer(
        createAuthPlugins(async () => 't'),
        name,
        new Socket(),
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IamUnsupportedAuthPluginError);
      expect((err as IamUnsupportedAuthPluginError).hint).toMatch(/AWSAuthenticationPlugin/);
    },
  );
});
