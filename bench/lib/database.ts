import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { DATABASE, MARIADB } from './env.js';

/** The backend login the emulator maps the IAM user to (and the direct-to-MariaDB reference uses). */
export interface BackendLogin {
  user: string;
  password: string;
  database: string;
}

/** Creates the benchmark database with a small table and its own backend user. */
export async function createBenchDatabase(database = DATABASE): Promise<BackendLogin> {
  const user = `${database}_u`;
  const password = randomBytes(12).toString('hex');
  const root = await mysql.createConnection({ ...MARIADB });
  try {
    await root.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await root.query(`CREATE DATABASE \`${database}\``);
    await root.query(`CREATE TABLE \`${database}\`.items (id INT PRIMARY KEY, name VARCHAR(50))`);
    await root.query(`INSERT INTO \`${database}\`.items VALUES (1, 'one'), (2, 'two')`);
    await root.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await root.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    await root.query(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO '${user}'@'%'`);
  } finally {
    await root.end();
  }
  return { user, password, database };
}

export async function dropBenchDatabase(login: BackendLogin): Promise<void> {
  const root = await mysql.createConnection({ ...MARIADB });
  try {
    await root.query(`DROP DATABASE IF EXISTS \`${login.database}\``);
    await root.query(`DROP USER IF EXISTS '${login.user}'@'%'`);
  } finally {
    await root.end();
  }
}
