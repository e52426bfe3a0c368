import { connect, type Socket } from 'node:net';
import {
  Capability,
  Command,
  decodeAuthSwitchRequest,
  decodeErr,
  decodeGreeting,
  encodeHandshakeResponse,
  type Greeting,
  nativePasswordScramble,
  PacketChannel,
  ProtocolError,
} from '../protocol/mysql-packets.js';
import { EmulatorError } from './errors.js';

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
  /** Called with the backend's greeting, before the login answer is sent. */
  onGreeting?: (greeting: Greeting) => void;
  /** Statements run on the new session before it is handed over (each must answer OK). */
  initStatements?: readonly string[];
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

/** The account a session (or the start-up check) logs into the backend as. */
export interface BackendAccount {
  user: string;
  password: string;
}

/**
 * The backend account an IAM user's sessions run as: its own mapping, or the emulator's backend
 * login. A mapping that names a user without a password means an empty password.
 */
export function backendAccountFor(
  mapping: { backendUser?: string; backendPassword?: string },
  backend: { user: string; password?: string },
): BackendAccount {
  return {
    user: mapping.backendUser ?? backend.user,
    password: mapping.backendPassword ?? (mapping.backendUser ? '' : (backend.password ?? '')),
  };
}

/** Capabilities of the start-up check's login: a plain 4.1 client that asks for nothing optional. */
const CHECK_FLAGS =
  Capability.LONG_PASSWORD |
  Capability.PROTOCOL_41 |
  Capability.TRANSACTIONS |
  Capability.SECURE_CONNECTION |
  Capability.PLUGIN_AUTH |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA;

/** COM_QUIT, so the backend logs a clean disconnect rather than an aborted connection. */
const COM_QUIT = Buffer.from([1, 0, 0, 0, 0x01]);

/**
 * Logs into the backend once with each account, the way every session will, and reads the
 * backend's greeting on the way. Run at start-up so a wrong backend password fails here, with a
 * message naming the account, rather than as "Access denied" on every IAM login afterwards.
 */
export async function checkBackendAccounts(
  address: BackendAddress,
  accounts: readonly BackendAccount[],
  timeoutMs: number,
): Promise<Greeting> {
  const unique = [...new Map(accounts.map((a) => [`${a.user}\0${a.password}`, a])).values()];
  const results = await Promise.allSettled(
    unique.map(async (account) => {
      let greeting: Greeting | undefined;
      let session: BackendSession;
      try {
        session = await loginToBackend({
          ...address,
          ...account,
          database: undefined,
          characterSet: 45, // utf8mb4_general_ci
          clientFlags: CHECK_FLAGS,
          maxPacketSize: 0x1000000,
          connectAttrs: undefined,
          timeoutMs,
          onGreeting: (g) => {
            greeting = g;
          },
        });
      } catch (err) {
        throw describeBackendFailure(address, account, err);
      }
      session.socket.end(COM_QUIT);
      return greeting!;
    }),
  );
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return (results[0] as PromiseFulfilledResult<Greeting>).value;
}

function describeBackendFailure(
  address: BackendAddress,
  account: BackendAccount,
  err: unknown,
): EmulatorError {
  const where = `${address.host}:${address.port}`;
  if (err instanceof BackendRefused) {
    const { code, message } = safeDecodeErr(err.payload);
    return new EmulatorError(
      'EMULATOR_BACKEND_LOGIN_REFUSED',
      `The backend at ${where} refused the emulator's login as '${account.user}' (${code}: ${message}); every IAM login mapped to that account would fail`,
      `Check the backend password given for '${account.user}' (CLI: --backend mysql://USER:PASSWORD@HOST:PORT or --user IAM_USER:BACKEND_USER:BACKEND_PASSWORD; API: backend.password or users[...].backendPassword) and that the account exists.`,
      { cause: err },
    );
  }
  if (err instanceof ProtocolError) {
    return new EmulatorError(
      'EMULATOR_BACKEND_LOGIN_REFUSED',
      `The emulator could not log into the backend at ${where} as '${account.user}': ${err.message}`,
      `The emulator logs into the backend with mysql_native_password: on MySQL 8 create the account IDENTIFIED WITH mysql_native_password.`,
      { cause: err },
    );
  }
  return new EmulatorError(
    'EMULATOR_BACKEND_UNREACHABLE',
    `The backend at ${where} did not answer: ${(err as Error)?.message ?? String(err)}`,
    `Start the MySQL / MariaDB server at ${where} (or point the emulator's backend at a running one).`,
    { cause: err },
  );
}

function safeDecodeErr(payload: Buffer): { code: number | string; message: string } {
  try {
    return decodeErr(payload);
  } catch {
    return { code: 'ERR', message: 'unreadable error packet' };
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

/** COM_QUERY of a statement that answers with one OK packet (a SET); an ERR is thrown as BackendRefused. */
async function runStatement(channel: PacketChannel, sql: string): Promise<void> {
  channel.write(0, Buffer.concat([Buffer.from([Command.QUERY]), Buffer.from(sql, 'utf8')]));
  const reply = await channel.read();
  if (reply.payload[0] === 0xff) throw new BackendRefused(reply.payload);
  if (reply.payload[0] !== 0x00) throw new ProtocolError(`unexpected answer to ${sql}`);
}

async function runLogin(channel: PacketChannel, login: BackendLogin): Promise<BackendSession> {
  const greetingPacket = await channel.read();
  if (greetingPacket.payload[0] === 0xff) throw new BackendRefused(greetingPacket.payload);
  const greeting = decodeGreeting(greetingPacket.payload);
  login.onGreeting?.(greeting);
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
      for (const sql of login.initStatements ?? []) await runStatement(channel, sql);
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
