/** Lambda handler with the AWS Advanced NodeJS Wrapper and its IAM plugin. */
import { AwsMySQLClient } from 'aws-advanced-nodejs-wrapper/mysql';

export const handler = async () => {
  const client = new AwsMySQLClient({
    host: process.env.DB_HOST,
    user: process.env.DB_USER,
    database: process.env.DB_NAME,
    plugins: 'iam',
    enableCleartextPlugin: true,
    ssl: 'Amazon RDS', // mysql2's bundled RDS CA profile
  });
  await client.connect();
  try {
    return await client.query({ sql: 'SELECT 1 AS ok' });
  } finally {
    await client.end();
  }
};
