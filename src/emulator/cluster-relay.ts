import type { Socket } from 'node:net';
import { type Duplex, Transform, type TransformCallback } from 'node:stream';
import { Command, encodeErr, encodeResultSet, framePacket } from '../shared/mysql-packets.js';
import type { QueryAnswer } from './aurora-queries.js';
import {
  BACKEND_READ_ONLY_ERRNO,
  keepReadOnly,
  READ_ONLY_SESSION_STATEMENT,
  READER_WRITE_ERROR,
} from './read-only.js';

/** What the relay of one cluster session must do besides copying bytes. */
export interface RelayPolicy {
  /** CLIENT_DEPRECATE_EOF was negotiated: result sets end with an OK packet, not EOF. */
  deprecateEof: boolean;
  /** The session runs on a reader: keep it read-only and answer writes as an Aurora reader does. */
  readOnly: boolean;
  /** An answer of the emulator's own for this statement, or null to send it to the backend. */
  answer(sql: string): QueryAnswer | null;
}

/** A command up to this size is read whole and looked at; larger ones (bulk inserts) stream through. */
const INSPECT_COMMAND_BYTES = 64 * 1024;
/** Server packets up to this size are read whole (ERR and OK packets are far smaller). */
const INSPECT_RESPONSE_BYTES = 1024;
const MAX_PACKET_PAYLOAD = 0xffffff;

interface WholePacket {
  header: Buffer;
  sequenceId: number;
  payload: Buffer;
}

/**
 * Splits a MySQL packet stream: the first packet of each message, when small, is handed over whole;
 * everything else (large packets, the continuation packets of a message of 16 MB or more) goes
 * straight through in the order it arrived.
 */
export class PacketSplitter {
  private header = Buffer.alloc(0);
  private left = 0;
  private collecting: Buffer[] | null = null;
  private collectingHeader: Buffer | null = null;
  private continuing = false;

  constructor(
    private readonly inspectLimit: number,
    private readonly onPacket: (packet: WholePacket) => void,
    private readonly onBytes: (bytes: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.left === 0 && this.collecting === null) {
        const take = chunk.subarray(i, i + 4 - this.header.length);
        i += take.length;
        this.header = this.header.length === 0 ? Buffer.from(take) : Buffer.concat([this.header, take]);
        if (this.header.length < 4) return;
        const header = this.header;
        this.header = Buffer.alloc(0);
        const length = header.readUIntLE(0, 3);
        const continuation = this.continuing;
        this.continuing = length === MAX_PACKET_PAYLOAD;
        this.left = length;
        if (!continuation && length <= this.inspectLimit) {
          this.collecting = [];
          this.collectingHeader = header;
        } else {
          this.onBytes(header);
        }
      } else {
        const take = chunk.subarray(i, i + this.left);
        i += take.length;
        this.left -= take.length;
        if (this.collecting) this.collecting.push(take);
        else this.onBytes(take);
      }
      if (this.left === 0 && this.collecting !== null) {
        const header = this.collectingHeader!;
        const payload = Buffer.concat(this.collecting);
        this.collecting = null;
        this.collectingHeader = null;
        this.onPacket({ header, sequenceId: header[3]!, payload });
      }
    }
  }
}

function whole(packet: WholePacket): Buffer {
  return Buffer.concat([packet.header, packet.payload]);
}

function comQuery(sql: string): Buffer {
  return Buffer.concat([Buffer.from([Command.QUERY]), Buffer.from(sql, 'utf8')]);
}

/** The packets of an answer the emulator gives itself, numbered after the command's sequence id. */
function answerPackets(answer: QueryAnswer, commandSequenceId: number, deprecateEof: boolean): Buffer {
  const payloads =
    answer.kind === 'rows'
      ? encodeResultSet(answer.columns, answer.rows, { deprecateEof })
      : [encodeErr(answer.code, answer.sqlState, answer.message)];
  return Buffer.concat(payloads.map((p, i) => framePacket(commandSequenceId + 1 + i, p)));
}

/**
 * The post-login relay of a cluster session: commands from the client pass to the backend except
 * the Aurora topology queries (answered here) and, on a reader, statements that would lift its
 * read-only mode (rewritten); responses pass back, with the backend's read-only error turned into
 * the one Aurora readers send. The MySQL protocol is strictly request/response, so by the time a
 * client sends a command every earlier response has reached it and an answer written here cannot
 * overtake one from the backend.
 *
 * Returns the two transforms, for the caller to track and destroy with the session.
 */
export function startClusterRelay(
  client: Duplex,
  backend: Socket,
  policy: RelayPolicy,
  onFailure: () => void,
): Duplex[] {
  /** Backend packets to drop: the answers to statements the relay injected itself. */
  const plan: Array<'pass' | 'swallow'> = [];

  const toBackend = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      commands.push(chunk);
      callback();
    },
  });
  const commands = new PacketSplitter(
    INSPECT_COMMAND_BYTES,
    (packet) => {
      const command = packet.payload[0];
      if (command === Command.QUERY) {
        const sql = packet.payload.subarray(1).toString('utf8');
        const answer = policy.answer(sql);
        if (answer) {
          client.write(answerPackets(answer, packet.sequenceId, policy.deprecateEof));
          return;
        }
        const kept = policy.readOnly ? keepReadOnly(sql) : null;
        toBackend.push(kept === null ? whole(packet) : framePacket(packet.sequenceId, comQuery(kept)));
        return;
      }
      if (policy.readOnly && command === Command.RESET_CONNECTION) {
        // The reset also resets the access mode: make the session read-only again, out of the client's sight.
        toBackend.push(whole(packet));
        toBackend.push(framePacket(0, comQuery(READ_ONLY_SESSION_STATEMENT)));
        plan.push('pass', 'swallow');
        return;
      }
      if (policy.readOnly && command === Command.CHANGE_USER) {
        // A new backend login would drop the read-only mode; RDS IAM clients do not re-authenticate this way.
        client.end(
          framePacket(
            packet.sequenceId + 1,
            encodeErr(
              1235,
              '42000',
              'The RDS IAM emulator does not support COM_CHANGE_USER on a reader session',
            ),
          ),
        );
        return;
      }
      toBackend.push(whole(packet));
    },
    (bytes) => toBackend.push(bytes),
  );

  const toClient = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      responses.push(chunk);
      callback();
    },
  });
  const responses = new PacketSplitter(
    INSPECT_RESPONSE_BYTES,
    (packet) => {
      const step = plan.shift();
      if (step === 'swallow') {
        // The injected SET failed: the session would no longer be read-only, so end it.
        if (packet.payload[0] === 0xff) onFailure();
        return;
      }
      const isReadOnlyError =
        policy.readOnly &&
        packet.payload.length >= 3 &&
        packet.payload[0] === 0xff &&
        packet.payload.readUInt16LE(1) === BACKEND_READ_ONLY_ERRNO;
      toClient.push(
        isReadOnlyError
          ? framePacket(
              packet.sequenceId,
              encodeErr(READER_WRITE_ERROR.code, READER_WRITE_ERROR.sqlState, READER_WRITE_ERROR.message),
            )
          : whole(packet),
      );
    },
    (bytes) => toClient.push(bytes),
  );

  client.pipe(toBackend).pipe(backend);
  backend.pipe(toClient).pipe(client);
  return [toBackend, toClient];
}
