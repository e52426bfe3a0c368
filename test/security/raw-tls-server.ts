import { createServer, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createSecureContext, TLSSocket } from 'node:tls';
import { clearPasswordSwitch, greeting } from '../helpers/raw-mysql-server.js';

/** How the hostile server treats the client before it asks for the cleartext password. */
export type RawServerMode =
  /** Offers no TLS at all. */
  | 'plaintext'
  /** Offers TLS, then ignores the SSLRequest and asks for the password on the plain socket. */
  | 'tls-offered-never-started'
  /** Completes a TLS handshake with the certificate it is given (trusted or not). */
  | 'tls';

export interface RawServerOptions {
  mode: RawServerMode;
  /** For mode 'tls': the certificate and key it serves. */
  certificate?: { certPem: string; keyPem: string };
}

export interface RecordingServer {
  port: number;
  /** Every byte that arrived on the TCP sockets (TLS records as they are, encrypted). */
  wire(): Buffer;
  /** Every byte the server could read as the client's plaintext (decrypted inside TLS). */
  plaintext(): Buffer;
  /** Connections whose TLS handshake completed. */
  tlsSessions(): number;
  close(): Promise<void>;
}

const ACCESS_DENIED = Buffer.concat([
  Buffer.from([0xff, 0x15, 0x04]),
  Buffer.from('#28000Access denied for user (raw test server)'),
]);

function frame(seq: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = seq;
  return Buffer.concat([header, payload]);
}

/**
 * A MySQL server that wants the IAM token: it greets, optionally does TLS, and asks for
 * `mysql_clear_password` whatever the client says, recording everything it receives, both as it
 * crossed the wire and as decrypted plaintext. It refuses the login after the password arrives.
 */
export async function startRecordingServer(options: RawServerOptions): Promise<RecordingServer> {
  const wire: Buffer[] = [];
  const plaintext: Buffer[] = [];
  const sockets = new Set<Socket | TLSSocket>();
  let tlsSessions = 0;
  const context =
    options.mode === 'tls' && options.certificate
      ? createSecureContext({ cert: options.certificate.certPem, key: options.certificate.keyPem })
      : undefined;

  /** Asks for the password after the handshake response, then refuses whatever comes back. */
  const converse = (socket: Socket | TLSSocket, firstSeq: number) => {
    let packets = 0;
    socket.on('data', (data: Buffer) => {
      plaintext.push(data);
      packets++;
      if (socket.destroyed) return;
      if (packets === 1) socket.write(clearPasswordSwitch(firstSeq));
      else socket.end(frame(firstSeq + 2, ACCESS_DENIED));
    });
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (data) => wire.push(data));
    socket.write(greeting(options.mode !== 'plaintext'));
    if (options.mode !== 'tls') {
      converse(socket, 2);
      return;
    }
    // First packet: the 32-byte SSLRequest (the ClientHello may share its TCP segment). Then TLS,
    // over a duplex fed from the socket, so `wire` keeps seeing every byte.
    socket.once('data', (first: Buffer) => {
      const sslRequestLength = 4 + 32;
      plaintext.push(first.subarray(0, sslRequestLength));
      if (!context) throw new Error('mode tls needs a certificate');
      const transport = new Duplex({
        read() {},
        write(chunk, _encoding, callback) {
          socket.write(chunk, callback);
        },
        final(callback) {
          socket.end(callback);
        },
        destroy(err, callback) {
          socket.destroy();
          callback(err);
        },
      });
      if (first.length > sslRequestLength) transport.push(first.subarray(sslRequestLength));
      socket.on('data', (data: Buffer) => transport.push(data));
      socket.on('end', () => transport.push(null));
      const tls = new TLSSocket(transport, { isServer: true, secureContext: context });
      sockets.add(tls);
      tls.on('error', () => {});
      tls.on('secure', () => tlsSessions++);
      converse(tls, 3);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    wire: () => Buffer.concat(wire),
    plaintext: () => Buffer.concat(plaintext),
    tlsSessions: () => tlsSessions,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
