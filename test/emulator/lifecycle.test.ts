import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EmulatorError, regionFromHost, startEmulator } from '../../src/emulator/index.js';
import { createEmulatorFixture, TEST_KEY } from '../helpers/emulator-harness.js';

const backend = { host: '127.0.0.1', port: 3306, user: 'root' };

describe('emulator: lifecycle', () => {
  it('stop() closes the listener and every session, and leaves nothing that keeps the process alive', async () => {
    const script = fileURLToPath(new URL('./fixtures/stop-exits.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exit = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('did not exit within 15 s: a handle was left open');
      }, 15_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code ?? -1);
      });
    });
    expect(exit, stderr).toBe(0);
    expect(JSON.parse(stdout.trim())).toEqual({ before: 1, after: 0, connections: 3 });
  });

  it('refuses connections after stop(), and stop() is idempotent', async () => {
    const fx = await createEmulatorFixture({ name: 'emu_life' });
    const conn = await fx.connect();
    const lost = new Promise<Error>((resolve) => conn.once('error', resolve));
    await fx.emulator.stop();
    expect(((await lost) as any).code).toBe('PROTOCOL_CONNECTION_LOST');
    expect(fx.emulator.stats().liveSessions).toBe(0);
    await fx.emulator.stop();
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(fx.emulator.port, '127.0.0.1');
      s.once('error', (e: any) => resolve(e.code));
      s.once('connect', () => {
        s.destroy();
        resolve('connected');
      });
    });
    expect(refused).toBe('ECONNREFUSED');
    conn.destroy();
    await fx.teardown();
  });

  it('infers the region from the RDS host name and insists on one otherwise', async () => {
    expect(regionFromHost('mydb.abc123.eu-west-2.rds.amazonaws.com')).toBe('eu-west-2');
    expect(regionFromHost('db.cluster-xyz.cn-north-1.rds.amazonaws.com.cn')).toBe('cn-north-1');
    expect(regionFromHost('db.us-gov-west-1.rds.amazonaws.com')).toBe('us-gov-west-1');
    expect(regionFromHost('localhost')).toBeUndefined();
    await expect(
      startEmulator({ backend, host: 'db.example.test', users: {}, keys: [TEST_KEY] }),
    ).rejects.toThrow(/region/);
    const emulator = await startEmulator({
      backend,
      host: 'db.example.test',
      region: 'ap-south-1',
      users: {},
      keys: [],
    });
    expect(emulator.region).toBe('ap-south-1');
    expect(emulator.ca).toMatch(/BEGIN CERTIFICATE/);
    await emulator.stop();
  });

  it('serves a caller-supplied certificate and CA', async () => {
    const { generateServerCertificate } = await import('../../src/emulator/certificates.js');
    const cert = await generateServerCertificate(['mydb.abc123.us-east-1.rds.amazonaws.com']);
    const fx = await createEmulatorFixture({
      name: 'emu_life_cert',
      emulator: { tls: { cert: cert.certPem, key: cert.keyPem, ca: cert.caPem } },
    });
    try {
      expect(fx.emulator.ca).toBe(cert.caPem);
      const conn = await fx.connect();
      await conn.end();
    } finally {
      await fx.teardown();
    }
  });

  it('issues its server certificate from a caller-supplied CA', async () => {
    const { generateCertificateAuthority } = await import('../../src/emulator/certificates.js');
    const ca = await generateCertificateAuthority('caller CA');
    const fx = await createEmulatorFixture({
      name: 'emu_life_ca',
      emulator: { tls: { caCert: ca.certPem, caKey: ca.keyPem } },
    });
    try {
      expect(fx.emulator.ca).toBe(ca.certPem);
      const conn = await fx.connect();
      await conn.end();
    } finally {
      await fx.teardown();
    }
  });
});

describe('emulator: start-up checks the backend login', () => {
  it('refuses to start when the backend password is wrong, naming the account and never the password', async () => {
    const err = await startEmulator({
      backend: { ...backend, password: 'wrong-backend-password' },
      users: { iam_app: {} },
      keys: [TEST_KEY],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmulatorError);
    expect(err).toMatchObject({ code: 'EMULATOR_BACKEND_LOGIN_REFUSED' });
    const { message, hint } = err as EmulatorError;
    expect(message).toContain("as 'root'");
    expect(message).toContain('1045');
    expect(hint).toContain('--backend');
    expect(`${message} ${hint}`).not.toContain('wrong-backend-password');
  });

  it('checks the backend account of every mapped IAM user', async () => {
    const err = await startEmulator({
      backend,
      users: { iam_app: {}, iam_other: { backendUser: 'rip_no_such_account', backendPassword: 'x' } },
      keys: [TEST_KEY],
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EMULATOR_BACKEND_LOGIN_REFUSED' });
    expect((err as Error).message).toContain("'rip_no_such_account'");
  });

  it('reports an unreachable backend as EMULATOR_BACKEND_UNREACHABLE', async () => {
    const err = await startEmulator({
      backend: { host: '127.0.0.1', port: 1, user: 'root' },
      users: {},
      keys: [],
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'EmulatorError', code: 'EMULATOR_BACKEND_UNREACHABLE' });
    expect((err as Error).message).toContain('127.0.0.1:1');
  });
});
