/**
 * Sequelize v6 with IAM login. Sequelize accepts no external pool: it creates every connection
 * itself with `mysql2.createConnection({ host, port, user, ...dialectOptions })`. The IAM parts go in
 * through `dialectOptions` (TLS, the token plugin, the tunnel stream), and no password is ever set:
 * each login asks one shared token cache for its token, so nothing goes stale after 15 minutes and a
 * refresh window costs one signing however many connections Sequelize opens.
 */
import { type Options, Sequelize } from 'sequelize';
import {
  createIamConnectionOptions,
  type IamConnectionHandle,
  type IamConnectionOptionsInput,
} from '../connection/iam-connection-options.js';
import { checkConnectionOptions } from '../connection/mysql2-options.js';
import { IamOptionsError } from '../errors.js';
import { type IamPoolOptions, resolveOptions } from '../options.js';

/** Sequelize's options, minus what IAM login provides (dialect, endpoint, credentials, database). */
export type IamSequelizeOptions = Omit<
  Options,
  | 'dialect'
  | 'dialectModule'
  | 'dialectModulePath'
  | 'host'
  | 'port'
  | 'username'
  | 'password'
  | 'database'
  | 'replication'
  | 'native'
  | 'ssl'
>;

/** A Sequelize instance whose connections log in with IAM tokens. */
export type IamSequelize = Sequelize & {
  /** Token and login stats, events and `invalidateToken()`. */
  readonly iam: IamConnectionHandle;
};

/**
 * Creates a Sequelize instance (dialect `mysql`, driver mysql2) for an IAM user. `options` are
 * the IAM options plus mysql2 connection options (`database`, `charset`...); `sequelizeOptions` are
 * Sequelize's own (`pool`, `logging`, `define`, `retry`...). There is no login retry inside a
 * connect: see docs/orms.md for Sequelize's `retry.match`.
 */
export function createIamSequelize(
  options: IamConnectionOptionsInput,
  sequelizeOptions: IamSequelizeOptions = {},
): IamSequelize {
  const dialectOptions = (sequelizeOptions.dialectOptions ?? {}) as Record<string, unknown>;
  for (const key of ['password', 'host', 'username'] as const) {
    if ((sequelizeOptions as Record<string, unknown>)[key] !== undefined) {
      throw new IamOptionsError(
        key,
        'is set in the Sequelize options, but IAM login manages it',
        'Remove it; the IAM options (the first argument) name the endpoint and user.',
      );
    }
  }
  // dialectOptions are mysql2 connection options too: they are checked exactly like the IAM
  // options' own (owned options, debug, uri, TLS...), and errors name them as dialectOptions.*.
  for (const [key, value] of Object.entries(dialectOptions)) {
    if (value === undefined) continue;
    try {
      resolveOptions({ ...options, [key]: value } as IamPoolOptions);
    } catch (error) {
      if (error instanceof IamOptionsError) throw error.under('dialectOptions');
      throw error;
    }
  }
  const connection = createIamConnectionOptions({
    ...dialectOptions,
    ...options,
  } as IamConnectionOptionsInput);
  // Spread last by Sequelize into mysql2's options: TLS, the token plugin and the stream.
  const iamDialectOptions = { ...dialectOptions, ...connection };
  // The options Sequelize will hand mysql2 (lib/dialects/mysql/connection-manager.js), checked
  // as mysql2 will read them.
  checkConnectionOptions(
    { database: options.database, flags: ['-FOUND_ROWS'], ...iamDialectOptions },
    connection,
  );
  const sequelize = new Sequelize({
    ...sequelizeOptions,
    dialect: 'mysql',
    host: connection.host,
    port: connection.port,
    username: connection.user,
    ...(options.database === undefined ? {} : { database: options.database }),
    dialectOptions: iamDialectOptions,
  });
  Object.defineProperty(sequelize, 'iam', { value: connection.iam, enumerable: false });
  return sequelize as IamSequelize;
}
