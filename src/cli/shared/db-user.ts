import { UsageError } from './failures.js';

/** Engines whose user-creation syntax differs. Aurora MySQL is `mysql`. */
export type Engine = 'mysql' | 'mariadb';

/**
 * Longest user name each engine accepts (MySQL 5.7.8+ and 8.x: 32; MariaDB: 80). The same name
 * appears in the token (DBUser) and in the policy ARN, and must match in case.
 */
export const MAX_USER_LENGTH: Record<Engine, number> = { mysql: 32, mariadb: 80 };

// Letters, digits and _ . - $: safe inside quotes in SQL and as the last part of an IAM ARN.
const USER_NAME = /^[A-Za-z0-9_.$-]+$/;

/** Checks a database user name for use in SQL and ARNs; throws a usage error naming the problem. */
export function validateUserName(name: string, maxLength: number): string {
  if (!USER_NAME.test(name)) {
    throw new UsageError(
      `--user "${name}" has characters this tool does not put in SQL or an ARN`,
      'Use letters, digits, _ . - or $ (the name is case-sensitive in the token and the policy).',
    );
  }
  if (name.length > maxLength) {
    throw new UsageError(`--user "${name}" is longer than ${maxLength} characters`);
  }
  return name;
}

export function parseEngine(value: string | undefined): Engine {
  const engine = (value ?? 'mysql').toLowerCase();
  if (engine === 'mysql' || engine === 'aurora-mysql') return 'mysql';
  if (engine === 'mariadb') return 'mariadb';
  throw new UsageError(`--engine must be mysql or mariadb, got "${value}"`, 'Aurora MySQL is mysql.');
}
