import type { Connection } from 'mysql2/promise';
import { type RequestOutcome, requestOutcome } from '../../src/index.js';
import { type FailoverClient, preciseNow, type Row } from './aurora-clients.js';
import { errorCode } from './workload.js';

export type RequestKind = 'insert' | 'checked-insert' | 'read';

/** One request, with wall-clock times (ms since the epoch: the emulator's failover records use the same clock). */
export interface AuroraOutcome {
  kind: RequestKind;
  worker: number;
  startedAt: number;
  endedAt: number;
  ok: boolean;
  /** A failed request's stable code (or error class name), 'hang' for one not settled in time. */
  code?: string;
  /**
   * A failed request: what `requestOutcome()` says of its error (whether the statement can have
   * run), 'unknown' for a hang; undefined for an error that is not a database error.
   */
  outcome?: RequestOutcome | undefined;
  /** checked-insert and read: the instance that served it (`@@aurora_server_id`) and its `@@innodb_read_only`. */
  instance?: string;
  readOnly?: boolean;
  /** The ids an insert wrote. */
  ids?: number[];
}

export interface AuroraWorkloadOptions {
  callers: number;
  /** A request not settled after this long counts as a hang (it goes on in the background). */
  hangBoundMs: number;
  pauseMs: number;
  onError?(error: unknown): void;
}

/** What the read-back found. */
export interface AuroraVerification {
  /** Inserts whose caller was told they committed. */
  acknowledged: number;
  /** Acknowledged inserts missing from the table. */
  lost: number;
  /** Ids present more than once. */
  duplicated: number;
  /** Rows nobody was told about, or whose insert failed (a failed insert may have committed: not an error). */
  ambiguousPresent: number;
  /** Rows with an id no insert used. */
  unexpected: number;
}

const ROLE_SQL = 'SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro';

/**
 * Callers in a loop, 5 ms apart, over three requests: a plain INSERT through the client's everyday
 * API; a *checked* INSERT, a transaction that also asks the instance it runs on who it is and
 * whether it is read-only (`@@aurora_server_id`, `@@innodb_read_only`) before committing, so an
 * acknowledged write can be attributed to an instance; and a read that asks the same (attributing
 * every connection the client hands out). Every insert uses an id of its own, in a column that is
 * not unique, so a write applied twice shows up (the table of Workload.createTableSql).
 */
export class AuroraWorkload {
  readonly #client: FailoverClient;
  readonly #table: string;
  readonly #options: AuroraWorkloadOptions;
  readonly #acknowledged = new Set<number>();
  readonly #attempted = new Set<number>();
  readonly outcomes: AuroraOutcome[] = [];
  #nextId = 1;
  #running = false;
  #loops: Array<Promise<void>> = [];

  constructor(client: FailoverClient, table: string, options: AuroraWorkloadOptions) {
    this.#client = client;
    this.#table = table;
    this.#options = options;
  }

  start(): void {
    this.#running = true;
    this.#loops = Array.from({ length: this.#options.callers }, (_, worker) => this.#loop(worker));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  /** Successful writes that ended after `since`. */
  writesSucceededAfter(since: number): number {
    return this.outcomes.filter((o) => o.ok && o.kind !== 'read' && o.endedAt >= since).length;
  }

  /**
   * The first write started after `since` that succeeded: when it was acknowledged. Strictly after:
   * a write started and acknowledged in the millisecond a failover began, before the cut, would
   * otherwise count as writes resuming after 0 s.
   */
  firstWriteAckAfter(since: number): number | undefined {
    let first: number | undefined;
    for (const o of this.outcomes) {
      if (o.ok && o.kind !== 'read' && o.startedAt > since && (first === undefined || o.endedAt < first)) {
        first = o.endedAt;
      }
    }
    return first;
  }

  async verify(root: Connection): Promise<AuroraVerification> {
    const [rows] = await root.query(`SELECT id, COUNT(*) AS copies FROM ${this.#table} GROUP BY id`);
    const present = new Map<number, number>();
    for (const row of rows as Array<{ id: number; copies: number }>) present.set(row.id, Number(row.copies));
    const result: AuroraVerification = {
      acknowledged: this.#acknowledged.size,
      lost: 0,
      duplicated: 0,
      ambiguousPresent: 0,
      unexpected: 0,
    };
    for (const id of this.#acknowledged) if (!present.has(id)) result.lost++;
    for (const [id, copies] of present) {
      if (copies > 1) result.duplicated++;
      if (!this.#attempted.has(id)) result.unexpected++;
      else if (!this.#acknowledged.has(id)) result.ambiguousPresent++;
    }
    return result;
  }

  async #loop(worker: number): Promise<void> {
    for (let n = 0; this.#running; n++) {
      const kind: RequestKind = (['insert', 'checked-insert', 'insert', 'read'] as const)[n % 4]!;
      await this.#measure(kind, worker);
      await new Promise((resolve) => setTimeout(resolve, this.#options.pauseMs));
    }
  }

  async #request(kind: RequestKind, worker: number, outcome: AuroraOutcome): Promise<void> {
    const client = this.#client;
    if (kind === 'read') {
      Object.assign(outcome, attribution(await client.query(worker, ROLE_SQL)));
      return;
    }
    const id = this.#nextId++;
    outcome.ids = [id];
    this.#attempted.add(id);
    const insert = `INSERT INTO ${this.#table} (id, worker) VALUES (?, ?)`;
    if (kind === 'insert') {
      await client.query(worker, insert, [id, worker]);
    } else {
      const role = await client.transaction(worker, async (statement) => {
        await statement(insert, [id, worker]);
        return attribution(await statement(ROLE_SQL));
      });
      Object.assign(outcome, role);
    }
    this.#acknowledged.add(id);
  }

  async #measure(kind: RequestKind, worker: number): Promise<void> {
    const outcome: AuroraOutcome = { kind, worker, startedAt: preciseNow(), endedAt: 0, ok: false };
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<'hang'>((resolve) => {
      timer = setTimeout(() => resolve('hang'), this.#options.hangBoundMs);
    });
    try {
      const result = await Promise.race([
        this.#request(kind, worker, outcome).then(() => 'ok' as const),
        hang,
      ]);
      outcome.ok = result === 'ok';
      if (result === 'hang') {
        outcome.code = 'hang';
        outcome.outcome = 'unknown';
      }
    } catch (err) {
      this.#options.onError?.(err);
      outcome.code = errorCode(err) ?? (err as Error | null)?.constructor?.name ?? 'untyped';
      outcome.outcome = requestOutcome(err);
    } finally {
      clearTimeout(timer);
      outcome.endedAt = preciseNow();
      this.outcomes.push(outcome);
    }
  }
}

function attribution(rows: Row[]): { instance: string; readOnly: boolean } {
  const row = rows[0] ?? {};
  return { instance: String(row.id), readOnly: Number(row.ro) === 1 };
}
