import { TLSSocket } from 'node:tls';
import type { AuthPlugin } from 'mysql2';
import { IamTlsError, IamUnsupportedAuthPluginError } from '../errors.js';
import {
  type AuthPluginContext,
  isLoginConnectionDead,
  loginConfig,
  loginSocket,
  watchLoginOutcome,
} from '../mysql2-boundary.js';
import { markTokenSent } from '../retry.js';

/** What one IAM login asks of its owner (a pool, a set of connection options, the doctor). */
export interface LoginHooks {
  /**
   * The token for this login to `host` (the connection's own host: a pool following an Aurora
   * failover connects to instance endpoints), with the signing time that identifies it to the cache.
   */
  token(host: string): Promise<{ token: string; signedAt: number }>;
  /**
   * Checks the effective options of the connection before its token is sent (the last line of
   * defence for options that reached mysql2 by a route no earlier check saw); throws to refuse.
   */
  checkConnection?(config: Record<string, unknown>): void;
  /** The server refused the login (1045 / 1698); `tokenSignedAt` names the token it sent. */
  refused(host: string, tokenSignedAt: number | undefined, error: { errno: number; code?: string }): void;
  /** The server accepted the login. */
  succeeded(): void;
}

/** Plugins a server may ask for that IAM login must not answer with an empty or wrong password. */
const REFUSED_PLUGINS = [
  'mysql_native_password',
  'caching_sha2_password',
  'sha256_password',
  'client_ed25519',
  'auth_gssapi_client',
  'dialog',
] as const;

// MySQL's "access denied" errors: the server refused the token.
const ACCESS_DENIED = new Set([1045, 1698]);

/**
 * The `authPlugins` for mysql2. `mysql_clear_password` answers with the IAM token, but only on a
 * TLS socket whose certificate verified: a server (or a man in the middle) that asks for the
 * password on a plaintext or unverified socket gets nothing. MariaDB asks for a cleartext password
 * before it checks REQUIRE SSL, and mysql2's own plugin answers on any socket, so this check is ours.
 * Every other password plugin is refused with a typed error instead of an empty password.
 */
export function createIamAuthPlugins(hooks: LoginHooks): Record<string, AuthPlugin> {
  const plugins: Record<string, AuthPlugin> = {
    mysql_clear_password: (context) => {
      // The token is signed for the host this connection logs in to, which TLS verified.
      const host = String(loginConfig(context).host ?? '');
      // Which token this login sent, once it sent one: a refusal drops that token and only that one,
      // so many logins refused with one token cause one signing.
      let tokenSignedAt: number | undefined;
      watchLoginOutcome(context, {
        failed: (err) => {
          if (tokenSignedAt !== undefined && typeof err === 'object' && err !== null)
            markTokenSent(err, tokenSignedAt);
          if (typeof err.errno === 'number' && ACCESS_DENIED.has(err.errno)) {
            hooks.refused(host, tokenSignedAt, {
              errno: err.errno,
              ...(typeof err.code === 'string' ? { code: err.code } : {}),
            });
          }
        },
        succeeded: () => hooks.succeeded(),
      });
      return async () => {
        try {
          assertVerifiedTls(loginSocket(context));
          hooks.checkConnection?.(loginConfig(context));
          const { token, signedAt } = await hooks.token(host);
          // The socket may have been closed or swapped while the token was being signed.
          assertVerifiedTls(loginSocket(context));
          tokenSignedAt = signedAt;
          return Buffer.from(`${token}\0`, 'utf8');
        } catch (error) {
          // mysql2 has already failed a connect whose socket closed meanwhile; an error now would
          // reach a connection that no longer listens (an unhandled rejection), so answer nothing.
          if (isLoginConnectionDead(context)) return null as unknown as Buffer;
          throw error;
        }
      };
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
  // Verified is not enough: a NULL cipher verifies the server and encrypts nothing.
  const cipher = stream.getCipher()?.name ?? '';
  const protocol = stream.getProtocol() ?? '';
  if (/NULL|anon|EXP/i.test(cipher) || !['TLSv1.2', 'TLSv1.3'].includes(protocol)) {
    throw new IamTlsError(
      'RDS_IAM_TLS_REQUIRED',
      `The server asked for the IAM token on a TLS session that does not protect it (${protocol || 'no protocol'}, ` +
        `${cipher || 'no cipher'}); the token was not sent`,
    );
  }
}

export type { AuthPluginContext };
