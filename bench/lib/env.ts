import { fileURLToPath } from 'node:url';

/** The real MariaDB behind the emulator (root with an empty password on the CI image). */
export const MARIADB = {
  host: process.env.MARIADB_HOST ?? '127.0.0.1',
  port: Number(process.env.MARIADB_PORT ?? 3306),
  user: process.env.MARIADB_USER ?? 'root',
  password: process.env.MARIADB_PASSWORD ?? '',
};

/**
 * Session credentials the emulator trusts, shaped like the ones Lambda puts in the environment.
 * They are not AWS keys: nothing signed with them is valid anywhere but the local emulator.
 */
export const BENCH_KEY = {
  accessKeyId: 'ASIABENCHEMULATOR001',
  secretAccessKey: 'bench-secret-for-the-local-emulator',
  sessionToken: 'bench-session-token-for-the-local-emulator',
} as const;

/** The IAM user every variant logs in as, and the database it uses. */
export const IAM_USER = 'bench_iam';
/**
 * The user of the signing-count run alone. Tokens signed in the same second for the same user are
 * identical byte for byte (ours and rds-signer's alike), so the emulator could only count ours as
 * a distinct token if no other variant signs for this user.
 */
export const COUNTS_IAM_USER = 'bench_iam_counts';
/** Per process, so two runs on one MariaDB (a shared machine) do not drop each other's user. */
export const DATABASE = `rip_bench_${process.pid}`;

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * Build output for the benchmark: under node_modules so packages resolve from it, and apart from
 * dist/ so a benchmark never races another build of the package.
 */
export const CACHE_DIR = fileURLToPath(
  new URL('../../node_modules/.cache/rds-iam-pool-bench/', import.meta.url),
);
export const RESULTS_FILE = fileURLToPath(new URL('../results.json', import.meta.url));
export const CHART_FILE = fileURLToPath(new URL('../chart.svg', import.meta.url));
