import { TLSSocket } from 'node:tls';
import type { AuthPlugin } from 'mysql2';
import { IamTlsError, IamUnsupportedAuthPluginError } from './errors.js';

/** Plugins a server may ask for that IAM login must not answer with an empty or wrong password. */
const REFUSED_PLUGINS = [
  'mysql_native_password',
  'caching_sha2_password',
  'sha256_password',
  'client_ed25519',
  'auth_gssapi_client',
  'dialog',
] as const;

/**
 * The `authPlugins` for mysql2. `mysql_clear_password` answers with the IAM token, but only on a
 * TLS socket whose certificate verified: a server (or a man in the middle) that asks for the
 * password on a plaintext or unverified socket gets nothing. MariaDB asks for a cleartext password
 * before it checks REQUIRE SSL, and mysql2's own plugin answers on any socket, so this check is ours.
 */
export function createAuthPlugins(getToken: () => Promise<string>): Record<string, AuthPlugin> {
  const plugins: Record<string, AuthPlugin> = {
    mysql_clear_password:
      ({ connection }) =>
      async () => {
        // mysql2 types `stream` loosely; it is the socket the password would be written to.
        const socket = () => (connection as unknown as { stream?: unknown }).stream;
        assertVerifiedTls(socket());
        const token = await getToken();
        // The socket may have been closed or swapped while the token was being signed.
        assertVerifiedTls(socket());
        return Buffer.from(`${token}\0`, 'utf8');
      },
  };
  for (const name of REFUSED_PLUGINS) {
    plugins[name] = () => () => {
      throw new IamUnsupportedAuthPluginError(name);
    };
  }
  return plugins;
}

function assertVerifiedTls(stream: unknown): void {
  if (!(stream instanceof TLSSocket)) {
    throw new IamTlsError(
      'RDS_IAM_TLS_REQUIRED',
      'The server asked for the IAM token on a connection without TLS; the token was not sent',
    );
  }
  if (!stream.authorized || stream.destroyed) {
    throw new IamTlsError(
      'RDS_IAM_TLS_REQUIRED',
      `The server asked for the IAM token on a TLS connection that is not verified (${String(stream.authorizationError ?? 'closed')}); the token was not sent`,
    );
  }
}
