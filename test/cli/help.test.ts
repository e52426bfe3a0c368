import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { runCli as runCliInProcess } from '../../src/cli/main.js';
import { runCli } from './run-cli.js';

/** Runs the CLI in this process with captured output (for the many cheap help checks). */
async function inProcess(argv: string[], isTTY = false) {
  const stdout = Object.assign(new PassThrough(), { isTTY });
  const stderr = Object.assign(new PassThrough(), { isTTY });
  const chunks = { out: '', err: '' };
  stdout.on('data', (d: Buffer) => {
    chunks.out += d.toString();
  });
  stderr.on('data', (d: Buffer) => {
    chunks.err += d.toString();
  });
  const code = await runCliInProcess(argv, { stdout, stderr, env: {} });
  return { code, stdout: chunks.out, stderr: chunks.err };
}

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
      const result = await inProcess([name, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: rds-iam-pool ${name} `);
      const spec = COMMANDS.find((c) => c.spec.name === name)!.spec;
      for (const flag of [...Object.keys(spec.flags), 'json', 'help'])
        expect(result.stdout).toContain(`--${flag}`);
      expect(result.stdout).toMatch(/^Exit codes: 0 ok, .*2 usage error\.$/m);
    },
  );

  it('exits 2 with the command list for no command or an unknown one', async () => {
    const none = await inProcess([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: rds-iam-pool <command>');
    const unknown = await inProcess(['generate-db-auth-token']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "generate-db-auth-token"');
  });

  it('colours errors only on a terminal', async () => {
    const plain = await inProcess(['policy', '--bogus']);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain('unknown flag --bogus');
    expect(plain.stderr).not.toContain('\u001b[');
    const tty = await inProcess(['policy', '--bogus'], true);
    expect(tty.stderr).toContain('\u001b[31merror:\u001b[39m');
  });
});
