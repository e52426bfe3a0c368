/**
 * The types a user sees: compiled by `npm run typecheck` under `strict`, never run (it points at a
 * real AWS endpoint). Shows the pool as the mysql2/promise Pool it is, typed rows, and typed errors.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { RowDataPacket } from 'mysql2';
import type { Pool, PoolConnection } from 'mysql2/promise';
import { createIamPool, IamAuthError, type IamPool, type IamPoolOptions } from '../src/index.js';

interface OrderRow extends RowDataPacket {
  id: number;
  total: string;
}

const options: IamPoolOptions = {
  host: 'orders.cluster-abc123.eu-west-1.rds.amazonaws.com',
  user: 'app_iam',
  database: 'orders',
  connectionLimit: 10,
  namedPlaceholders: true,
  credentials: defaultProvider({ profile: 'orders' }),
};

export const pool: IamPool = createIamPool(options);
// It is a mysql2/promise Pool: anything that accepts one accepts it.
const asMysql2: Pool = pool;

export async function orderTotal(id: number): Promise<string | undefined> {
  try {
    const [rows] = await asMysql2.query<OrderRow[]>('SELECT id, total FROM orders WHERE id = :id', { id });
    return rows[0]?.total;
  } catch (err) {
    if (err instanceof IamAuthError) {
      console.error(`${err.code} at ${err.step}: ${err.message}\n${err.hint}`);
    }
    throw err;
  }
}

export async function inTransaction<T>(work: (connection: PoolConnection) => Promise<T>): Promise<T> {
  const connection = await pool.getConnection();
  try {
    await connection.beginTransaction();
    const result = await work(connection);
    await connection.commit();
    return result;
  } catch (err) {
    await connection.rollback();
    throw err;
  } finally {
    connection.release();
  }
}

export function tokenStats(): { signed: number; reused: number } {
  const { tokensSigned, cacheHits } = pool.iam.stats();
  return { signed: tokensSigned, reused: cacheHits };
}
