/**
 * A small Express service on an IAM pool: `/health` reports the database and the pool's token and
 * login stats (never a token), `/notes` reads and writes. Nothing here knows about tokens: the pool
 * signs, caches and refreshes them.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { ResultSetHeader, RowDataPacket } from 'mysql2';
import type { IamPool } from '../../src/index.js';

/**
 * What /health reports about tokens: when the current one was signed, when it expires, and whether
 * the credentials (rather than the 15-minute limit) decide that. Never the token itself.
 */
export interface TokenStatus {
  signedAt: string | null;
  expiresAt: string | null;
  limitedByCredentials: boolean | null;
}

/** The /health response body. */
export interface Health {
  status: 'ok' | 'degraded';
  database: 'up' | 'down';
  error?: string;
  endpoint: { host: string; port: number; user: string; region: string };
  pool: ReturnType<IamPool['iam']['stats']>;
  token: TokenStatus;
}

/** The pool's current token, as times (pool.iam.token() never returns the token). */
function tokenStatus(pool: IamPool): TokenStatus {
  const times = pool.iam.token();
  return {
    signedAt: times?.signedAt.toISOString() ?? null,
    expiresAt: times?.expiresAt.toISOString() ?? null,
    limitedByCredentials: times?.limitedByCredentials ?? null,
  };
}

export function createApp(pool: IamPool) {
  const app = express();
  app.use(express.json());

  app.get('/health', async (_req: Request, res: Response) => {
    let database: 'up' | 'down' = 'up';
    let error: string | undefined;
    try {
      await pool.query('SELECT 1');
    } catch (err) {
      database = 'down';
      // IamAuthError messages and codes are safe to show: they never contain a token.
      error = (err as { code?: string }).code ?? 'unknown';
    }
    const health: Health = {
      status: database === 'up' ? 'ok' : 'degraded',
      database,
      ...(error ? { error } : {}),
      endpoint: { host: pool.iam.host, port: pool.iam.port, user: pool.iam.user, region: pool.iam.region },
      pool: pool.iam.stats(),
      token: tokenStatus(pool),
    };
    res.status(database === 'up' ? 200 : 503).json(health);
  });

  app.get('/notes', async (_req: Request, res: Response) => {
    const [rows] = await pool.query<RowDataPacket[]>('SELECT id, body FROM notes ORDER BY id');
    res.json(rows);
  });

  app.post('/notes', async (req: Request, res: Response) => {
    const body = typeof req.body?.body === 'string' ? req.body.body.slice(0, 100) : '';
    if (body === '') {
      res.status(400).json({ error: 'body must be a non-empty string' });
      return;
    }
    const [result] = await pool.execute<ResultSetHeader>('INSERT INTO notes (body) VALUES (?)', [body]);
    res.status(201).json({ id: result.insertId, body });
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: (err as { code?: string }).code ?? 'internal error' });
  });

  return app;
}
