/**
 * The Acquirer's promises to callers, with fakes for the connections and the logins and a fake
 * clock: first come first served, each caller until its own deadline, an unfit connection replaced
 * without the caller seeing it, final failures to everyone waiting, end() answering everyone at once.
 * The real pieces are exercised together in test/integration (production-pool, production-faults).
 */
import type { PoolConnection } from 'mysql2';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  IamAcquireTimeoutError,
  type IamAuthError,
  IamConnectError,
  IamPoolClosedError,
  IamPoolExhaustedError,
} from '../../src/errors.js';
import type { GetConnectionCallback } from '../../src/mysql2-boundary.js';
import { Acquirer, type AcquireSettings } from '../../src/pool/acquirer.js';
import type { PoolConnections, Verdict } from '../../src/pool/connections.js';
import type { LoginDemand, PoolLogins } from '../../src/pool/logins.js';
import type { PoolReport } from '../../src/pool/report.js';

type Fake = PoolConnection & { name: string };
const connection = (name: string) => ({ name }) as unknown as Fake;

/** A pool of fake connections: idle ones handed out on the next tick, verdicts set per connection. */
function fakeConnections(room = 0) {
  const idle: Fake[] = [];
  const verdicts = new Map<Fake, Verdict>();
  const checks = new Map<Fake, Promise<string | undefined>>();
  const retired: string[] = [];
  const putBack: string[] = [];
  /** Connections that must not go straight from their release to a waiting caller. */
  const notHandedOn = new Set<Fake>();
  let onIdle = () => {};
  const connections = {
    driverError: undefined,
    hasIdle: () => idle.length > 0,
    room: () => room,
    takeIdle: (callback: GetConnectionCallback) => {
      const taken = idle.pop();
      process.nextTick(() => callback(taken ? null : new Error('none'), taken));
    },
    verdict: (c: Fake) => verdicts.get(c) ?? 'fit',
    mayHandOn: (c: Fake) => !notHandedOn.has(c),
    check: (c: Fake) => checks.get(c) ?? Promise.resolve(undefined),
    retire: (c: Fake, reason: string) => retired.push(`${c.name}:${reason}`),
    putBack: (c: Fake) => putBack.push(c.name),
    handedOut: () => {},
    counts: (waiting: number, awaitingTurn: number) => ({
      total: 0,
      idle: idle.length,
      borrowed: 0,
      opening: awaitingTurn,
      waiting,
    }),
    whenIdle: (f: () => void) => {
      onIdle = f;
    },
  };
  return {
    connections: connections as unknown as PoolConnections,
    idle,
    verdicts,
    checks,
    retired,
    putBack,
    notHandedOn,
    /** A connection comes back idle (mysql2's release), and the acquirer hears of it. */
    release(c: Fake) {
      idle.push(c);
      onIdle();
    },
  };
}

function fakeLogins(lastFailure?: IamAuthError) {
  let demand: LoginDemand | undefined;
  const logins = {
    serve: (d: LoginDemand) => {
      demand = d;
    },
    fill: vi.fn(),
    close: vi.fn(),
    awaitingTurn: 0,
    lastFailureFor: () => lastFailure,
  };
  return {
    logins: logins as unknown as PoolLogins,
    fill: logins.fill,
    close: logins.close,
    demand: () => demand as LoginDemand,
  };
}

function fakeReport() {
  const timedOut: IamAcquireTimeoutError[] = [];
  const acquired: number[] = [];
  return {
    report: {
      acquired: (ms: number) => acquired.push(ms),
      timedOut: (e: IamAcquireTimeoutError) => timedOut.push(e),
    } as unknown as PoolReport,
    timedOut,
    acquired,
  };
}

const SETTINGS = { acquireTimeoutMs: 1000, endpoint: 'db:3306', queueLimit: 0, waitForConnections: true };

/** An Acquirer on the fake timers' clock (the performance.now() that vi.useFakeTimers() replaces). */
function acquirerFor(
  connections: PoolConnections,
  logins: PoolLogins,
  report: PoolReport,
  settings: AcquireSettings = SETTINGS,
): Acquirer {
  return new Acquirer(connections, logins, report, settings, () => performance.now());
}

/** A caller: what it got, once it got it. */
function borrow(acquirer: Acquirer) {
  const result: { connection?: Fake; error?: Error } = {};
  acquirer.getConnection((error, c) => {
    if (error) result.error = error;
    else result.connection = c as Fake;
  });
  return result;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Acquirer', () => {
  it('hands an idle, fit connection to a caller on the next tick, with no timer', async () => {
    const pool = fakeConnections();
    const { report, acquired } = fakeReport();
    const acquirer = acquirerFor(pool.connections, fakeLogins().logins, report, SETTINGS);
    pool.idle.push(connection('a'));
    const caller = borrow(acquirer);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(caller.connection?.name).toBe('a');
    expect(acquired).toHaveLength(1);
  });

  it('serves waiting callers first come, first served, as connections come back', async () => {
    const pool = fakeConnections();
    const logins = fakeLogins();
    const acquirer = acquirerFor(pool.connections, logins.logins, fakeReport().report, SETTINGS);
    const first = borrow(acquirer);
    const second = borrow(acquirer);
    expect(acquirer.waiting).toBe(2);
    expect(logins.fill).toHaveBeenCalled();
    pool.release(connection('x'));
    await vi.advanceTimersByTimeAsync(0);
    expect(first.connection?.name).toBe('x');
    expect(second.connection).toBeUndefined();
    logins.demand().loggedIn(connection('new'));
    await vi.advanceTimersByTimeAsync(0);
    expect(second.connection?.name).toBe('new');
    expect(acquirer.waiting).toBe(0);
  });

  it('fails a caller only at its own deadline, with the last connect failure as the cause', async () => {
    const cause = new IamConnectError('Could not connect to db:3306 (ECONNREFUSED)');
    const pool = fakeConnections();
    const { report, timedOut } = fakeReport();
    const acquirer = acquirerFor(pool.connections, fakeLogins(cause).logins, report, SETTINGS);
    const early = borrow(acquirer);
    await vi.advanceTimersByTimeAsync(400);
    const late = borrow(acquirer);
    await vi.advanceTimersByTimeAsync(599);
    expect(early.error).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(early.error).toBeInstanceOf(IamAcquireTimeoutError);
    expect(early.error?.cause).toBe(cause);
    expect((early.error as IamAcquireTimeoutError).pool.waiting).toBe(2); // itself and the later caller
    expect(late.error).toBeUndefined();
    await vi.advanceTimersByTimeAsync(400);
    expect(late.error).toBeInstanceOf(IamAcquireTimeoutError);
    expect(timedOut).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('retires an unfit connection the caller never sees, and the caller waits on at its old deadline', async () => {
    const pool = fakeConnections();
    const logins = fakeLogins();
    const acquirer = acquirerFor(pool.connections, logins.logins, fakeReport().report, SETTINGS);
    const dead = connection('dead');
    pool.verdicts.set(dead, 'dead');
    const pinged = connection('pinged');
    pool.verdicts.set(pinged, 'check');
    pool.checks.set(pinged, Promise.resolve('failed-validation'));
    pool.idle.push(dead, pinged);
    const caller = borrow(acquirer);
    await vi.advanceTimersByTimeAsync(0);
    expect(pool.retired).toEqual(['pinged:failed-validation', 'dead:dead']);
    expect(caller.connection).toBeUndefined();
    expect(acquirer.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(500);
    logins.demand().loggedIn(connection('fresh'));
    await vi.advanceTimersByTimeAsync(0);
    expect(caller.connection?.name).toBe('fresh');
  });

  it('gives every waiting caller a final login failure at once, and later callers wait anew', async () => {
    const pool = fakeConnections();
    const logins = fakeLogins();
    const acquirer = acquirerFor(pool.connections, logins.logins, fakeReport().report, SETTINGS);
    const callers = [borrow(acquirer), borrow(acquirer), borrow(acquirer)];
    const final = new IamConnectError('TLS verification failed');
    logins.demand().failedForGood(final);
    await vi.advanceTimersByTimeAsync(0);
    expect(callers.map((c) => c.error)).toEqual([final, final, final]);
    const later = borrow(acquirer);
    await vi.advanceTimersByTimeAsync(0);
    expect(later.error).toBeUndefined();
    expect(acquirer.waiting).toBe(1);
  });

  it('answers every caller at end(), the one whose connection is being checked too, and leaves no timer', async () => {
    const pool = fakeConnections();
    const logins = fakeLogins();
    const acquirer = acquirerFor(pool.connections, logins.logins, fakeReport().report, SETTINGS);
    const checking = connection('slow ping');
    pool.verdicts.set(checking, 'check');
    let answerPing: (reason: string | undefined) => void = () => {};
    pool.checks.set(checking, new Promise((resolve) => (answerPing = resolve)));
    pool.idle.push(checking);
    const pinged = borrow(acquirer);
    await vi.advanceTimersByTimeAsync(0);
    const queued = borrow(acquirer);
    acquirer.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(pinged.error).toBeInstanceOf(IamPoolClosedError);
    expect(queued.error).toBeInstanceOf(IamPoolClosedError);
    expect(logins.close).toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
    // The ping answers later: the connection goes back (closed, the pool is ending), to nobody.
    answerPing(undefined);
    await vi.advanceTimersByTimeAsync(0);
    expect(pool.putBack).toEqual(['slow ping']);
    expect(borrow(acquirer)).toEqual({});
    await vi.advanceTimersByTimeAsync(0);
  });

  it('hands a released connection straight to the first waiting caller, on the next tick', async () => {
    const pool = fakeConnections();
    const { report, acquired } = fakeReport();
    const acquirer = acquirerFor(pool.connections, fakeLogins().logins, report);
    const first = borrow(acquirer);
    const second = borrow(acquirer);
    await vi.advanceTimersByTimeAsync(300);
    const released = connection('released') as Fake & { _released?: boolean };
    released._released = true; // as mysql2's release() leaves it
    expect(acquirer.takeReleased(released)).toBe(true);
    expect(first.connection).toBeUndefined(); // not from inside the caller's release()
    expect(acquirer.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(first.connection?.name).toBe('released');
    expect(released._released).toBe(false); // its next release() counts
    expect(second.connection).toBeUndefined();
    expect(acquired).toEqual([300]); // waited from its borrow to the release
  });

  it('leaves a released connection to mysql2 when nobody waits, or when it must be retired or checked first', async () => {
    const pool = fakeConnections();
    const acquirer = acquirerFor(pool.connections, fakeLogins().logins, fakeReport().report);
    expect(acquirer.takeReleased(connection('nobody waits'))).toBe(false);
    const caller = borrow(acquirer);
    const old = connection('past its lifetime');
    pool.notHandedOn.add(old);
    expect(acquirer.takeReleased(old)).toBe(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(caller.connection).toBeUndefined();
    expect(acquirer.waiting).toBe(1);
  });

  it('answers a caller whose connection is on its way at end() with IamPoolClosedError, and puts it back', async () => {
    const pool = fakeConnections();
    const acquirer = acquirerFor(pool.connections, fakeLogins().logins, fakeReport().report);
    const handedOn = borrow(acquirer);
    expect(acquirer.takeReleased(connection('on its way'))).toBe(true);
    pool.idle.push(connection('idle'));
    const taking = borrow(acquirer); // nobody waits now: takes the idle one, answered next tick too
    acquirer.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(handedOn.error).toBeInstanceOf(IamPoolClosedError);
    expect(taking.error).toBeInstanceOf(IamPoolClosedError);
    expect(pool.putBack).toEqual(['on its way', 'idle']);
  });

  it("keeps mysql2's queueLimit and waitForConnections: false as IamPoolExhaustedError", async () => {
    const limited = acquirerFor(fakeConnections().connections, fakeLogins().logins, fakeReport().report, {
      ...SETTINGS,
      queueLimit: 1,
    });
    borrow(limited);
    const refused = borrow(limited);
    await vi.advanceTimersByTimeAsync(0);
    expect(refused.error).toBeInstanceOf(IamPoolExhaustedError);

    const noWait = acquirerFor(fakeConnections(0).connections, fakeLogins().logins, fakeReport().report, {
      ...SETTINGS,
      waitForConnections: false,
    });
    const full = borrow(noWait);
    await vi.advanceTimersByTimeAsync(0);
    expect(full.error).toBeInstanceOf(IamPoolExhaustedError);
    limited.close();
  });
});
