import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests share one MariaDB; files run one at a time to keep them independent.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    globalSetup: ['test/helpers/global-setup.ts'],
    // Scans every file's console output, pool events, errors and inspected pools for secrets.
    setupFiles: ['test/helpers/leak-scan-setup.ts'],
  },
});
