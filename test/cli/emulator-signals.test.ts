import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIamPool } from '../../src/index.js';
import { MARIADB } from '../helpers/emulator-harness.js';
import { jsonEvents, spawnCli } from './run-cli.js';

const BACKEND_URL = `mysql://${MARIADB.user}@${MARIADB.host}:${MARIADB.port}`;

interface Ready {
  event: 'ready';
  pid: number;
  pidFile?: string;
  poolOptions: {
    host: string;
    port: number;
    user: string;
    connectHost: string;
    connectPort: number;
    ssl: { ca: string };
  };
  env: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string };
}

/** The emulator command in a child process, its stdout read one JSON event at a time. */
function startJsonEmulator(args: string[]) {
  const child = spawnCli(['emulator', '--backend', BACKEND_URL, '--json', ...args]);
  return { child, ...jsonEvents(child) };
}

describe('rds-iam-pool emulator: its own process id, for signals', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rds-iam-pool-pid-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--cluster: reports its pid (and writes --pid-file); SIGUSR2 to that pid fails over, SIGTERM stops it and removes the file', async () => {
    const pidFile = join(dir, 'emulator.pid');
    const { child, exited, nextEvent } = startJsonEmulator([
      '--cluster',
      '--promotion-ms',
      '100',
      '--dns-lag-ms',
      '100',
      '--pid-file',
      pidFile,
    ]);
    try {
      const ready = (await nextEvent()) as unknown as Ready;
      // The process that runs the emulator (here spawned directly; under npx, not npm exec's).
      expect(ready.pid).toBe(child.pid);
      expect(ready.pidFile).toBe(pidFile);
      expect(readFileSync(pidFile, 'utf8')).toBe(`${child.pid}\n`);

      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGUSR2');
      expect(await nextEvent()).toMatchObject({ event: 'failover-started', from: 'mydb-instance-1' });

      process.kill(ready.pid, 'SIGTERM');
      let event = await nextEvent();
      while (event.event !== 'stopped') event = await nextEvent();
      expect(event).toMatchObject({ signal: 'SIGTERM' });
      expect(await exited).toBe(0);
      expect(existsSync(pidFile)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('the banner prints the kill commands with the pid itself, not "send SIGUSR2"', async () => {
    const child = spawnCli(['emulator', '--backend', BACKEND_URL, '--cluster']);
    const exited = new Promise<string>((resolve) =>
      child.once('close', (code, signal) => resolve(`${code} ${signal}`)),
    );
    try {
      let banner = '';
      for await (const line of createInterface({ input: child.stdout! })) {
        banner += `${line}\n`;
        if (line.includes('stops it')) break;
      }
      expect(banner).toContain(`  pid        ${child.pid}\n`);
      expect(banner).toContain(`or run: kill -USR2 ${child.pid};`);
      expect(banner).toContain(`Ctrl+C (or kill ${child.pid}) stops it.`);
      expect(banner).not.toContain('send SIGUSR2');
      child.kill('SIGINT');
      expect(await exited).toBe('0 null');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('rds-iam-pool emulator --json: every login is reported before "stopped"', () => {
  it('logins just before SIGTERM (inside one 200 ms poll) still get their login-accepted events', async () => {
    const { child, exited, nextEvent } = startJsonEmulator(['--user', 'cli_flush_iam']);
    try {
      const ready = (await nextEvent()) as unknown as Ready;
      const pool = createIamPool({
        ...ready.poolOptions,
        credentials: async () => ({
          accessKeyId: ready.env.AWS_ACCESS_KEY_ID,
          secretAccessKey: ready.env.AWS_SECRET_ACCESS_KEY,
        }),
        connectionLimit: 3,
      });
      const events: Array<Record<string, unknown>> = [];
      try {
        // Three connections borrowed at once: three logins.
        const connections = await Promise.all([1, 2, 3].map(() => pool.getConnection()));
        // At once, before anything else: the next poll is up to 200 ms away.
        child.kill('SIGTERM');
        for (const connection of connections) connection.release();
        for (let e = await nextEvent(); ; e = await nextEvent()) {
          events.push(e);
          if (e.event === 'stopped') break;
        }
      } finally {
        await pool.end();
      }
      const reported = events
        .filter((e) => e.event === 'login-accepted')
        .reduce((sum, e) => sum + (e.count as number), 0);
      expect(reported).toBe(3);
      expect(events.at(-1)).toMatchObject({ event: 'stopped', stats: { loginsAccepted: 3 } });
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
