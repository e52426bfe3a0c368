import type { Socket } from 'node:net';
import {
  Capability,
  decodeErr,
  decodeGreeting,
  framePacket,
  type Greeting,
} from '../../protocol/mysql-packets.js';
import { TimeoutError } from '../shared/timeout.js';

export type { Greeting } from '../../protocol/mysql-packets.js';

/** What the server said first: its greeting, or an ERR (host blocked, too many connections...). */
export type ServerHello =
  | { kind: 'greeting'; greeting: Greeting; offersTls: boolean }
  | { kind: 'error'; errno: number; message: string };

/** A greeting is small; anything larger is not a MySQL server talking. */
const MAX_GREETING_BYTES = 64 * 1024;

/**
 * Reads the server's first packet from a fresh connection. Stops reading after it, so the socket
 * can then be handed to TLS with nothing consumed that belongs to the handshake.
 */
export function readServerHello(socket: Socket, timeoutMs: number): Promise<ServerHello> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(
      () => finish(new TimeoutError(`no MySQL greeting within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length < 4) return;
      const length = buffer.readUIntLE(0, 3);
      if (length + 4 > MAX_GREETING_BYTES) {
        finish(new Error('the server sent something that is not a MySQL greeting'));
        return;
      }
      if (buffer.length < length + 4) return;
      const payload = buffer.subarray(4, 4 + length);
      try {
        if (payload[0] === 0xff) {
          const err = decodeErr(payload);
          finish(undefined, { kind: 'error', errno: err.code, message: err.message });
        } else {
          const greeting = decodeGreeting(payload);
          finish(undefined, {
            kind: 'greeting',
            greeting,
            offersTls: (greeting.capabilities & Capability.SSL) !== 0,
          });
        }
      } catch (err) {
        finish(new Error(`the server's greeting is not MySQL protocol 10 (${(err as Error).message})`));
      }
    };
    const onClose = () =>
      finish(new Error('the server closed the connection before sending a MySQL greeting'));
    const onError = (err: Error) => finish(err);
    function finish(err: Error | undefined, hello?: ServerHello) {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      socket.pause();
      if (err) reject(err);
      else resolve(hello!);
    }
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onError);
  });
}

/**
 * The 32-byte SSLRequest (sequence 1) that asks the server to start TLS on this socket, as mysql2
 * and the mysql client send it before the login packet. Nothing about the user goes with it.
 */
export function sslRequest(characterSet: number): Buffer {
  const payload = Buffer.alloc(32);
  const flags =
    Capability.LONG_PASSWORD |
    Capability.PROTOCOL_41 |
    Capability.SSL |
    Capability.SECURE_CONNECTION |
    Capability.PLUGIN_AUTH;
  payload.writeUInt32LE(flags >>> 0, 0);
  payload.writeUInt32LE(16 * 1024 * 1024, 4);
  payload[8] = characterSet;
  return framePacket(1, payload);
}
