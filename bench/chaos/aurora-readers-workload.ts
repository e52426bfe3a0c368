import type { Connection } from 'mysql2/promise';
import type { ReadClient } from './aurora-readers-clients.js';
import { errorCode } from './workload.js';

export type ReadRequestKind = 'read' | 'write' | 'writer-write';

/** One request, with wall-clock times (ms since the epoch, the emulator's clock). */
export interface ReadOutcome {
  kind: ReadRequestKind;
  worker: number;
  startedAt: number;
  endedAt: number;
  ok: boolean;
  /** A failed request's stable code (or error class name), 'hang' for one not settled in time. */
  code?: string;
  /** A read: the instance that served it (`@@aurora_server_id`) and whether its session was read-only. */
  instance?: string;
  readOnly?: boolean;
  /** A read: the server's id of the connection it got, where the client says (see ReadClient.read). */
  threadId?: number;
}

export interface ReadWorkloadOptions {
  callers: number;
  /** A request not settled after this long counts as a hang (it goes on in the background). */
  hangBoundMs: number;
  pauseMs: number;
  /** The server-side work of one read, on the connection that asked who it is. */
  workSql: string;
  /** A write through the reader client this often (it must be refused; 0 = none). */
  writeEveryMs: number;
  /** A write through the cluster's writer pool this often (ours-reader only; 0 = none). */
  writerEveryMs: number;
  onError?(error: unknown): void;
}

/** What the read-back found about the writes. */
export interface WriteVerification {
  /** Write attempts through the reader client, and how many rows they left in the table (accepted somewhere). */
  readerWritesAttempted: number;
  readerWritesPresent: number;
  /** Writer-pool writes acknowledged, and how many of those are missing. */
  writerWritesAcknowledged: number;
  writerWritesLost: number;
}

/**
 * Callers in a loop over reads through the reader client: each read borrows one connection, asks
 * `@@aurora_server_id, @@innodb_read_only` (who serves it, and whether it is a reader) and runs the
 * server-side work on it, then gives it back. One more loop tries a single-row INSERT through the
 * reader client every `writeEveryMs` (on a borrowed connection, see ReadClient.write): it must be
 * refused (a reader answers 1290). With a writer pool (ours-reader), one more loop writes through it
 * every `writerEveryMs`.
 */
export class ReadWorkload {
  readonly #client: ReadClient;
  readonly #table: string;
  readonly #options: ReadWorkloadOptions;
  #readerWrites = 0;
  readonly #writerAcknowledged = new Set<number>();
  readonly outcomes: ReadOutcome[] = [];
  #nextId = 1;
  #running = false;
  #loops: Array<Promise<void>> = [];

  constructor(client: ReadClient, table: string, options: ReadWorkloadOptions) {
    this.#client = client;
    this.#table = table;
    this.#options = options;
  }

  static createTableSql(table: string): string {
    return `CREATE TABLE ${table} (seq BIGINT AUTO_INCREMENT PRIMARY KEY, id BIGINT NOT NULL, kind VARCHAR(16) NOT NULL, KEY (id))`;
  }

  start(): void {
    this.#running = true;
    this.#loops = Array.from({ length: this.#options.callers }, (_, worker) => this.#loop(worker));
    if (this.#options.writeEveryMs > 0) this.#loops.push(this.#every('write', this.#options.writeEveryMs));
    if (this.#client.writerWrite && this.#options.writerEveryMs > 0) {
      this.#loops.push(this.#every('writer-write', this.#options.writerEveryMs));
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  async verify(root: Connection): Promise<WriteVerification> {
    const [rows] = await root.query(`SELECT id, kind FROM ${this.#table}`);
    const present = new Set<number>();
    let readerWritesPresent = 0;
    for (const row of rows as Array<{ id: number; kind: string }>) {
      // Only the reader client writes rows of kind 'write': each one is a write a server accepted.
      if (row.kind === 'write') readerWritesPresent++;
      else present.add(Number(row.id));
    }
    let writerWritesLost = 0;
    for (const id of this.#writerAcknowledged) if (!present.has(id)) writerWritesLost++;
    return {
      readerWritesAttempted: this.#readerWrites,
      readerWritesPresent,
      writerWritesAcknowledged: this.#writerAcknowledged.size,
      writerWritesLost,
    };
  }

  async #loop(worker: number): Promise<void> {
    while (this.#running) {
      await this.#measure('read', worker);
      await new Promise((resolve) => setTimeout(resolve, this.#options.pauseMs));
    }
  }

  async #every(kind: 'write' | 'writer-write', everyMs: number): Promise<void> {
    while (this.#running) {
      await new Promise((resolve) => setTimeout(resolve, everyMs));
      if (this.#running) await this.#measure(kind, -1);
    }
  }

  async #request(kind: ReadRequestKind, outcome: ReadOutcome): Promise<void> {
    if (kind === 'read') {
      const served = await this.#client.read(this.#options.workSql, (threadId) => {
        outcome.threadId = threadId;
      });
      Object.assign(outcome, served);
      return;
    }
    const id = this.#nextId++;
    const insert = `INSERT INTO ${this.#table} (id, kind) VALUES (?, ?)`;
    if (kind === 'write') {
      this.#readerWrites++;
      await this.#client.write(insert, [id, kind]);
      return;
    }
    await this.#client.writerWrite?.(insert, [id, kind]);
    this.#writerAcknowledged.add(id);
  }

  async #measure(kind: ReadRequestKind, worker: number): Promise<void> {
    const outcome: ReadOutcome = { kind, worker, startedAt: Date.now(), endedAt: 0, ok: false };
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<'hang'>((resolve) => {
      timer = setTimeout(() => resolve('hang'), this.#options.hangBoundMs);
    });
    try {
      const result = await Promise.race([this.#request(kind, outcome).then(() => 'ok' as const), hang]);
      outcome.ok = result === 'ok';
      if (result === 'hang') outcome.code = 'hang';
    } catch (err) {
      this.#options.onError?.(err);
      outcome.code = failureCode(err);
    } finally {
      clearTimeout(timer);
      outcome.endedAt = Date.now();
      this.outcomes.push(outcome);
    }
  }
}

/**
 * A failure's stable code; for the AWS wrapper, which wraps driver errors in an `AwsWrapperError`
 * without one, its class name and the MySQL error number its message names when it names one.
 */
export function failureCode(err: unknown): string {
  const code = errorCode(err);
  if (code !== undefined) return code;
  const name = (err as Error | null)?.constructor?.name ?? 'untyped';
  const message = (err as Error | null)?.message ?? '';
  if (/--read-only option/.test(message)) return `${name} (1290)`;
  if (/READ ONLY transaction/i.test(message)) return `${name} (1792)`;
  return name;
}
