/**
 * PoolLogins' decisions, with a fake mysql2 pool that answers each login as a script says and a
 * fake clock: as many logins as callers wait for, under the login cap; one probe at a time while
 * the endpoint fails; refused tokens counted per token; another reader at once when one refuses.
 */
import type { PoolConnection } from 'mysql2';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { IamAuthError } from '../../src/errors.js';
import type { GetConnectionCallback } from '../../src/mysql2-boundary.js';
import type { PoolConnections } from '../../src/pool/connections.js';
import { LoginRateLimiter } from '../../src/pool/login-rate.js';
import { PoolLogins } from '../../src/pool/logins.js';
import type { PoolReport } from '../../src/pool/report.js';
import { type ConnectionRoute, WriterRoute } from '../../src/pool/routing.js';
import { markTokenSent } from '../../src/retry.js';

type Outcome = 'ok' | 'refused-tcp' | { refusedToken: number } | 'tls-untrusted';

const refusedTcp = () =>
  Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', fatal: true });

/** mysql2 as PoolLogins sees it: `open` answers after 5 ms with the next scripted outcome. */
function fakeMysql(script: Outcome[], limit = 10) {
  const opened: Array<{ at: number; outcome: Outcome }> = [];
  let inFlight = 0;
  let mostInFlight = 0;
  let open = 0;
  const connections = {
    roles: { needsCheck: () => false },
    // Like mysql2's pool: a connection takes room from the moment it is created; a failed one gives it back.
    room: () => limit - open - inFlight,
    hasIdle: () => false,
    open: (callback: GetConnectionCallback) => {
      const outcome = script.shift() ?? 'ok';
      opened.push({ at: performance.now(), outcome });
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        if (outcome === 'ok') open++;
        if (outcome === 'ok') callback(null, { name: `c${opened.length}` } as unknown as PoolConnection);
        else if (outcome === 'refused-tcp') callback(refusedTcp());
        else if (outcome === 'tls-untrusted')
          callback(Object.assign(new Error('self-signed certificate'), { code: 'HANDSHAKE_SSL_ERROR' }));
        else {
          const error = Object.assign(new Error('Access denied'), { errno: 1045 });
          markTokenSent(error, outcome.refusedToken);
          callback(error);
        }
      }, 5);
    },
    putBack: vi.fn(),
    writerMayHaveMoved: vi.fn(),
  };
  return { connections: connections as unknown as PoolConnections, opened, mostInFlight: () => mostInFlight };
}

const report = { retrying: vi.fn(), failedForGood: vi.fn() } as unknown as PoolReport;
const SETTINGS = {
  retry: { retries: 2, minTimeoutMs: 100, maxTimeoutMs: 400 },
  endpoint: 'db:3306',
  validationTimeoutMs: 1000,
};

/** Callers waiting for connections, as the Acquirer serves them. */
function callers(count: number) {
  let waiting = count;
  const served: string[] = [];
  const failures: IamAuthError[] = [];
  return {
    served,
    failures,
    demand: {
      waiting: () => waiting,
      loggedIn: (c: PoolConnection) => {
        waiting--;
        served.push((c as unknown as { name: string }).name);
      },
      failedForGood: (error: IamAuthError) => {
        failures.push(error);
        waiting = 0;
      },
    },
  };
}

function logins(
  mysql: ReturnType<typeof fakeMysql>,
  perSecond = 0,
  route: ConnectionRoute = new WriterRoute('db', undefined),
  settings = SETTINGS,
) {
  return new PoolLogins(mysql.connections, new LoginRateLimiter(perSecond), report, route, settings);
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('PoolLogins', () => {
  it('starts one login per waiting caller, no more than the pool has room for', async () => {
    const mysql = fakeMysql([], 3);
    const pool = logins(mysql);
    const waiting = callers(5);
    pool.serve(waiting.demand);
    pool.fill();
    await vi.advanceTimersByTimeAsync(10);
    expect(mysql.opened).toHaveLength(3);
    expect(waiting.served).toHaveLength(3);
  });

  it('spaces logins under the cap, and a turn nobody needs any more opens nothing', async () => {
    const mysql = fakeMysql([]);
    const pool = logins(mysql, 10); // one login every 100 ms
    const waiting = callers(3);
    pool.serve(waiting.demand);
    pool.fill();
    await vi.advanceTimersByTimeAsync(50);
    expect(mysql.opened).toHaveLength(1);
    // The other two callers are served by a released connection before the next turn.
    waiting.demand.loggedIn({ name: 'released' } as unknown as PoolConnection);
    waiting.demand.loggedIn({ name: 'released' } as unknown as PoolConnection);
    await vi.advanceTimersByTimeAsync(300);
    expect(mysql.opened).toHaveLength(1);
  });

  it('probes a refusing endpoint one attempt at a time with backoff, then serves everyone', async () => {
    const mysql = fakeMysql(['refused-tcp', 'refused-tcp', 'refused-tcp', 'refused-tcp']);
    const pool = logins(mysql);
    const waiting = callers(4);
    pool.serve(waiting.demand);
    pool.fill();
    await vi.advanceTimersByTimeAsync(5000);
    expect(waiting.served).toHaveLength(4);
    expect(waiting.failures).toEqual([]);
    // The first four failed together (the healthy path); after that one probe at a time, each at
    // least retry.minTimeoutMs after the one before, until one works; then the rest log in at once.
    const firstOk = mysql.opened.findIndex((o) => o.outcome === 'ok');
    const probes = mysql.opened.slice(3, firstOk + 1);
    expect(probes.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < probes.length; i++) {
      expect((probes[i]?.at ?? 0) - (probes[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(100);
    }
    expect(pool.probing).toBe(false);
  });

  it('retries a refused token with fresh ones, counting many refusals of one token once, then gives up for everyone', async () => {
    // The server refuses every token (token 1 twice): final once more than retry.retries (2) fresh
    // tokens were refused and the refusals have lasted retry.maxTimeoutMs (400 ms).
    const tokens = [1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const mysql = fakeMysql(tokens.map((refusedToken) => ({ refusedToken })));
    const pool = logins(mysql);
    const waiting = callers(2);
    pool.serve(waiting.demand);
    pool.fill();
    await vi.advanceTimersByTimeAsync(5000);
    expect(waiting.failures).toHaveLength(1);
    expect(waiting.failures[0]?.code).toBe('RDS_IAM_ACCESS_DENIED');
    const refused = mysql.opened.map((o) => (o.outcome as { refusedToken: number }).refusedToken);
    expect(refused.slice(0, 4)).toEqual([1, 1, 2, 3]);
    // A refusal arrives 5 ms after its login opened, so the gaps between openings are the gaps between refusals.
    const since = (i: number) => (mysql.opened.at(i)?.at ?? 0) - (mysql.opened[0]?.at ?? 0);
    expect(since(-1)).toBeGreaterThanOrEqual(400);
    // Not one login more than needed: past the third fresh token, the refusal before the last had not lasted 400 ms.
    if (refused.length > 4) expect(since(-2)).toBeLessThan(400);
  });

  it('outlasts refusals that stop within retry.maxTimeoutMs, however many tokens they refused', async () => {
    // Five fresh tokens refused within ~100 ms (a server throttling new IAM logins), then logins work.
    const mysql = fakeMysql([1, 2, 3, 4, 5].map((refusedToken) => ({ refusedToken })));
    const pool = logins(mysql, 0, undefined, {
      ...SETTINGS,
      retry: { retries: 2, minTimeoutMs: 1, maxTimeoutMs: 400 },
    });
    const waiting = callers(1);
    pool.serve(waiting.demand);
    pool.fill();
    await vi.advanceTimersByTimeAsync(2000);
    expect(waiting.failures).toEqual([]);
    expect(waiting.served).toHaveLength(1);
  });

  it('with retry.retries 0, the first refused token is final at once', async () => {
    const mysql = fakeMysql([{ refusedToken: 1 }]);
    const pool = logins(mysql, 0, undefined, {
      ...SETTINGS,
      retry: { retries: 0, minTimeoutMs: 100, maxTimeoutMs: 400 },
    });
    const waiting = callers(1);
    pool.serve(waiting.demand);
    pool.fill();
    await vi.advanceTimersByTimeAsync(1000);
    expect(waiting.failures.map((e) => e.code)).toEqual(['RDS_IAM_ACCESS_DENIED']);
    expect(mysql.opened).toHaveLength(1);
  });

  it('fails every waiting caller at once on an error no retry can fix', async () => {
    const mysql = fakeMysql(['tls-untrusted']);
    const pool = logins(mysql);
    const waiting = callers(3);
    pool.serve(waiting.demand);
    pool.fill();
    await vi.advanceTimersByTimeAsync(10);
    expect(waiting.failures.map((e) => e.code)).toContain('RDS_IAM_TLS_VERIFY_FAILED');
    expect(pool.probing).toBe(false);
  });

  it('tries another host at once when the route has one (a reader pool), without probing', async () => {
    const mysql = fakeMysql(['refused-tcp']);
    const hosts = ['reader-1', 'reader-2'];
    const route: ConnectionRoute = {
      ready: async () => {},
      next: () => hosts[0] as string,
      lastChosen: 'reader-1',
      failed: (host) => {
        hosts.splice(hosts.indexOf(host), 1);
        return hosts.length > 0 ? 'elsewhere' : 'everywhere';
      },
      succeeded: () => {},
      allowsWriter: () => false,
    };
    const pool = logins(mysql, 0, route);
    const waiting = callers(1);
    pool.serve(waiting.demand);
    pool.fill();
    await vi.advanceTimersByTimeAsync(20);
    expect(waiting.served).toHaveLength(1);
    expect(mysql.opened).toHaveLength(2);
    expect(pool.probing).toBe(false);
  });

  it('leaves no timer when closed while probing', async () => {
    const mysql = fakeMysql(['refused-tcp', 'refused-tcp', 'refused-tcp']);
    const pool = logins(mysql);
    pool.serve(callers(1).demand);
    pool.fill();
    await vi.advanceTimersByTimeAsync(20);
    expect(pool.probing).toBe(true);
    pool.close();
    await vi.advanceTimersByTimeAsync(10);
    expect(vi.getTimerCount()).toBe(0);
  });
});
