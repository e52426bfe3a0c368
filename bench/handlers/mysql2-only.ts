/** Lambda handler, reference: mysql2 alone with a password from the environment (no IAM). */
import mysql from 'mysql2/promise';

const pool = mysql.createPool({
  host: process.env.DB_HOST,
  user: process.env.DB_USER,
  password: process.env.DB_PASSWORD,
  database: process.env.DB_NAME,
  ssl: 'Amazon RDS', // mysql2's bundled RDS CA profile
});

export const handler = async () => {
  const [rows] = await pool.query('SELECT 1 AS ok');
  return rows;
};
