/**
 * A MySQL server that answers at once, for the hot-path benchmark (bench/hot-path.ts): TLS with a
 * certificate for HOT_PATH_HOST, any user logged in with the cleartext password it sends, and every
 * COM_QUERY answered with the same one-row result set (`one: 1`), COM_PING with OK. No MariaDB and
 * no emulator behind it, so the client under test is nearly all the work on the machine and its
 * CPU per query is what the figures compare. It runs in a process of its own on the machine's Node,
 * the same for every client Node version measured.
 *
 * Prints one JSON line `{ port, caPem }` once it listens; ends when its stdin closes.
 */
import { createServer, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import { generateCertificateAuthority, issueServerCertificate } from '../../src/emulator/certificates.js';
import { prependBytes } from '../../src/emulator/session.js';
import {
  Capability,
  encodeAuthSwitchRequest,
  encodeGreeting,
  encodeOk,
  encodeResultSet,
  framePacket,
  isSslRequest,
  PacketChannel,
} from '../../src/protocol/mysql-packets.js';
import { HOT_PATH_HOST } from '../lib/hot-path-shape.js';

const COM_QUIT = 0x01;
const COM_QUERY = 0x03;
const COM_PING = 0x0e;
const CAPABILITIES =
  Capability.LONG_PASSWORD |
  Capability.PROTOCOL_41 |
  Capability.SSL |
  Capability.TRANSACTIONS |
  Capability.SECURE_CONNECTION |
  Capability.PLUGIN_AUTH;

/** The answer to every query, framed once: column count, column, EOF, row, EOF (sequence 1-5). */
const RESULT = Buffer.concat(
  encodeResultSet([{ name: 'one', type: 'integer' }], [[1]], { deprecateEof: false }).map((payload, i) =>
    framePacket(i + 1, payload),
  ),
);
const OK_AFTER_COMMAND = framePacket(1, encodeOk());

async function main(): Promise<void> {
  const ca = await generateCertificateAuthority('hot-path benchmark CA');
  const certificate = await issueServerCertificate(ca, [HOT_PATH_HOST]);
  const secureContext = createSecureContext({ cert: certificate.certPem, key: certificate.keyPem });
  let connectionId = 0;
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    // Clients exit without a goodbye (a benchmark process ends): that ends this connection only.
    socket.on('error', () => socket.destroy());
    void serve(socket, ++connectionId, secureContext).catch(() => socket.destroy());
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    process.stdout.write(`${JSON.stringify({ port, caPem: ca.certPem })}\n`);
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

async function serve(
  socket: Socket,
  id: number,
  secureContext: ReturnType<typeof createSecureContext>,
): Promise<void> {
  const scramble = Buffer.from('abcdefghijklmnopqrst');
  let channel = new PacketChannel(socket, 1 << 16);
  channel.write(
    0,
    encodeGreeting({
      serverVersion: '8.0.39-canned',
      connectionId: id,
      scramble,
      capabilities: CAPABILITIES,
      characterSet: 45,
      statusFlags: 0x0002,
      authPluginName: 'mysql_clear_password',
    }),
  );
  let packet = await channel.read();
  if (!isSslRequest(packet.payload)) throw new Error('the client did not ask for TLS');
  // The ClientHello may have come with the SSLRequest: TLS starts on those bytes too.
  const early = channel.detach();
  const transport = early.length > 0 ? prependBytes(socket, early) : socket;
  const tls = new TLSSocket(transport as Socket, { isServer: true, secureContext });
  channel = new PacketChannel(tls, 1 << 16);
  packet = await channel.read(); // the handshake response
  channel.write(packet.sequenceId + 1, encodeAuthSwitchRequest('mysql_clear_password', scramble));
  packet = await channel.read(); // the password, whatever it is
  channel.write(packet.sequenceId + 1, encodeOk());
  answerCommands(tls, channel.detach());
  tls.resume();
}

/** The command phase: one answer per command packet, parsed straight from the stream. */
function answerCommands(tls: TLSSocket, early: Buffer): void {
  let pending: Buffer = Buffer.alloc(0);
  const receive = (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const length = pending.readUIntLE(0, 3);
      if (pending.length < length + 4) break;
      const command = pending[4];
      pending = pending.subarray(length + 4);
      if (command === COM_QUERY) tls.write(RESULT);
      else if (command === COM_PING) tls.write(OK_AFTER_COMMAND);
      else if (command === COM_QUIT) tls.end();
      else tls.write(OK_AFTER_COMMAND);
    }
  };
  tls.on('data', receive);
  if (early.length > 0) receive(early);
  tls.on('error', () => tls.destroy());
}

await main();
