/** Lambda handler with rds-iam-pool (the bundle measurement points this import at the built entry). */
import { createIamPool } from '../../src/index.js';

const pool = createIamPool({
  host: process.env.DB_HOST ?? '',
  user: process.env.DB_USER ?? '',
  database: process.env.DB_NAME,
});

export const handler = async () => {
  const [rows] = await pool.query('SELECT 1 AS ok');
  return rows;
};
