/** Lambda handler wired by hand: @aws-sdk/rds-signer signs a token for mysql2 at cold start. */
import { Signer } from '@aws-sdk/rds-signer';
import mysql from 'mysql2/promise';

const hostname = process.env.DB_HOST ?? '';
const port = 3306;
const username = process.env.DB_USER ?? '';
const signer = new Signer({ hostname, port, username, region: process.env.AWS_REGION });
const pool = mysql.createPool({
  host: hostname,
  port,
  user: username,
  database: process.env.DB_NAME,
  password: await signer.getAuthToken(),
  enableCleartextPlugin: true,
  ssl: 'Amazon RDS', // mysql2's bundled RDS CA profile
});

export const handler = async () => {
  const [rows] = await pool.query('SELECT 1 AS ok');
  return rows;
};
