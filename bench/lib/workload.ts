import type { Pool } from 'mysql2/promise';

/**
 * Runs `total` operations with `concurrency` callers in a closed loop: each caller starts its next
 * operation as soon as its last one finishes, the way request handlers share a pool.
 */
export async function closedLoop(
  total: number,
  concurrency: number,
  operation: () => Promise<unknown>,
): Promise<void> {
  let started = 0;
  const caller = async () => {
    while (started < total) {
      started++;
      await operation();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
}

/**
 * Opens and logs in `total` new connections, `batch` at a time, destroying each batch so the next
 * `getConnection` has to log in again rather than reuse an idle connection.
 */
export async function loginBurst(pool: Pool, total: number, batch: number): Promise<void> {
  for (let opened = 0; opened < total; opened += batch) {
    const size = Math.min(batch, total - opened);
    const connections = await Promise.all(Array.from({ length: size }, () => pool.getConnection()));
    for (const connection of connections) connection.destroy();
  }
}

/** Opens `count` connections at once and returns them to the pool idle, so queries find them open. */
export async function fillPool(pool: Pool, count: number): Promise<void> {
  const connections = await Promise.all(Array.from({ length: count }, () => pool.getConnection()));
  for (const connection of connections) connection.release();
}
