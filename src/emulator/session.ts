import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { type SecureContext, TLSSocket } from 'node:tls';
import {
  Capability,
  decodeHandshakeResponse,
  encodeAuthSwitchRequest,
  encodeErr,
  encodeGreeting,
  framePacket,
  isSslRequest,
  type Packet,
  PacketChannel,
  ProtocolError,
} from '../protocol/mysql-packets.js';
import { type BackendAccount, BackendRefused, backendAccountFor, loginToBackend } from './backend.js';
import type { InstanceRoute } from './cluster.js';
import { type RelayPolicy, startClusterRelay } from './cluster-relay.js';
import type { FaultState } from './faults.js';
import type { ReaderAccount } from './reader-accounts.js';
import { type TrustedKey, verifyAuthToken } from './verify-token.js';

/** Pre-login traffic is a handful of small packets; anything bigger is hostile or broken. */
export const MAX_LOGIN_BYTES = 64 * 1024;

export type RejectionReason = string;

export interface IamUserMapping {
  backendUser?: string;
  backendPassword?: string;
  /**
   * Cluster mode: the account its sessions on a reader log in as, one with read privileges only
   * (checked at start-up). Default: one the emulator creates and maintains (reader-accounts.ts).
   */
  readerBackendUser?: string;
  /** The reader account's password; default empty. */
  readerBackendPassword?: string;
}

/** Where a connection's login goes: the endpoint it reached and, in cluster mode, the instance behind it. */
export interface Route {
  /** The endpoint name the connection reached: its token must name this host. */
  host: string;
  /** Cluster mode: the instance behind the endpoint now, its role fixed for the session's life. */
  instance?: InstanceRoute;
}

/** What every session needs from the emulator (and the listener) that owns it. */
export interface SessionContext {
  /**
   * Decides which endpoint a connection reached from the TLS server name it sent (if any) and the
   * listener it came in on; null when that endpoint leads to an instance that is down.
   */
  route(servername: string | undefined): Route | null;
  /** Cluster mode: what the relay of a session on `instance` needs. */
  relayPolicy?(
    instance: InstanceRoute,
    deprecateEof: boolean,
    readerAccount: ReaderAccount | undefined,
  ): RelayPolicy;
  /** Cluster mode: the read-only account reader sessions of this IAM user log in as. */
  readerAccount?(mapping: IamUserMapping): ReaderAccount;
  /**
   * Cluster mode: sets a managed reader account's password again after the backend refused it (a
   * reader session can change its own password); resolves whether a second login is worth trying.
   */
  repairReaderAccount?(account: ReaderAccount): Promise<boolean>;
  endpointPort: number;
  region: string;
  users: Readonly<Record<string, IamUserMapping>>;
  keys: readonly TrustedKey[];
  backend: { host: string; port: number; user: string; password?: string };
  offerTls: boolean;
  serverVersion: string;
  /** The auth plugin the greeting names (the engine profile's default). */
  authPluginName: string;
  greetingCapabilities: number;
  characterSet: number;
  skewSeconds: number;
  handshakeTimeoutMs: number;
  faults: FaultState;
  now(): number;
  secureContext(): Promise<SecureContext>;
  recordRejection(reason: RejectionReason): void;
  recordClientAuthPlugin(name: string): void;
  recordValidToken(signatureHash: string): void;
  recordLogin(session: Session): void;
}

/** Thrown inside the login flow to end it with a 1045 (or another ERR) counted under `reason`. */
class LoginRejected extends Error {
  constructor(
    readonly reason: RejectionReason,
    readonly payload: Buffer,
  ) {
    super(reason);
  }
}

/**
 * One client connection: greeting, optional TLS upgrade, IAM token check, backend login, and then a
 * byte-for-byte relay. Every socket it creates has an 'error' listener, and destroy() tears all of
 * them down, so no path can leave an unhandled 'error' or a dangling handle.
 */
export class Session {
  user: string | undefined;
  since: number | undefined;
  live = false;
  /** Set once the connection's endpoint is known (after TLS, whose server name can choose it). */
  route: Route | undefined;
  /** Cluster mode, on a reader: the read-only backend account the session runs as. */
  private readerAccount: ReaderAccount | undefined;
  private client: Duplex;
  private readonly streams = new Set<Duplex>();
  private readonly untrackers = new Map<Duplex, () => void>();
  private destroyed = false;
  private lastSequenceId = 0;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private delayTimer: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  private readonly running: Promise<void>;
  private readonly allClosed: Promise<void>;
  private resolveAllClosed!: () => void;
  private openStreams = 0;

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly ctx: SessionContext,
  ) {
    this.client = socket;
    this.allClosed = new Promise((resolve) => {
      this.resolveAllClosed = resolve;
    });
    socket.setNoDelay(true);
    this.track(socket);
    this.handshakeTimer = setTimeout(() => this.destroy(), ctx.handshakeTimeoutMs);
    this.running = this.run().catch(() => this.destroy());
  }

  /** Resolves once the login flow has ended and every socket of this session has closed. */
  get closed(): Promise<void> {
    return Promise.all([this.running, this.allClosed]).then(() => undefined);
  }

  get clientAddress(): string {
    const address = this.socket.remoteAddress ?? 'unknown';
    return address.startsWith('::ffff:') ? address.slice(7) : address;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.live = false;
    clearTimeout(this.handshakeTimer);
    if (this.delayTimer) {
      clearTimeout(this.delayTimer.timer);
      this.delayTimer.resolve();
    }
    for (const stream of this.streams) stream.destroy();
  }

  private track(stream: Duplex): void {
    this.streams.add(stream);
    this.openStreams++;
    const onError = () => this.destroy();
    const onClose = () => {
      this.destroy();
      if (--this.openStreams === 0) this.resolveAllClosed();
    };
    stream.on('error', onError);
    stream.once('close', onClose);
    this.untrackers.set(stream, () => {
      stream.off('error', onError);
      stream.off('close', onClose);
      stream.on('error', () => {});
      stream.once('close', () => {
        if (--this.openStreams === 0) this.resolveAllClosed();
      });
    });
    if (this.destroyed) stream.destroy();
  }

  /** Closes a stream of this session without ending the session (a backend login to try again). */
  private discard(stream: Duplex): void {
    this.untrackers.get(stream)?.();
    this.untrackers.delete(stream);
    this.streams.delete(stream);
    stream.destroy();
  }

  private async run(): Promise<void> {
    const delay = this.ctx.faults.handshakeDelayMs;
    if (delay > 0) await this.sleep(delay);
    if (this.destroyed) return;

    // Printable, NUL-free scramble bytes, as MySQL generates them: some clients treat it as a C string.
    const scramble = Buffer.from(randomBytes(20).map((b) => 33 + (b % 94)));
    let channel = new PacketChannel(this.socket, MAX_LOGIN_BYTES);
    let onTls = false;
    try {
      channel.write(
        0,
        encodeGreeting({
          serverVersion: this.ctx.serverVersion,
          connectionId: this.id,
          scramble,
          capabilities: this.ctx.greetingCapabilities,
          characterSet: this.ctx.characterSet,
          statusFlags: 0x0002, // SERVER_STATUS_AUTOCOMMIT
          authPluginName: this.ctx.authPluginName,
        }),
      );
      let packet = await this.expect(channel, 1);
      if (isSslRequest(packet.payload)) {
        if (!this.ctx.offerTls) throw new ProtocolError('SSL was not offered');
        channel = await this.upgradeToTls(channel);
        onTls = true;
        packet = await this.expect(channel, 2);
      }
      const response = decodeHandshakeResponse(packet.payload);
      if (response.clientFlags & Capability.SSL && !onTls) throw new ProtocolError('SSL flag without TLS');
      const servername = this.client instanceof TLSSocket ? this.client.servername : undefined;
      const route = this.ctx.route(typeof servername === 'string' ? servername : undefined);
      if (!route) {
        // The instance behind this endpoint is down: as close to "connection refused" as a greeting allows.
        this.destroy();
        return;
      }
      this.route = route;
      this.user = response.user;
      this.ctx.recordClientAuthPlugin(response.authPluginName ?? '(none)');
      const usingPassword = response.authResponse.length > 0;
      const mapping = Object.hasOwn(this.ctx.users, response.user)
        ? this.ctx.users[response.user]
        : undefined;
      if (!mapping) throw this.accessDenied('unknown-user', usingPassword);
      if (!(response.clientFlags & Capability.PLUGIN_AUTH)) {
        throw new LoginRejected(
          'auth-plugin-unsupported',
          encodeErr(1251, '08004', 'Client does not support authentication protocol requested by server'),
        );
      }

      const token = await this.readToken(channel, response, scramble);
      if (!onTls) throw this.accessDenied('not-tls', token.length > 0);
      if (token.length === 0) throw this.accessDenied('empty-token', false);

      const verdict = await verifyAuthToken(token, {
        host: route.host,
        port: this.ctx.endpointPort,
        user: response.user,
        region: this.ctx.region,
        keys: this.ctx.keys,
        now: new Date(this.ctx.now()),
        skewSeconds: this.ctx.skewSeconds,
      });
      if (!verdict.ok) throw this.accessDenied(verdict.reason, true);
      // Only a hash of the signature is kept: enough to count distinct tokens, useless to replay.
      this.ctx.recordValidToken(createHash('sha256').update(verdict.signature).digest('hex'));
      const fault = this.ctx.faults.admitLogin(this.ctx.now());
      if (fault) throw this.accessDenied(fault, true);

      const backend = await this.loginBackend(response, mapping);
      if (this.destroyed) return;
      channel.write(this.lastSequenceId + 1, backend.okPayload);
      this.startRelay(channel.detach(), backend.socket, backend.leftover, response.clientFlags);
    } catch (err) {
      if (this.destroyed) return;
      if (err instanceof LoginRejected) {
        this.ctx.recordRejection(err.reason);
        this.finish(channel, err.payload);
      } else if (err instanceof ProtocolError) {
        this.finish(channel, encodeErr(1043, '08S01', 'Bad handshake'));
      } else {
        this.destroy();
      }
    }
  }

  /**
   * The IAM account's client plugin is mysql_clear_password. A client that already answered the
   * greeting with that plugin sent the token (as a server would take it); any other first answer
   * (mysql_native_password, caching_sha2_password, whatever the profile greeted with) gets a switch.
   * Even on plaintext the emulator asks (as MariaDB/RDS would), so a test can prove that the
   * client, not the server, refuses to send a token without TLS.
   */
  private async readToken(
    channel: PacketChannel,
    response: ReturnType<typeof decodeHandshakeResponse>,
    scramble: Buffer,
  ): Promise<string> {
    let data: Buffer;
    if (response.authPluginName === 'mysql_clear_password' && response.authResponse.length > 0) {
      data = response.authResponse;
    } else {
      channel.write(
        this.lastSequenceId + 1,
        encodeAuthSwitchRequest('mysql_clear_password', Buffer.concat([scramble, Buffer.from([0])])),
      );
      data = (await this.expect(channel, this.lastSequenceId + 2)).payload;
    }
    const nul = data.indexOf(0);
    return data.subarray(0, nul < 0 ? data.length : nul).toString('utf8');
  }

  private async expect(channel: PacketChannel, sequenceId: number): Promise<Packet> {
    const packet = await channel.read();
    this.lastSequenceId = packet.sequenceId;
    if (packet.sequenceId !== (sequenceId & 0xff)) throw new ProtocolError('packets out of order');
    return packet;
  }

  private accessDenied(reason: RejectionReason, usingPassword: boolean): LoginRejected {
    const user = (this.user ?? '').replace(/'/g, "''");
    return new LoginRejected(
      reason,
      encodeErr(
        1045,
        '28000',
        `Access denied for user '${user}'@'${this.clientAddress}' (using password: ${usingPassword ? 'YES' : 'NO'})`,
      ),
    );
  }

  /** Sends a final ERR and closes; destroy() follows if the peer does not close in time. */
  private finish(channel: PacketChannel, errPayload: Buffer): void {
    channel.detach();
    if (this.client.destroyed) {
      this.destroy();
      return;
    }
    this.client.end(framePacket(this.lastSequenceId + 1, errPayload));
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = setTimeout(() => this.destroy(), 1000);
  }

  private async upgradeToTls(channel: PacketChannel): Promise<PacketChannel> {
    let pending = channel.detach();
    const secureContext = await this.ctx.secureContext();
    if (this.destroyed) throw new Error('session closed');
    // Bytes of the ClientHello may already have been read together with the SSLRequest.
    const buffered: Buffer | null = this.socket.read();
    if (buffered) pending = Buffer.concat([pending, buffered]);
    const transport = pending.length > 0 ? prependBytes(this.socket, pending) : this.socket;
    if (transport !== this.socket) this.track(transport);
    const tlsSocket = new TLSSocket(transport, { isServer: true, secureContext, requestCert: false });
    this.client = tlsSocket;
    this.track(tlsSocket);
    return new PacketChannel(tlsSocket, MAX_LOGIN_BYTES);
  }

  private async loginBackend(
    response: ReturnType<typeof decodeHandshakeResponse>,
    mapping: IamUserMapping,
  ): ReturnType<typeof loginToBackend> {
    const { backend } = this.ctx;
    let reader: ReaderAccount | undefined;
    if (this.route?.instance?.readOnly) {
      // Fail closed: a reader session never runs as the (writable) backend account.
      if (!this.ctx.readerAccount) throw new Error('no reader account for a reader session');
      reader = this.ctx.readerAccount(mapping);
    }
    this.readerAccount = reader;
    let socket: Duplex | undefined;
    const login = (account: BackendAccount) =>
      loginToBackend({
        host: backend.host,
        port: backend.port,
        user: account.user,
        password: account.password,
        database: response.database,
        characterSet: response.characterSet,
        clientFlags:
          response.clientFlags & this.ctx.greetingCapabilities & ~(Capability.SSL | Capability.COMPRESS),
        maxPacketSize: response.maxPacketSize || 0x1000000,
        connectAttrs: response.connectAttrs,
        timeoutMs: this.ctx.handshakeTimeoutMs,
        onSocket: (s) => {
          socket = s;
          this.track(s);
        },
      });
    try {
      try {
        return await login(reader ?? backendAccountFor(mapping, backend));
      } catch (err) {
        // 1045 for a reader account the emulator manages: its password was changed behind its back.
        const refusedReader =
          err instanceof BackendRefused && err.payload.length >= 3 && err.payload.readUInt16LE(1) === 1045;
        if (!reader || !refusedReader || this.destroyed || !this.ctx.repairReaderAccount) throw err;
        // Before its close event: the refused socket must not end the session.
        if (socket) this.discard(socket);
        if (!(await this.ctx.repairReaderAccount(reader)) || this.destroyed) throw err;
        return await login(reader);
      }
    } catch (err) {
      if (err instanceof BackendRefused) throw new LoginRejected('backend-refused', err.payload);
      // What a MySQL server says to a login it cannot serve while going down or coming up. (2013 is
      // a client-side error number no server sends; drivers have no code for it.)
      throw new LoginRejected('backend-unavailable', encodeErr(1053, '08S01', 'Server shutdown in progress'));
    }
  }

  private startRelay(
    clientLeftover: Buffer,
    backend: Socket,
    backendLeftover: Buffer,
    clientFlags: number,
  ): void {
    clearTimeout(this.handshakeTimer);
    this.live = true;
    this.since = this.ctx.now();
    this.ctx.recordLogin(this);
    const client = this.client;
    if (backendLeftover.length > 0) client.write(backendLeftover);
    const instance = this.route?.instance;
    if (instance && this.ctx.relayPolicy) {
      const negotiated = clientFlags & this.ctx.greetingCapabilities;
      const policy = this.ctx.relayPolicy(
        instance,
        (negotiated & Capability.DEPRECATE_EOF) !== 0,
        this.readerAccount,
      );
      const [toBackend, toClient] = startClusterRelay(client, backend, policy);
      for (const stream of [toBackend!, toClient!]) this.track(stream);
      if (clientLeftover.length > 0) toBackend!.write(clientLeftover);
      return;
    }
    if (clientLeftover.length > 0) backend.write(clientLeftover);
    // From here on sequence ids restart with every command, so both directions are plain bytes.
    client.pipe(backend);
    backend.pipe(client);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.delayTimer = {
        timer: setTimeout(() => {
          this.delayTimer = undefined;
          resolve();
        }, ms),
        resolve,
      };
    });
  }
}

/** A duplex over `socket` that first yields `head`: lets TLS start on bytes we already read. */
export function prependBytes(socket: Socket, head: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
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
  duplex.push(head);
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  return duplex;
}
