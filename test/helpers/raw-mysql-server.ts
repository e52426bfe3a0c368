import { createServer, type Server, type Socket } from 'node:net';
import { packet } from './emulator-harness.js';

const CLIENT_LONG_PASSWORD = 0x1;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_TRANSACTIONS = 0x2000;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x80000;

/** A MySQL HandshakeV10 greeting; `ssl` decides whether the server offers TLS. */
export function greeting(ssl: boolean): Buffer {
  const caps =
    CLIENT_LONG_PASSWORD |
    CLIENT_PROTOCOL_41 |
    CLIENT_TRANSACTIONS |
    CLIENT_SECURE_CONNECTION |
    CLIENT_PLUGIN_AUTH |
    (ssl ? CLIENT_SSL : 0);
  const scramble = Buffer.from('abcdefghijklmnopqrst');
  const payload = Buffer.concat([
    Buffer.from([10]),
    Buffer.from('8.0.39-raw\0'),
    Buffer.from([1, 0, 0, 0]),
    scramble.subarray(0, 8),
    Buffer.from([0]),
    Buffer.from([caps & 0xff, (caps >> 8) & 0xff]),
    Buffer.from([45, 2, 0]),
    Buffer.from([(caps >> 16) & 0xff, (caps >> 24) & 0xff]),
    Buffer.from([21]),
    Buffer.alloc(10),
    scramble.subarray(8),
    Buffer.from([0]),
    Buffer.from('mysql_clear_password\0'),
  ]);
  return packet(0, payload);
}

/** AuthSwitchRequest asking for the cleartext password. */
export function clearPasswordSwitch(seq: number): Buffer {
  return packet(
    seq,
    Buffer.concat([Buffer.from([0xfe]), Buffer.from('mysql_clear_password\0'), Buffer.alloc(1)]),
  );
}

export interface RawServer {
  port: number;
  /** Every byte any client sent. */
  received(): Buffer;
  close(): Promise<void>;
}

/**
 * A hostile server that never starts TLS: it greets (offering TLS or not) and answers whatever the
 * client sends with a request for the cleartext password, recording everything it receives.
 */
export async function startPlaintextServer(options: { offerTls: boolean }): Promise<RawServer> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.write(greeting(options.offerTls));
    socket.on('data', (data) => {
      chunks.push(data);
      if (!socket.destroyed) socket.write(clearPasswordSwitch(2));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    received: () => Buffer.concat(chunks),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
