// A copy of this checkout in a temporary directory, for running the test suites against other
// versions of a dependency without touching the checkout: scripts/mysql2-floor.mjs (the lowest
// mysql2) and scripts/check-latest.ts (the latest ORM releases) install those into the copy.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Tracked and untracked-but-not-ignored files (what a clean clone plus local edits holds), and node_modules. */
export function copyCheckout(from, to) {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: from,
    encoding: 'utf8',
  });
  for (const file of listed.split('\0').filter(Boolean)) {
    if (!existsSync(join(from, file))) continue; // deleted in the working tree, not yet committed
    mkdirSync(dirname(join(to, file)), { recursive: true });
    cpSync(join(from, file), join(to, file));
  }
  if (existsSync(join(from, 'node_modules'))) {
    // `cp -a` keeps node_modules/.bin's symlinks and is much faster than an `npm ci`.
    execFileSync('cp', ['-a', join(from, 'node_modules'), join(to, 'node_modules')]);
  } else {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: to, stdio: 'inherit' });
  }
}
