import type { Socket } from 'node:net';
import { type Duplex, Transform, type TransformCallback } from 'node:stream';
import { Command, encodeErr, encodeResultSet, framePacket } from '../protocol/mysql-packets.js';
import type { QueryAnswer } from './aurora-queries.js';
import { READER_WRITE_ERROR } from './read-only.js';

/** What the relay of one cluster session must do besides copying bytes. */
export interface RelayPolicy {
  /** CLIENT_DEPRECATE_EOF was negotiated: result sets end with an OK packet, not EOF. */
  deprecateEof: boolean;
  /**
   * The session runs on a reader (as a backend account with read privileges only): refuse the one
   * command that would change that account, COM_CHANGE_USER, and answer writes as an Aurora reader does.
   */
  readOnly: boolean;
  /** On a reader: whether a backend ERR packet is a write refused for want of a privilege (read-only.ts). */
  isWriteRefusal(errPayload: Buffer): boolean;
  /** An answer of the emulator's own for this statement, or null to send it to the backend. */
  answer(sql: string): QueryAnswer | null;
  /** A statement (COM_QUERY, COM_STMT_EXECUTE) went by, whoever answers it: counted per instance. */
  onStatement(): void;
}

/** A command up to this size is read whole and looked at; larger ones (bulk inserts) stream through. */
const INSPECT_COMMAND_BYTES = 64 * 1024;
/** Server packets up to this size are read whole (ERR and OK packets are far smaller). */
const INSPECT_RESPONSE_BYTES = 1024;
const MAX_PACKET_PAYLOAD = 0xffffff;
const COM_STMT_EXECUTE = 0x17;

interface WholePacket {
  header: Buffer;
  sequenceId: number;
  payload: Buffer;
}

/**
 * Splits a MySQL packet stream: the first packet of each message, when small, is handed over whole;
 * everything else (large packets, the continuation packets of a message of 16 MB or more) goes
 * straight through in the order it arrived. The first packet of a large message is held until its
 * first payload byte (the command) is known, so `onLargePacket` can drop the whole message.
 */
export class PacketSplitter {
  private header = Buffer.alloc(0);
  private left = 0;
  private collecting: Buffer[] | null = null;
  private collectingHeader: Buffer | null = null;
  private continuing = false;
  /** The header of a large first packet, waiting for its first payload byte. */
  private pendingLarge: Buffer | null = null;
  /** The current large message (with its continuation packets) is being dropped. */
  private dropping = false;

  constructor(
    private readonly inspectLimit: number,
    private readonly onPacket: (packet: WholePacket) => void,
    private readonly onBytes: (bytes: Buffer) => void,
    private readonly onLargePacket?: (header: Buffer, firstByte: number) => 'pass' | 'drop',
  ) {}

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.pendingLarge) {
        const header = this.pendingLarge;
        this.pendingLarge = null;
        if (this.onLargePacket!(header, chunk[i]!) === 'drop') this.dropping = true;
        else this.onBytes(header);
        continue;
      }
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
        } else if (continuation) {
          if (!this.dropping) this.onBytes(header);
        } else {
          this.dropping = false;
          if (this.onLargePacket) this.pendingLarge = header;
          else this.onBytes(header);
        }
      } else {
        const take = chunk.subarray(i, i + this.left);
        i += take.length;
        this.left -= take.length;
        if (this.collecting) this.collecting.push(take);
        else if (!this.dropping) this.onBytes(take);
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
 * the Aurora topology queries (answered here) and, on a reader, COM_CHANGE_USER (refused, whatever
 * its size); responses pass back, on a reader with the backend's privilege refusal of a write turned
 * into the read-only error Aurora readers send. The MySQL protocol is strictly request/response, so
 * by the time a client sends a command every earlier response has reached it and an answer written
 * here cannot overtake one from the backend.
 *
 * Returns the two transforms, for the caller to track and destroy with the session.
 */
export function startClusterRelay(client: Duplex, backend: Socket, policy: RelayPolicy): Duplex[] {
  /** After a refused COM_CHANGE_USER the session is over: nothing more goes to the backend. */
  let ended = false;

  const refuseChangeUser = (sequenceId: number) => {
    ended = true;
    // A new backend login would run as another account (one that may write); RDS IAM clients do not
    // re-authenticate this way, and the emulator cannot check an IAM token in COM_CHANGE_USER.
    client.end(
      framePacket(
        sequenceId + 1,
        encodeErr(1235, '42000', 'The RDS IAM emulator does not support COM_CHANGE_USER on a reader session'),
      ),
    );
  };

  const toBackend = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (!ended) commands.push(chunk);
      callback();
    },
  });
  const commands = new PacketSplitter(
    INSPECT_COMMAND_BYTES,
    (packet) => {
      if (ended) return;
      const command = packet.payload[0];
      if (command === Command.QUERY || command === COM_STMT_EXECUTE) policy.onStatement();
      if (command === Command.QUERY) {
        const sql = packet.payload.subarray(1).toString('utf8');
        const answer = policy.answer(sql);
        if (answer) {
          client.write(answerPackets(answer, packet.sequenceId, policy.deprecateEof));
          return;
        }
      }
      if (policy.readOnly && command === Command.CHANGE_USER) {
        refuseChangeUser(packet.sequenceId);
        return;
      }
      toBackend.push(whole(packet));
    },
    (bytes) => {
      if (!ended) toBackend.push(bytes);
    },
    (header, command) => {
      if (ended) return 'drop';
      if (command === Command.QUERY || command === COM_STMT_EXECUTE) policy.onStatement();
      if (policy.readOnly && command === Command.CHANGE_USER) {
        refuseChangeUser(header[3]!);
        return 'drop';
      }
      return 'pass';
    },
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
      const refusal = policy.readOnly && packet.payload[0] === 0xff && policy.isWriteRefusal(packet.payload);
      toClient.push(
        refusal
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
