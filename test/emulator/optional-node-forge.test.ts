import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateServerCertificate, importForge } from '../../src/emulator/certificates.js';
import { EmulatorError } from '../../src/emulator/errors.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

function runNode(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('emulator: node-forge is an optional peer dependency', () => {
  it('a missing node-forge fails certificate generation with EMULATOR_NODE_FORGE_MISSING naming the install command', async () => {
    const notFound = Object.assign(new Error("Cannot find package 'node-forge'"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    const err = await importForge(() => Promise.reject(notFound)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmulatorError);
    expect(err).toMatchObject({ code: 'EMULATOR_NODE_FORGE_MISSING', cause: notFound });
    expect((err as EmulatorError).hint).toContain('npm i -D node-forge');
    // Any other import failure is not disguised as a missing package.
    const broken = new SyntaxError('Unexpected token');
    await expect(importForge(() => Promise.reject(broken))).rejects.toBe(broken);
  });

  it('without node-forge installed: the emulator loads and serves a given certificate, and only generation fails', async () => {
    const cert = await generateServerCertificate(['mydb.abc123.us-east-1.rds.amazonaws.com']);
    const { code, stdout, stderr } = await runNode(
      ['--import', 'tsx', '--import', fixture('hide-node-forge.mjs'), fixture('without-node-forge.ts')],
      { READY_CERTIFICATE: JSON.stringify({ cert: cert.certPem, key: cert.keyPem, ca: cert.caPem }) },
    );
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout.trim());
    expect(result.generated).toMatchObject({ name: 'EmulatorError', code: 'EMULATOR_NODE_FORGE_MISSING' });
    expect(result.generated.hint).toContain('npm i -D node-forge');
    expect(result.withCertificate).toBe('started');
  });
});
