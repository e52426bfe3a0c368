/**
 * An AWS Lambda handler that queries RDS / Aurora MySQL with IAM database authentication.
 *
 * The pool lives at module scope: it is created once per execution environment (at cold start)
 * and reused by every invocation that environment serves, so warm invocations neither sign a token
 * nor log in. Between invocations Lambda freezes the process; the server, a NAT or a failover may
 * drop the connection meanwhile. The pool pings a connection that sat idle before handing it out
 * and replaces a dead one, so the first query after a thaw succeeds instead of failing with
 * "Connection lost". Sizing and settings: docs/lambda.md, which shows this file (a test keeps the two
 * identical) and how to bundle it.
 */
// In your project: import { createIamPool } from 'rds-iam-pool';
import { createIamPool } from '../../src/index.js';

function setting(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`Set the ${name} environment variable`);
  return value;
}

// Module scope: created once per execution environment, at cold start, reused by every invocation.
export const pool = createIamPool({
  host: setting('DB_HOST'), // the RDS / Aurora / RDS Proxy endpoint name
  port: Number(setting('DB_PORT', '3306')),
  user: setting('DB_USER'), // created WITH AWSAuthenticationPlugin
  ...(process.env.DB_NAME ? { database: process.env.DB_NAME } : {}),
  // An execution environment runs one invocation at a time: one connection serves it, unless the
  // handler runs queries in parallel (Promise.all), then a few.
  connectionLimit: Number(setting('DB_POOL_SIZE', '1')),
  // Fail a query well inside the function's own timeout, with an error that says why.
  acquireTimeoutMs: Number(setting('DB_ACQUIRE_TIMEOUT_MS', '5000')),
  // Credentials: the function's execution role, through the default provider chain.
  // Local runs only (npm run example:lambda): reach the endpoint through the emulator.
  ...(process.env.DB_CONNECT_HOST
    ? { connectHost: process.env.DB_CONNECT_HOST, connectPort: Number(setting('DB_CONNECT_PORT')) }
    : {}),
  ...(process.env.DB_CA_PEM ? { ssl: { ca: process.env.DB_CA_PEM } } : {}),
});

export interface Event {
  orderId?: number;
}

export async function handler(event: Event): Promise<{ statusCode: number; body: string }> {
  const [rows] = await pool.query('SELECT CONNECTION_ID() AS connectionId, ? AS orderId', [
    event.orderId ?? 0,
  ]);
  const [row] = rows as Array<{ connectionId: number; orderId: number }>;
  return { statusCode: 200, body: JSON.stringify(row) };
}
