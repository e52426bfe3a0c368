import type { AuthPlugin, ConnectionOptions, SslOptions } from 'mysql2';
import { IamOptionsError } from '../errors.js';
import { type IamHandle, IamLogin, type IamLoginEvents, type IamLoginStats } from '../login/login.js';
import {
  DEFAULT_POOL_BEHAVIOUR,
  type IamOptions,
  type IamPoolBehaviourOptions,
  type IamPoolOptions,
  type OwnedByIam,
  resolveOptions,
} from '../options.js';
import { checkConnectionOptions, iamConnectionOptions } from './mysql2-options.js';

/**
 * Options for connections that a library opens itself from a config object (Sequelize, MikroORM,
 * your own `mysql.createConnection`): the IAM options without `retry` and the pool behaviour
 * options, which only a pool created by `createIamPool` can apply, plus any mysql2 connection option.
 */
export type IamConnectionOptionsInput = Omit<
  ConnectionOptions,
  OwnedByIam | 'debug' | 'host' | 'port' | 'user' | 'ssl'
> &
  Omit<IamOptions, 'retry' | 'verifyWriter' | 'topologyFailover' | keyof IamPoolBehaviourOptions>;

/** Options only `createIamPool` can apply; refused here rather than silently ignored. */
const POOL_ONLY_OPTIONS = [
  'retry',
  'verifyWriter',
  'topologyFailover',
  ...Object.keys(DEFAULT_POOL_BEHAVIOUR),
];

/**
 * mysql2 `ConnectionOptions` that log in with IAM: every connection created from them asks the
 * shared token cache for a token at login, so the object never holds a password that can go stale.
 * `iam` (not enumerable, so copies and mysql2's option check ignore it) reports tokens and logins.
 */
export type IamConnectionOptions = ConnectionOptions & {
  host: string;
  port: number;
  user: string;
  ssl: SslOptions;
  authPlugins: Record<string, AuthPlugin>;
  readonly iam: IamConnectionHandle;
};

/** Counts of the logins made with connection options (see IamLoginStats). */
export type IamConnectionStats = IamLoginStats;

/** Events of connection options (see IamLoginEvents). */
export type IamConnectionEvents = IamLoginEvents;

/** The IAM side of connection options (`options.iam`): stats, events, the current token's times, `invalidateToken()`. */
export type IamConnectionHandle = IamHandle<IamConnectionStats, IamConnectionEvents>;

/**
 * mysql2 `ConnectionOptions` for an IAM user, for libraries that create connections themselves
 * from a config object. Host, port, user, TLS (verified, RDS CAs by default), the
 * `mysql_clear_password` plugin (sends a token only over verified TLS) and, with `connectHost`,
 * the tunnel `stream`; every other mysql2 option you pass is kept.
 *
 * All connections made from one result share one token cache: one signing per refresh window, not
 * one per connection. A login the server refuses drops the token it sent, so the next login signs
 * anew. There is no login retry here (that lives in `createIamPool`): where a library accepts a
 * pool, hand it `createIamPool()` instead.
 */
export function createIamConnectionOptions(options: IamConnectionOptionsInput): IamConnectionOptions {
  for (const option of POOL_ONLY_OPTIONS) {
    if ((options as Record<string, unknown> | null)?.[option] !== undefined) {
      throw new IamOptionsError(
        option,
        'has no effect on connections a library opens itself from connection options',
        'Remove it, or pass createIamPool() to libraries that accept a pool: only a pool retries logins, ' +
          'times out acquires, validates and retires connections.',
      );
    }
  }
  const resolved = resolveOptions(options as IamPoolOptions);
  const login = new IamLogin(resolved);
  const connectionOptions = iamConnectionOptions(resolved, login.hooks());
  // What mysql2 will really use, after it read every option.
  checkConnectionOptions(connectionOptions, connectionOptions);
  Object.defineProperty(connectionOptions, 'iam', { value: login.view(), enumerable: false });
  return connectionOptions as IamConnectionOptions;
}
