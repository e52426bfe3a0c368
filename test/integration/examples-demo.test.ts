import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { expectNoTokenInOutput, runScript } from './examples-shared.js';

describe('npm run demo', () => {
  it('signs once for 5 connections, once more for 5 new logins 16 minutes later, and re-signs on refused logins', {
    timeout: 60_000,
  }, async () => {
    const run = await runScript('examples/demo.ts', 'rip_examples_demo');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('20 queries answered, logged in as IAM user app_iam');
    // Why the server-side account differs from the IAM user.
    expect(run.stdout).toMatch(
      /MariaDB's CURRENT_USER\(\) is root@\S+: the emulator logs in to MariaDB with its own/,
    );
    expect(run.stdout).toContain('connections opened: 5, tokens signed: 1, reused from cache: 4');
    // Expiry does not end sessions; the connections close only because the demo drops them.
    expect(run.stdout).toContain(
      'a query on an open connection still works (connections opened: 5, tokens signed: 1): a token is checked only when a connection logs in',
    );
    expect(run.stdout).toContain('a fault injected on purpose: the emulator drops all 5 connections');
    expect(run.stdout).not.toMatch(/expired[^\n]*\n[^\n]*closed all 5 connections/);
    // After the refresh, several connections log in again with one new token.
    expect(run.stdout).toContain(
      '5 new logins, 1 new token (one refresh for all of them, not one per connection)',
    );
    expect(run.stdout).toContain('connections opened: 10, tokens signed: 2');
    expect(run.stdout).toContain('auth retries: 2');
    expect(run.stdout).toContain('rejected {"fault-injected":2}');
    expectNoTokenInOutput(run);
  });

  it('without a MariaDB to relay to, says what is missing and how to start it (no stack trace, exit 1)', async () => {
    // A port nothing listens on: bind one, note it, close it.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const closedPort = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));

    const run = await runScript('examples/demo.ts', 'rip_examples_demo', {
      MARIADB_PORT: String(closedPort),
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(
      `No MariaDB (or MySQL) is answering on 127.0.0.1:${closedPort} (ECONNREFUSED).`,
    );
    expect(run.stderr).toContain('start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd');
    expect(run.stderr).toContain('MARIADB_HOST, MARIADB_PORT, MARIADB_USER and MARIADB_PASSWORD');
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });
});
