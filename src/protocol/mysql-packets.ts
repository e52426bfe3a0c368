/**
 * MySQL wire protocol packets (framing, greeting, handshake response, auth switch, errors, result
 * sets), shared by the local emulator and the CLI doctor: neither reaches into the other, and
 * neither into the library's internals.
 */
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';

/** MySQL capability flags the emulator looks at (mysql-server include/mysql_com.h). */
export const Capability = {
  LONG_PASSWORD: 0x1, // also "CLIENT_MYSQL": set by MySQL servers, cleared by MariaDB 10.2+
  FOUND_ROWS: 0x2,
  LONG_FLAG: 0x4,
  CONNECT_WITH_DB: 0x8,
  COMPRESS: 0x20,
  LOCAL_FILES: 0x80,
  PROTOCOL_41: 0x200,
  SSL: 0x800,
  TRANSACTIONS: 0x2000,
  SECURE_CONNECTION: 0x8000,
  MULTI_STATEMENTS: 0x10000,
  MULTI_RESULTS: 0x20000,
  PS_MULTI_RESULTS: 0x40000,
  PLUGIN_AUTH: 0x80000,
  CONNECT_ATTRS: 0x100000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x200000,
  SESSION_TRACK: 0x800000,
  DEPRECATE_EOF: 0x1000000,
} as const;

/** A malformed or out-of-order packet from the peer: answered with ER_HANDSHAKE_ERROR (1043). */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

export interface Packet {
  sequenceId: number;
  payload: Buffer;
}

/** Frames one payload (< 16 MB; login packets are far smaller) with the 4-byte MySQL header. */
export function framePacket(sequenceId: number, payload: Buffer): Buffer {
  if (payload.length >= 0xffffff) throw new RangeError('payload too large for a single packet');
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequenceId & 0xff;
  return Buffer.concat([header, payload]);
}

/**
 * Reads MySQL packets from a stream during the login phase, with a hard cap on buffered bytes so a
 * peer announcing a 16 MB packet (or streaming garbage) cannot make us hold arbitrary memory.
 * After login the channel is detached and the streams are relayed without parsing.
 */
export class PacketChannel {
  private buffer: Buffer;
  private readonly queue: Packet[] = [];
  private waiter: { resolve: (p: Packet) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private readonly onData = (chunk: Buffer) => this.receive(chunk);
  private readonly onEnd = () => this.fail(new Error('connection closed'));
  private readonly onError = (err: Error) => this.fail(err);

  constructor(
    readonly stream: Duplex,
    private readonly maxBufferedBytes: number,
    initial: Buffer = Buffer.alloc(0),
  ) {
    this.buffer = Buffer.alloc(0);
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
    if (initial.length > 0) this.receive(initial);
  }

  read(): Promise<Packet> {
    const next = this.queue.shift();
    if (next) return Promise.resolve(next);
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new Error('concurrent read'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  write(sequenceId: number, payload: Buffer): void {
    if (!this.stream.destroyed) this.stream.write(framePacket(sequenceId, payload));
  }

  /** Stops reading (for a TLS upgrade or the raw relay) and returns bytes received but not yet consumed. */
  detach(): Buffer {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
    this.stream.off('error', this.onError);
    this.stream.pause();
    const rest = [...this.queue.map((p) => framePacket(p.sequenceId, p.payload)), this.buffer];
    this.queue.length = 0;
    this.buffer = Buffer.alloc(0);
    return Buffer.concat(rest);
  }

  /** Bytes received but not yet handed out as packets (e.g. garbage after an SSLRequest). */
  get pendingBytes(): number {
    return this.buffer.length + this.queue.reduce((n, p) => n + 4 + p.payload.length, 0);
  }

  private receive(chunk: Buffer): void {
    if (this.failure) return;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUIntLE(0, 3);
      if (length + 4 > this.maxBufferedBytes) {
        this.fail(new ProtocolError(`packet of ${length} bytes exceeds the login-phase limit`));
        return;
      }
      if (this.buffer.length < length + 4) break;
      const sequenceId = this.buffer[3]!;
      const payload = Buffer.from(this.buffer.subarray(4, 4 + length));
      this.buffer = this.buffer.subarray(4 + length);
      this.deliver({ sequenceId, payload });
    }
    if (this.pendingBytes > this.maxBufferedBytes) {
      this.fail(new ProtocolError('too many bytes buffered during login'));
    }
  }

  private deliver(packet: Packet): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = null;
      waiter.resolve(packet);
    } else {
      this.queue.push(packet);
    }
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(err);
  }
}

/** Cursor over a payload; every read is bounds-checked and throws ProtocolError when it runs off the end. */
export class PayloadReader {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  u8(): number {
    this.need(1);
    return this.buf[this.offset++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.offset);
    this.offset += 4;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  skip(n: number): void {
    this.bytes(n);
  }

  /** NUL-terminated bytes; when `optionalNul` and no NUL follows, the rest of the payload. */
  nulTerminated(optionalNul = false): Buffer {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) {
      if (!optionalNul) throw new ProtocolError('missing NUL terminator');
      return this.bytes(this.remaining);
    }
    const v = this.buf.subarray(this.offset, end);
    this.offset = end + 1;
    return v;
  }

  lenencInt(): number {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) {
      this.need(3);
      const v = this.buf.readUIntLE(this.offset, 3);
      this.offset += 3;
      return v;
    }
    if (first === 0xfe) {
      const low = this.u32();
      const high = this.u32();
      // Login packets are capped far below 4 GB; a larger length can only be hostile.
      if (high !== 0) throw new ProtocolError('length-encoded integer out of range');
      return low;
    }
    throw new ProtocolError('invalid length-encoded integer');
  }

  private need(n: number): void {
    if (n < 0 || this.offset + n > this.buf.length) throw new ProtocolError('packet truncated');
  }
}

export function lenencInt(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n]);
  if (n <= 0xffff) {
    const b = Buffer.alloc(3);
    b[0] = 0xfc;
    b.writeUInt16LE(n, 1);
    return b;
  }
  if (n <= 0xffffff) {
    const b = Buffer.alloc(4);
    b[0] = 0xfd;
    b.writeUIntLE(n, 1, 3);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(BigInt(n), 1);
  return b;
}

export interface Greeting {
  protocolVersion: number;
  serverVersion: string;
  connectionId: number;
  /** The full 20-byte scramble (auth-plugin-data parts 1 and 2). */
  scramble: Buffer;
  capabilities: number;
  characterSet: number;
  statusFlags: number;
  authPluginName: string;
}

/** HandshakeV10, as MySQL 5.7/8.0 send it (CLIENT_MYSQL set, so the reserved bytes stay zero). */
export function encodeGreeting(g: Omit<Greeting, 'protocolVersion'>): Buffer {
  if (g.scramble.length !== 20) throw new RangeError('scramble must be 20 bytes');
  const afterVersion = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  afterVersion.writeUInt32LE(g.connectionId >>> 0, 0);
  g.scramble.copy(afterVersion, 4, 0, 8);
  // [12] filler 0
  afterVersion.writeUInt16LE(g.capabilities & 0xffff, 13);
  afterVersion[15] = g.characterSet;
  afterVersion.writeUInt16LE(g.statusFlags, 16);
  afterVersion.writeUInt16LE((g.capabilities >>> 16) & 0xffff, 18);
  afterVersion[20] = 21; // auth-plugin-data length: 20 bytes + NUL
  // [21..30] reserved zeros
  return Buffer.concat([
    Buffer.from([10]),
    Buffer.from(`${g.serverVersion}\0`, 'utf8'),
    afterVersion,
    g.scramble.subarray(8, 20),
    Buffer.from([0]),
    Buffer.from(`${g.authPluginName}\0`, 'latin1'),
  ]);
}

export function decodeGreeting(payload: Buffer): Greeting {
  const r = new PayloadReader(payload);
  const protocolVersion = r.u8();
  if (protocolVersion !== 10) throw new ProtocolError(`unsupported protocol version ${protocolVersion}`);
  const serverVersion = r.nulTerminated().toString('utf8');
  const connectionId = r.u32();
  const part1 = Buffer.from(r.bytes(8));
  r.skip(1);
  let capabilities = r.u16();
  const characterSet = r.u8();
  const statusFlags = r.u16();
  capabilities = (capabilities | (r.u16() << 16)) >>> 0;
  const authDataLength = r.u8();
  r.skip(10);
  let part2 = Buffer.alloc(0);
  if (capabilities & Capability.SECURE_CONNECTION) {
    const len = Math.max(13, authDataLength - 8);
    part2 = Buffer.from(r.bytes(len));
  }
  const scramble = Buffer.concat([part1, part2]).subarray(0, 20);
  const authPluginName =
    capabilities & Capability.PLUGIN_AUTH
      ? r.nulTerminated(true).toString('latin1')
      : 'mysql_native_password';
  return {
    protocolVersion,
    serverVersion,
    connectionId,
    scramble,
    capabilities,
    characterSet,
    statusFlags,
    authPluginName,
  };
}

/** The 32-byte SSLRequest a client sends (seq 1) before starting TLS. */
export function isSslRequest(payload: Buffer): boolean {
  return payload.length === 32 && (payload.readUInt32LE(0) & Capability.SSL) !== 0;
}

export interface HandshakeResponse {
  clientFlags: number;
  maxPacketSize: number;
  characterSet: number;
  user: string;
  authResponse: Buffer;
  database: string | undefined;
  authPluginName: string | undefined;
  /** The raw CONNECT_ATTRS block (length prefix included) so it can be forwarded unchanged. */
  connectAttrs: Buffer | undefined;
}

export function decodeHandshakeResponse(payload: Buffer): HandshakeResponse {
  const r = new PayloadReader(payload);
  const clientFlags = r.u32();
  if (!(clientFlags & Capability.PROTOCOL_41)) throw new ProtocolError('pre-4.1 clients are not supported');
  const maxPacketSize = r.u32();
  const characterSet = r.u8();
  r.skip(23);
  const user = r.nulTerminated().toString('utf8');
  let authResponse: Buffer;
  if (clientFlags & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    authResponse = Buffer.from(r.bytes(r.lenencInt()));
  } else if (clientFlags & Capability.SECURE_CONNECTION) {
    authResponse = Buffer.from(r.bytes(r.u8()));
  } else {
    authResponse = Buffer.from(r.nulTerminated());
  }
  let database: string | undefined;
  if (clientFlags & Capability.CONNECT_WITH_DB && r.remaining > 0) {
    database = r.nulTerminated(true).toString('utf8');
  }
  let authPluginName: string | undefined;
  if (clientFlags & Capability.PLUGIN_AUTH && r.remaining > 0) {
    authPluginName = r.nulTerminated(true).toString('latin1');
  }
  let connectAttrs: Buffer | undefined;
  if (clientFlags & Capability.CONNECT_ATTRS && r.remaining > 0) {
    const start = r.offset;
    const length = r.lenencInt();
    r.skip(length);
    connectAttrs = Buffer.from(payload.subarray(start, r.offset));
  }
  return {
    clientFlags,
    maxPacketSize,
    characterSet,
    user,
    authResponse,
    database,
    authPluginName,
    connectAttrs,
  };
}

export function encodeHandshakeResponse(h: HandshakeResponse): Buffer {
  const head = Buffer.alloc(32);
  head.writeUInt32LE(h.clientFlags >>> 0, 0);
  head.writeUInt32LE(h.maxPacketSize >>> 0, 4);
  head[8] = h.characterSet;
  const parts: Buffer[] = [head, Buffer.from(`${h.user}\0`, 'utf8')];
  if (h.clientFlags & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    parts.push(lenencInt(h.authResponse.length), h.authResponse);
  } else {
    parts.push(Buffer.from([h.authResponse.length]), h.authResponse);
  }
  if (h.clientFlags & Capability.CONNECT_WITH_DB) parts.push(Buffer.from(`${h.database ?? ''}\0`, 'utf8'));
  if (h.clientFlags & Capability.PLUGIN_AUTH) {
    parts.push(Buffer.from(`${h.authPluginName ?? 'mysql_native_password'}\0`, 'latin1'));
  }
  if (h.clientFlags & Capability.CONNECT_ATTRS) parts.push(h.connectAttrs ?? Buffer.from([0]));
  return Buffer.concat(parts);
}

/** AuthSwitchRequest: 0xFE, plugin name, plugin data (the scramble plus a NUL, as MySQL sends it). */
export function encodeAuthSwitchRequest(pluginName: string, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xfe]), Buffer.from(`${pluginName}\0`, 'latin1'), data]);
}

export function decodeAuthSwitchRequest(payload: Buffer): { pluginName: string; data: Buffer } {
  const r = new PayloadReader(payload);
  if (r.u8() !== 0xfe) throw new ProtocolError('not an AuthSwitchRequest');
  const pluginName = r.nulTerminated(true).toString('latin1');
  return { pluginName, data: Buffer.from(r.bytes(r.remaining)) };
}

export function encodeErr(code: number, sqlState: string, message: string): Buffer {
  const head = Buffer.alloc(3);
  head[0] = 0xff;
  head.writeUInt16LE(code, 1);
  return Buffer.concat([head, Buffer.from(`#${sqlState}`, 'latin1'), Buffer.from(message, 'utf8')]);
}

export function decodeErr(payload: Buffer): { code: number; sqlState: string; message: string } {
  const r = new PayloadReader(payload);
  if (r.u8() !== 0xff) throw new ProtocolError('not an ERR packet');
  const code = r.u16();
  let sqlState = 'HY000';
  if (r.remaining > 0 && payload[r.offset] === 0x23) {
    r.skip(1);
    sqlState = r.bytes(5).toString('latin1');
  }
  return { code, sqlState, message: r.bytes(r.remaining).toString('utf8') };
}

/** mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))); an empty password sends nothing. */
export function nativePasswordScramble(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const sha1 = (...parts: Buffer[]) => {
    const h = createHash('sha1');
    for (const p of parts) h.update(p);
    return h.digest();
  };
  const stage1 = sha1(Buffer.from(password, 'utf8'));
  const stage2 = sha1(stage1);
  const mix = sha1(scramble.subarray(0, 20), stage2);
  for (let i = 0; i < mix.length; i++) mix[i] = mix[i]! ^ stage1[i]!;
  return mix;
}

/** Command bytes the cluster relay looks at (mysql-server include/my_command.h). */
export const Command = {
  QUIT: 0x01,
  QUERY: 0x03,
  CHANGE_USER: 0x11,
  RESET_CONNECTION: 0x1f,
} as const;

/** SERVER_STATUS_AUTOCOMMIT: the status the emulator reports in packets it writes itself. */
export const STATUS_AUTOCOMMIT = 0x0002;

/** OK_Packet (`header` 0x00) or, with CLIENT_DEPRECATE_EOF, the OK that ends a result set (0xfe). */
export function encodeOk(header: 0x00 | 0xfe = 0x00, statusFlags = STATUS_AUTOCOMMIT): Buffer {
  const tail = Buffer.alloc(4);
  tail.writeUInt16LE(statusFlags, 0); // warnings stay 0
  return Buffer.concat([Buffer.from([header]), lenencInt(0), lenencInt(0), tail]);
}

/** EOF_Packet (protocol 4.1), for clients without CLIENT_DEPRECATE_EOF. */
export function encodeEof(statusFlags = STATUS_AUTOCOMMIT): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0xfe;
  b.writeUInt16LE(0, 1);
  b.writeUInt16LE(statusFlags, 3);
  return b;
}

/** Column types the emulator answers with (the subset of enum_field_types it needs). */
export type ColumnType = 'string' | 'integer' | 'double' | 'datetime';

export interface ResultColumn {
  name: string;
  type: ColumnType;
}

const COLUMN_WIRE: Record<
  ColumnType,
  { type: number; charset: number; length: number; flags: number; decimals: number }
> = {
  // VAR_STRING, utf8mb4_general_ci
  string: { type: 0xfd, charset: 45, length: 1024, flags: 0, decimals: 0 },
  // LONGLONG, binary, NUM_FLAG | BINARY_FLAG
  integer: { type: 0x08, charset: 63, length: 21, flags: 0x8080, decimals: 0 },
  // DOUBLE, binary, NUM_FLAG | BINARY_FLAG, 31 = "not fixed" decimals
  double: { type: 0x05, charset: 63, length: 22, flags: 0x8080, decimals: 31 },
  // DATETIME(6), binary, BINARY_FLAG
  datetime: { type: 0x0c, charset: 63, length: 26, flags: 0x0080, decimals: 6 },
};

function lenencString(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([lenencInt(bytes.length), bytes]);
}

function encodeColumnDefinition(column: ResultColumn): Buffer {
  const wire = COLUMN_WIRE[column.type];
  const fixed = Buffer.alloc(13);
  fixed[0] = 0x0c;
  fixed.writeUInt16LE(wire.charset, 1);
  fixed.writeUInt32LE(wire.length, 3);
  fixed[7] = wire.type;
  fixed.writeUInt16LE(wire.flags, 8);
  fixed[10] = wire.decimals;
  // [11..12] filler
  return Buffer.concat([
    lenencString('def'),
    lenencString(''), // schema
    lenencString(''), // table
    lenencString(''), // org_table
    lenencString(column.name),
    lenencString(column.name),
    fixed,
  ]);
}

export type ResultValue = string | number | null;

/**
 * A text-protocol result set, as the payloads of its packets: column count, column definitions,
 * (EOF), rows, and the terminating EOF, or the OK with header 0xfe under CLIENT_DEPRECATE_EOF.
 */
export function encodeResultSet(
  columns: readonly ResultColumn[],
  rows: readonly (readonly ResultValue[])[],
  options: { deprecateEof: boolean },
): Buffer[] {
  const packets: Buffer[] = [lenencInt(columns.length), ...columns.map(encodeColumnDefinition)];
  if (!options.deprecateEof) packets.push(encodeEof());
  for (const row of rows) {
    packets.push(
      Buffer.concat(row.map((value) => (value === null ? Buffer.from([0xfb]) : lenencString(String(value))))),
    );
  }
  packets.push(options.deprecateEof ? encodeOk(0xfe) : encodeEof());
  return packets;
}
