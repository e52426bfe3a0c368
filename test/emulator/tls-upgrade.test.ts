import net from 'node:net';
import { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';

/**
 * A client transport that holds back the 36-byte SSLRequest and sends it in one TCP write together
 * with the TLS ClientHello, as a fast client or a coalescing network path can. The emulator must
 * not lose the ClientHello bytes it reads along with the SSLRequest.
 */
function coalescingStream(socket: net.Socket): Duplex {
  let held: Buffer | null = null;
  let sawSslRequest = false;
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (!sawSslRequest && chunk.length === 36) {
        sawSslRequest = true;
        held = chunk;
        callback();
        return;
      }
      const data = held ? Buffer.concat([held, chunk]) : chunk;
      held = null;
      socket.write(data, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy();
      callback(err);
    },
  });
  socket.on('data', (d: Buffer) => {
    if (!duplex.push(d)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (e) => duplex.destroy(e));
  socket.on('close', () => duplex.destroy());
  return duplex;
}

describe('emulator: TLS upgrade', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'emu_tls' });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('handles a ClientHello that arrives in the same segment as the SSLRequest', async () => {
    const mysql = (await import('mysql2/promise')).default;
    const token = await fx.token();
    const conn = await mysql.createConnection({
      host: fx.emulator.host,
      port: 3306,
      user: 'iam_app',
      database: fx.database,
      stream: () => coalescingStream(net.connect(fx.emulator.port, '127.0.0.1')),
      ssl: {
        ca: fx.emulator.ca,
        rejectUnauthorized: true,
        verifyIdentity: true,
        minVersion: 'TLSv1.2',
      } as never,
      authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
    });
    const [rows] = await conn.query<any[]>('SELECT COUNT(*) AS n FROM items');
    expect(Number(rows[0].n)).toBe(2);
    await conn.end();
  });

  it('presents a certificate for the RDS host name that a verifying client accepts', async () => {
    const conn = await fx.connect();
    const tlsSocket = (conn as any).connection.stream;
    expect(tlsSocket.authorized).toBe(true);
    expect(tlsSocket.getPeerCertificate().subjectaltname).toContain(`DNS:${fx.emulator.host}`);
    await conn.end();
  });

  it('fails verification when the client checks a different host name', async () => {
    const mysql = (await import('mysql2/promise')).default;
    const err = await mysql
      .createConnection({
        host: 'other.abc123.us-east-1.rds.amazonaws.com',
        port: 3306,
        user: 'iam_app',
        stream: () => net.connect(fx.emulator.port, '127.0.0.1'),
        ssl: { ca: fx.emulator.ca, rejectUnauthorized: true, verifyIdentity: true } as never,
      })
      .then(
        (c) => c.end().then(() => null),
        (e: any) => e,
      );
    expect(err?.code).toBe('HANDSHAKE_SSL_ERROR');
  });
});
