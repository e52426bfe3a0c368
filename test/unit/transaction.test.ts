/**
 * withTransaction's decisions, with a fake pool whose connections fail on cue: which failures run
 * the body again, and which reach the caller (the COMMIT whose answer was lost above all). The
 * errors are shaped as mysql2 and the pool shape them; test/integration/request-outcome.test.ts
 * cuts real connections.
 */
import { describe, expect, it } from 'vitest';
import { IamAcquireTimeoutError, IamTransactionOutcomeUnknownError } from '../../src/errors.js';
import { isSafeToRetry, requestOutcome } from '../../src/outcome.js';
import { type TransactionPool, withTransaction } from '../../src/transaction.js';

/** A lost connection's error as mysql2 reports it to the command in flight (the pool marks it so). */
function lostInFlight(): Error {
  const error = Object.assign(new Error('Connection lost: The server closed the connection.'), {
    code: 'PROTOCOL_CONNECTION_LOST',
    fatal: true,
  });
  return error;
}

/** mysql2's error for a statement given to a connection that had already failed: never sent. */
function closedState(): Error {
  return Object.assign(new Error("Can't add new command when connection is in closed state"), {
    fatal: true,
  });
}

type Step = 'begin' | 'commit';

/** A pool whose nth connection fails `failures[n]` (at BEGIN or COMMIT, with that error). */
function fakePool(failures: Array<{ at: Step; error: Error } | undefined>) {
  const log: string[] = [];
  let n = 0;
  const pool: TransactionPool = {
    getConnection: async () => {
      const failure = failures[n++];
      const connection = {
        beginTransaction: async () => {
          log.push('begin');
          if (failure?.at === 'begin') throw failure.error;
        },
        commit: async () => {
          log.push('commit');
          if (failure?.at === 'commit') throw failure.error;
        },
        rollback: async () => {
          log.push('rollback');
          if (failure) throw failure.error;
        },
        release: () => log.push('release'),
        destroy: () => log.push('destroy'),
      };
      return connection as never;
    },
  };
  return { pool, log };
}

describe('withTransaction', () => {
  it('runs the body again when the connection was already lost (nothing sent), and returns its result', async () => {
    const { pool, log } = fakePool([{ at: 'begin', error: closedState() }]);
    let runs = 0;
    expect(await withTransaction(pool, async () => ++runs)).toBe(1);
    expect(log).toEqual(['begin', 'rollback', 'destroy', 'begin', 'commit', 'release']);
  });

  it('never runs it again when the answer to COMMIT was lost: IamTransactionOutcomeUnknownError', async () => {
    // The error the pool's watcher marks for the command in flight (see mysql2-boundary).
    const error = lostInFlight();
    const { pool } = fakePool([{ at: 'commit', error }]);
    let runs = 0;
    const thrown = await withTransaction(pool, async () => ++runs).catch((e: unknown) => e);
    expect(runs).toBe(1);
    expect(thrown).toBeInstanceOf(IamTransactionOutcomeUnknownError);
    expect(thrown).toMatchObject({
      code: 'RDS_IAM_TRANSACTION_OUTCOME_UNKNOWN',
      step: 'transaction',
      cause: error,
    });
    // What the caller can ask of it says the same: it may have run, never retry it blindly.
    expect(requestOutcome(thrown)).toBe('unknown');
    expect(requestOutcome(Object.assign(new Error('wrapped by an ORM'), { cause: thrown }))).toBe('unknown');
    expect(isSafeToRetry(thrown)).toBe(false);
  });

  it('retries a COMMIT that never left the client (the connection had failed before)', async () => {
    const { pool } = fakePool([{ at: 'commit', error: closedState() }]);
    let runs = 0;
    expect(await withTransaction(pool, async () => ++runs)).toBe(2);
  });

  it('retries a borrow that timed out, and stops after `attempts`', async () => {
    const timeout = new IamAcquireTimeoutError(10, 'db:3306', {
      total: 1,
      idle: 0,
      borrowed: 1,
      opening: 0,
      waiting: 1,
    });
    let borrows = 0;
    const pool: TransactionPool = {
      getConnection: async () => {
        borrows++;
        throw timeout;
      },
    };
    await expect(withTransaction(pool, async () => 1, { attempts: 2 })).rejects.toBe(timeout);
    expect(borrows).toBe(2);
    await expect(withTransaction(pool, async () => 1, { attempts: 0 })).rejects.toThrow(RangeError);
  });

  it('does not retry an error of the body that is not a database error', async () => {
    const { pool } = fakePool([]);
    let runs = 0;
    const error = await withTransaction(pool, async () => {
      runs++;
      throw new Error('no');
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('no');
    expect(runs).toBe(1);
  });
});

describe('requestOutcome through the errors ORMs wrap', () => {
  const readOnly = Object.assign(new Error('The MySQL server is running with the --read-only option'), {
    errno: 1290,
    code: 'ER_OPTION_PREVENTS_STATEMENT',
  });
  it.each([
    ['mysql2 itself', readOnly],
    ["Drizzle's DrizzleQueryError (cause)", Object.assign(new Error('Failed query'), { cause: readOnly })],
    [
      "Sequelize's DatabaseError (parent, original)",
      Object.assign(new Error('x'), { parent: readOnly, original: readOnly }),
    ],
    ["TypeORM's QueryFailedError (driverError)", Object.assign(new Error('x'), { driverError: readOnly })],
  ])('%s', (_, error) => {
    expect(requestOutcome(error)).toBe('answered');
    expect(isSafeToRetry(error)).toBe(true);
  });

  it('an unmarked lost connection (a connection the pool did not watch) is unknown, never safe', () => {
    expect(requestOutcome(lostInFlight())).toBe('unknown');
    expect(isSafeToRetry(lostInFlight())).toBe(false);
  });
});
