import type { EventEmitter } from 'node:events';
import type { AuthPlugin } from 'mysql2';
import { createAuthPlugins } from './auth-plugin.js';

// MySQL's "access denied" errors: the server refused the token.
const ACCESS_DENIED = new Set([1045, 1698]);

export interface TrackedLoginHooks {
  /** The token for a login, with the signing time that identifies it to the cache. */
  token(): Promise<{ token: string; signedAt: number }>;
  /** Runs after the token is chosen and before it is sent (the pool's login rate cap). */
  beforeSend?(): Promise<void>;
  /** The server refused a login (1045 / 1698); `tokenSignedAt` names the token it sent. */
  refused(tokenSignedAt: number | undefined, error: { errno: number; code?: string }): void;
  /** The server accepted a login. */
  succeeded?(): void;
}

/** Which token one login sent, once it sent one. */
interface LoginRecord {
  tokenSignedAt?: number;
}

/**
 * The IAM `authPlugins` (see auth-plugin.ts), with each login's outcome seen where it happens:
 * mysql2 hands the plugin the handshake command, which emits `error` when the server refuses the
 * login and `end` when the handshake is over. A refusal names the token that login sent, so the
 * cache drops that token and only that one: many logins refused with one token cause one signing,
 * and a caller's retry always finds a new token.
 */
export function createTrackedAuthPlugins(hooks: TrackedLoginHooks): Record<string, AuthPlugin> {
  // The token getter of one login, noting which token that login sends. A closure per login
  // rather than an AsyncLocalStorage: once used, async context tracking slows every promise in
  // the process on Node 20.
  const pluginsFor = (login: LoginRecord) =>
    createAuthPlugins(async () => {
      const { token, signedAt } = await hooks.token();
      login.tokenSignedAt = signedAt;
      await hooks.beforeSend?.();
      return token;
    });
  return {
    ...pluginsFor({}),
    mysql_clear_password: (context) => {
      const login: LoginRecord = {};
      // The handshake already has mysql2's own listeners, so these change nothing in its flow.
      const command = context.command as unknown as EventEmitter;
      let failed = false;
      command.once('error', (err: { errno?: unknown; code?: string }) => {
        failed = true;
        if (typeof err?.errno === 'number' && ACCESS_DENIED.has(err.errno)) {
          hooks.refused(login.tokenSignedAt, { errno: err.errno, ...(err.code ? { code: err.code } : {}) });
        }
      });
      command.once('end', () => {
        if (!failed) hooks.succeeded?.();
      });
      const clearPassword = pluginsFor(login).mysql_clear_password;
      if (clearPassword === undefined) throw new Error('auth-plugin.ts has no mysql_clear_password plugin');
      return clearPassword(context);
    },
  };
}
