import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { cliEnv, REPO_ROOT, runCli, runInProcess } from './run-cli.js';

describe('rds-iam-pool --help', () => {
  it('runs as a subprocess: the command list on stdout with exit 0', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    for (const name of ['token', 'doctor', 'setup-sql', 'policy', 'emulator']) {
      expect(result.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    }
    expect(result.stdout).toContain('Exit codes: 0 ok, 1 a check failed');
  });

  it.each(COMMANDS.map((c) => c.spec.name))(
    'documents %s: usage, every flag, --json and the exit codes',
    async (name) => {
      const result = await runInProcess([name, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: rds-iam-pool ${name} `);
      const spec = COMMANDS.find((c) => c.spec.name === name)!.spec;
      for (const flag of [...Object.keys(spec.flags), 'json', 'help'])
        expect(result.stdout).toContain(`--${flag}`);
      expect(result.stdout).toMatch(/^Exit codes: 0 ok, .*2 usage error\.$/m);
    },
  );

  it('exits 2 with the command list for no command or an unknown one', async () => {
    const none = await runInProcess([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: rds-iam-pool <command>');
    const unknown = await runInProcess(['generate-db-auth-token']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "generate-db-auth-token"');
  });

  it('colours errors only on a terminal, and not with NO_COLOR', async () => {
    const plain = await runInProcess(['policy', '--bogus']);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain('unknown flag --bogus');
    expect(plain.stderr).not.toContain('\u001b[');
    const tty = await runInProcess(['policy', '--bogus'], { isTTY: true });
    expect(tty.stderr).toContain('\u001b[31merror:\u001b[39m');
    const noColor = await runInProcess(['policy', '--bogus'], { isTTY: true, env: { NO_COLOR: '1' } });
    expect(noColor.stderr).not.toContain('\u001b[');
  });
});

describe('rds-iam-pool --version', () => {
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };

  it('prints the version from package.json, as a process and in process, with --version or -v', async () => {
    const spawned = await runCli(['--version']);
    expect(spawned).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
    for (const flag of ['--version', '-v']) {
      expect(await runInProcess([flag])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
    const json = await runInProcess(['--version', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ name: 'rds-iam-pool', version });
    expect((await runInProcess(['--help'])).stdout).toContain('--version (-v) prints the version');
  });
});

describe('policy --help', () => {
  it('says the output is JSON with or without --json, instead of the common "instead of text"', async () => {
    const help = (await runInProcess(['policy', '--help'])).stdout;
    expect(help).toMatch(/--json +The policy is JSON either way; with --json a usage error is also printed/);
    expect(help).not.toContain('instead of text');
    // Other commands keep the common description.
    expect((await runInProcess(['token', '--help'])).stdout).toContain(
      'Print machine-readable JSON on stdout instead of text.',
    );
  });
});

describe('rds-iam-pool/cli as a module', () => {
  const run = promisify(execFile);
  const node = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', ...args], { cwd: REPO_ROOT, env: cliEnv() });

  it('runs nothing when imported, and runs when started through a symlink (the npm bin)', async () => {
    const imported = await node([
      '-e',
      "import('./src/cli/main.ts').then((m) => console.log(typeof m.runCli))",
    ]);
    expect(imported.stdout).toBe('function\n');
    expect(imported.stderr).toBe('');

    const dir = await mkdtemp(join(tmpdir(), 'rip-cli-bin-'));
    try {
      const bin = join(dir, 'rds-iam-pool');
      await symlink(join(REPO_ROOT, 'src/cli/main.ts'), bin);
      const started = await node([bin, 'setup-sql', '--user', 'app_iam']);
      expect(started.stdout).toContain("CREATE USER 'app_iam'@'%'");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
