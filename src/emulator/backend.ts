import { connect, type Socket } from 'node:net';
import {
  decodeAuthSwitchRequest,
  decodeGreeting,
  encodeHandshakeResponse,
  type Greeting,
  nativePasswordScramble,
  PacketChannel,
  ProtocolError,
} from './packets.js';

export interface BackendAddress {
  host: string;
  port: number;
}

export interface BackendLogin extends BackendAddress {
  user: string;
  password: string;
  database: string | undefined;
  characterSet: number;
  /** Capability flags to log in with: the client's, already narrowed to what was offered to it. */
  clientFlags: number;
  maxPacketSize: number;
  connectAttrs: Buffer | undefined;
  timeoutMs: number;
  /** Called as soon as the socket exists, so the owner can destroy it mid-login. */
  onSocket?: (socket: Socket) => void;
}

/** The backend answered the login with an ERR packet; `payload` is forwarded to the client as is. */
export class BackendRefused extends Error {
  override name = 'BackendRefused';
  constructor(readonly payload: Buffer) {
    super('backend refused the login');
  }
}

const MAX_LOGIN_PACKET = 1 << 20;

function openSocket(address: BackendAddress, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(address.port, address.host);
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`backend ${address.host}:${address.port} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', onError);
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout();
        reject(new Error(`backend login timed out after ${ms} ms`));
      }, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Reads the backend's greeting once, so the emulator can offer clients only what the backend supports. */
export async function probeBackend(address: BackendAddress, timeoutMs = 5000): Promise<Greeting> {
  const socket = await openSocket(address, timeoutMs);
  socket.on('error', () => {});
  const channel = new PacketChannel(socket, MAX_LOGIN_PACKET);
  try {
    const packet = await withTimeout(channel.read(), timeoutMs, () => socket.destroy());
    if (packet.payload[0] === 0xff) throw new BackendRefused(packet.payload);
    return decodeGreeting(packet.payload);
  } finally {
    socket.destroy();
  }
}

export interface BackendSession {
  socket: Socket;
  /** The backend's OK packet payload, relayed to the client with the client's sequence id. */
  okPayload: Buffer;
  /** Bytes the backend sent after its OK (none in practice); relayed to the client first. */
  leftover: Buffer;
}

/**
 * Logs into the backend with mysql_native_password (following an AuthSwitchRequest for the same
 * plugin) and hands back the socket, positioned after the OK, for raw relaying. The backend link is
 * plaintext: it is assumed to be a local test database.
 */
export async function loginToBackend(login: BackendLogin): Promise<BackendSession> {
  const socket = await openSocket(login, login.timeoutMs);
  socket.on('error', () => {});
  login.onSocket?.(socket);
  const channel = new PacketChannel(socket, MAX_LOGIN_PACKET);
  try {
    return await withTimeout(runLogin(channel, login), login.timeoutMs, () => socket.destroy());
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

async function runLogin(channel: PacketChannel, login: BackendLogin): Promise<BackendSession> {
  const greetingPacket = await channel.read();
  if (greetingPacket.payload[0] === 0xff) throw new BackendRefused(greetingPacket.payload);
  const greeting = decodeGreeting(greetingPacket.payload);
  channel.write(
    greetingPacket.sequenceId + 1,
    encodeHandshakeResponse({
      clientFlags: login.clientFlags & greeting.capabilities,
      maxPacketSize: login.maxPacketSize,
      characterSet: login.characterSet,
      user: login.user,
      authResponse: nativePasswordScramble(login.password, greeting.scramble),
      database: login.database,
      authPluginName: 'mysql_native_password',
      connectAttrs: login.connectAttrs,
    }),
  );
  for (let round = 0; round < 3; round++) {
    const reply = await channel.read();
    const marker = reply.payload[0];
    if (marker === 0x00) {
      const leftover = channel.detach();
      return { socket: channel.stream as Socket, okPayload: reply.payload, leftover };
    }
    if (marker === 0xff) throw new BackendRefused(reply.payload);
    if (marker === 0xfe) {
      const { pluginName, data } = decodeAuthSwitchRequest(reply.payload);
      if (pluginName !== 'mysql_native_password') {
        throw new ProtocolError(`backend asked for unsupported auth plugin ${pluginName}`);
      }
      channel.write(reply.sequenceId + 1, nativePasswordScramble(login.password, data.subarray(0, 20)));
      continue;
    }
    throw new ProtocolError(`unexpected backend packet 0x${(marker ?? 0).toString(16)} during login`);
  }
  throw new ProtocolError('backend kept switching auth plugins');
}
