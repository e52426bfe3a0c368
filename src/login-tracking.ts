import { AsyncLocalStorage } from 'node:async_hooks';
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
 * The login a token request belongs to. The plugin's answer runs inside it, so the token getter
 * can note which token this login sends.
 */
const currentLogin = new AsyncLocalStorage<LoginRecord>();

/**
 * The IAM `authPlugins` (see auth-plugin.ts), with each login's outcome seen where it happens:
 * mysql2 hands the plugin the handshake command, which emits `error` when the server refuses the
 * login and `end` when the handshake is over. A refusal names the token that login sent, so the
 * cache drops that token and only that one: many logins refused with one token cause one signing,
 * and a caller's retry always finds a new token.
 */
export function createTrackedAuthPlugins(hooks: TrackedLoginHooks): Record<string, AuthPlugin> {
  const plugins = createAuthPlugins(async () => {
    const { token, signedAt } = await hooks.token();
    const login = currentLogin.getStore();
    if (login) login.tokenSignedAt = signedAt;
    await hooks.beforeSend?.();
    return token;
  });
  const clearPassword = plugins.mysql_clear_password;
  if (clearPassword === undefined) return plugins;
  return {
    ...plugins,
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
      const answer = clearPassword(context);
      return (data) => currentLogin.run(login, () => answer(data));
    },
  };
}
