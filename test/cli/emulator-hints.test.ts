import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MARIADB } from '../helpers/emulator-harness.js';
import { cliEnv, REPO_ROOT, runInProcess } from './run-cli.js';

const BACKEND_URL = `mysql://${MARIADB.user}@${MARIADB.host}:${MARIADB.port}`;
/** Module hooks that make `node-forge` unresolvable, as where the optional peer is not installed. */
const HIDE_NODE_FORGE = fileURLToPath(new URL('../emulator/fixtures/hide-node-forge.mjs', import.meta.url));

/** API wording that a person at the command line cannot act on. */
const API_WORDS = /options\.|tls: \{|startEmulator|backend\.password/;

describe('rds-iam-pool emulator: start-up failures name command-line flags', () => {
  let busy: Server;
  let busyPort: number;
  let closedPort: number;
  beforeAll(async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => busy.close(() => resolve()));
  });

  it('a port in use: names the port and --port, not the region', async () => {
    const result = await runInProcess(['emulator', '--backend', BACKEND_URL, '--port', String(busyPort)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('The emulator could not start');
    expect(result.stderr).toContain(
      `Something already listens on port ${busyPort} of 127.0.0.1: pass another --port, or leave --port out to take a free port`,
    );
    expect(result.stderr).not.toMatch(/region/);
  });

  it('a cluster whose ports overlap one in use: names the range of ports it needs', async () => {
    const first = busyPort - 2;
    const result = await runInProcess([
      'emulator',
      '--backend',
      BACKEND_URL,
      '--cluster',
      '--port',
      String(first),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `Something already listens on ports ${first} to ${first + 4} of 127.0.0.1`,
    );
  });

  it('--host without a region: a usage error that names --region (exit 2, nothing started)', async () => {
    const result = await runInProcess(['emulator', '--backend', BACKEND_URL, '--host', 'db.example.com']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--host db.example.com names no region');
    expect(result.stderr).toContain('Pass --region REGION');
    expect(result.stderr).not.toMatch(API_WORDS);
  });

  it('--listen-host that is not an address of this machine: names --listen-host', async () => {
    const result = await runInProcess(['emulator', '--backend', BACKEND_URL, '--listen-host', '192.0.2.1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--listen-host 192.0.2.1 is not an address of this machine');
  });

  it('a backend that does not answer: names --backend', async () => {
    const result = await runInProcess(['emulator', '--backend', `mysql://root@127.0.0.1:${closedPort}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('point --backend mysql://USER[:PASSWORD]@HOST[:PORT] at one that runs');
    expect(result.stderr).not.toMatch(API_WORDS);
  });

  it('node-forge not installed: says how to install it, not the tls option the CLI cannot take', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        HIDE_NODE_FORGE,
        'src/cli/main.ts',
        'emulator',
        '--backend',
        BACKEND_URL,
      ],
      { cwd: REPO_ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code, stderr).toBe(1);
    expect(stdout).not.toContain('running');
    expect(stderr).toContain('node-forge, an optional peer dependency that is not installed');
    expect(stderr).toContain('npm i -D node-forge');
    expect(stderr).toContain('npx -p rds-iam-pool -p node-forge rds-iam-pool emulator');
    expect(stderr).not.toMatch(API_WORDS);
  });
});
