import type { Connection } from 'mysql2/promise';
import { IamAuthError, type IamPool } from '../../src/index.js';

/** One request's fate, for the recovery time and the counts. */
interface Outcome {
  startedAt: number;
  ok: boolean;
  /** The failure's code (or 'hang'); undefined for a success. */
  code?: string;
}

export interface WorkloadOptions {
  /** Concurrent callers; more than the pool's connectionLimit, so borrows also queue. */
  workers: number;
  /** A request not settled within this is a hang (counted, then abandoned). */
  hangBoundMs: number;
  /** Pause between one caller's requests, to keep two shared cores usable by the emulator. */
  pauseMs: number;
  /** Sees every error a request failed with (the leak check inspects them). */
  onError?: (error: unknown) => void;
}

export interface WorkloadCounts {
  requests: number;
  ok: number;
  /** Failures whose error carries a stable `code` (ours or the driver's), by code. */
  typedFailures: Record<string, number>;
  /** Failures a caller could not branch on: no `code`. Must be 0. */
  untypedFailures: Record<string, number>;
  hangs: number;
}

export interface Verification {
  /** Writes whose promise resolved. */
  committed: number;
  /** Writes whose promise rejected or hung: they may or may not have committed. */
  ambiguous: number;
  /** Committed ids missing from the table. */
  lost: number;
  /** Ids present more than once. */
  duplicated: number;
  /** Two-row transactions of which exactly one row is present. */
  torn: number;
  /** Ids present that no request ever wrote. */
  unexpected: number;
}

type WriteState = 'pending' | 'committed' | 'ambiguous';

/**
 * The steady load a fault hits: each caller loops over single-row inserts, two-row transactions
 * and reads, every write with an id no other write uses, into a table whose id column is indexed
 * but not unique, so a write applied twice shows up as a duplicate instead of an error.
 */
export class Workload {
  readonly #pool: IamPool;
  readonly #table: string;
  readonly #options: WorkloadOptions;
  readonly #writes = new Map<number, WriteState>();
  readonly #transactions: Array<[number, number]> = [];
  readonly #outcomes: Outcome[] = [];
  readonly #counts: WorkloadCounts = { requests: 0, ok: 0, typedFailures: {}, untypedFailures: {}, hangs: 0 };
  #nextId = 1;
  #running = false;
  #loops: Array<Promise<void>> = [];

  constructor(pool: IamPool, table: string, options: WorkloadOptions) {
    this.#pool = pool;
    this.#table = table;
    this.#options = options;
  }

  /** The table this workload writes to (the id column is deliberately not unique). */
  static createTableSql(table: string): string {
    return `CREATE TABLE ${table} (seq BIGINT AUTO_INCREMENT PRIMARY KEY, id INT NOT NULL, worker INT NOT NULL, KEY (id))`;
  }

  start(): void {
    this.#running = true;
    this.#loops = Array.from({ length: this.#options.workers }, (_, worker) => this.#loop(worker));
  }

  /** Stops issuing requests and waits for those in flight (each is bounded by the hang bound). */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  get counts(): WorkloadCounts {
    return structuredClone(this.#counts);
  }

  /**
   * Milliseconds from `since` until the first request that started at or after it succeeded;
   * undefined if none did.
   */
  recoveryMs(since: number): number | undefined {
    const first = this.#outcomes.find((o) => o.ok && o.startedAt >= since);
    return first === undefined ? undefined : first.startedAt - since;
  }

  /** Failures of requests that started inside [from, to), by code. */
  failuresBetween(from: number, to: number): Record<string, number> {
    const codes: Record<string, number> = {};
    for (const o of this.#outcomes) {
      if (o.ok || o.startedAt < from || o.startedAt >= to) continue;
      const code = o.code ?? 'untyped';
      codes[code] = (codes[code] ?? 0) + 1;
    }
    return codes;
  }

  /** Reads the table back (directly from MariaDB) and checks every write against what its caller was told. */
  async verify(root: Connection): Promise<Verification> {
    const [rows] = await root.query(`SELECT id, COUNT(*) AS copies FROM ${this.#table} GROUP BY id`);
    const present = new Map<number, number>();
    for (const row of rows as Array<{ id: number; copies: number }>) present.set(row.id, Number(row.copies));
    const result: Verification = {
      committed: 0,
      ambiguous: 0,
      lost: 0,
      duplicated: 0,
      torn: 0,
      unexpected: 0,
    };
    for (const [id, state] of this.#writes) {
      if (state === 'committed') {
        result.committed++;
        if (!present.has(id)) result.lost++;
      } else {
        // 'pending' here means a request that hung: as ambiguous as one that failed.
        result.ambiguous++;
      }
    }
    for (const [id, copies] of present) {
      if (copies > 1) result.duplicated++;
      if (!this.#writes.has(id)) result.unexpected++;
    }
    for (const [a, b] of this.#transactions) {
      if (present.has(a) !== present.has(b)) result.torn++;
    }
    return result;
  }

  async #loop(worker: number): Promise<void> {
    for (let n = 0; this.#running; n++) {
      const kind = n % 10;
      if (kind < 5) await this.#measure(() => this.#insert(worker));
      else if (kind < 7) await this.#measure(() => this.#transaction(worker));
      else await this.#measure(() => this.#pool.query(`SELECT COUNT(*) AS n FROM ${this.#table}`));
      await new Promise((resolve) => setTimeout(resolve, this.#options.pauseMs));
    }
  }

  async #insert(worker: number): Promise<void> {
    const id = this.#nextId++;
    this.#writes.set(id, 'pending');
    try {
      await this.#pool.query(`INSERT INTO ${this.#table} (id, worker) VALUES (?, ?)`, [id, worker]);
      this.#writes.set(id, 'committed');
    } catch (err) {
      this.#writes.set(id, 'ambiguous');
      throw err;
    }
  }

  async #transaction(worker: number): Promise<void> {
    const ids: [number, number] = [this.#nextId++, this.#nextId++];
    for (const id of ids) this.#writes.set(id, 'pending');
    this.#transactions.push(ids);
    try {
      const connection = await this.#pool.getConnection();
      try {
        await connection.beginTransaction();
        for (const id of ids) {
          await connection.query(`INSERT INTO ${this.#table} (id, worker) VALUES (?, ?)`, [id, worker]);
        }
        await connection.commit();
        connection.release();
      } catch (err) {
        // Whatever state it is in, the connection must not go back to the pool mid-transaction.
        connection.destroy();
        throw err;
      }
      for (const id of ids) this.#writes.set(id, 'committed');
    } catch (err) {
      for (const id of ids) this.#writes.set(id, 'ambiguous');
      throw err;
    }
  }

  /** Runs one request under the hang bound and records how it ended. */
  async #measure(request: () => Promise<unknown>): Promise<void> {
    const startedAt = performance.now();
    this.#counts.requests++;
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<'hang'>((resolve) => {
      timer = setTimeout(() => resolve('hang'), this.#options.hangBoundMs);
    });
    try {
      const result = await Promise.race([request().then(() => 'ok' as const), hang]);
      if (result === 'hang') {
        this.#counts.hangs++;
        this.#outcomes.push({ startedAt, ok: false, code: 'hang' });
      } else {
        this.#counts.ok++;
        this.#outcomes.push({ startedAt, ok: true });
      }
    } catch (err) {
      this.#options.onError?.(err);
      const code = errorCode(err);
      this.#outcomes.push({ startedAt, ok: false, ...(code === undefined ? {} : { code }) });
      const bucket = code === undefined ? this.#counts.untypedFailures : this.#counts.typedFailures;
      const key = code ?? describe(err);
      bucket[key] = (bucket[key] ?? 0) + 1;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The stable code a caller can branch on: ours (`RDS_IAM_*`) or the driver's (`ER_*`, `PROTOCOL_*`...). */
export function errorCode(err: unknown): string | undefined {
  if (err instanceof IamAuthError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code !== '' ? code : undefined;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message.slice(0, 60)}` : String(err).slice(0, 60);
}
