import type { Pool } from 'mysql2/promise';
import type { BenchContext } from '../lib/context.js';
import {
  countingCredentials,
  directMariaDbPool,
  NO_LOGIN_CAP,
  oursPool,
  staticTokenPool,
} from '../lib/pools.js';
import { atMost, type ResultRow } from '../lib/report.js';
import { timedRounds } from '../lib/rounds.js';
import { signPerConnectionPool } from '../lib/sign-per-connection.js';
import { pairedRatio, summarize } from '../lib/stats.js';
import { loginBurst } from '../lib/workload.js';

const TARGET = 1.05;
/** [connections per sample, opened at once]: a pool filling up, and logins one after another. */
const SHAPES = [
  { connections: 16, atOnce: 16, metric: '16 logins at once' },
  { connections: 8, atOnce: 1, metric: '8 logins one by one' },
] as const;

/**
 * New-connection cost: TCP + TLS + IAM login through the emulator (and its backend login), per
 * connection. Ours presents the cached token; the baselines present a fixed token, or sign one
 * per connection with @aws-sdk/rds-signer. Ours runs without its login cap (default 20 logins/s,
 * a deliberate spacing, not a cost); one extra row shows what the default cap does to a burst.
 * Then the cost of `verifyWriter` per new login (see writerCheckCost).
 */
export async function newConnectionCost(ctx: BenchContext): Promise<ResultRow[]> {
  const options = { emulator: ctx.emulator.address, database: ctx.backend.database, connectionLimit: 16 };
  const pools: Record<string, Pool> = {
    ours: oursPool(ctx.entry, options, countingCredentials(), NO_LOGIN_CAP),
    static: staticTokenPool(options, ctx.staticToken),
    signEach: signPerConnectionPool(options),
    direct: directMariaDbPool(ctx.backend, 16),
  };
  const labels: Record<string, string> = {
    ours: 'rds-iam-pool (cached token, no login cap)',
    signEach: 'mysql2 + rds-signer per connection',
    direct: 'direct MariaDB, no TLS/emulator',
  };
  const rows: ResultRow[] = [];
  try {
    for (const shape of SHAPES) {
      // Client CPU per login, over every round: the cost itself, steadier than the wall clock.
      const cpu = Object.fromEntries(Object.keys(pools).map((name) => [name, { micros: 0, logins: 0 }]));
      const tasks = Object.entries(pools).map(([name, pool]) => ({
        name,
        fn: async () => {
          const before = process.cpuUsage();
          await loginBurst(pool, shape.connections, shape.atOnce);
          const used = process.cpuUsage(before);
          const total = cpu[name];
          if (total) {
            total.micros += used.user + used.system;
            total.logins += shape.connections;
          }
        },
      }));
      const results = await timedRounds(tasks, {
        rounds: ctx.quick ? 2 : 8,
        timeMs: ctx.quick ? 150 : 400,
        warmupMs: 100,
      });
      const perLogin = (name: string) => (results[name] ?? []).map((r) => r.medianMs / shape.connections);
      const runs = (name: string) =>
        `${results[name]?.length ?? 0} rounds, ${(results[name] ?? []).reduce((n, r) => n + r.samples, 0) * shape.connections}+${(results.static ?? []).reduce((n, r) => n + r.samples, 0) * shape.connections} logins`;
      for (const name of ['ours', 'signEach', 'direct']) {
        const ratio = pairedRatio(perLogin(name), perLogin('static'));
        rows.push({
          section: 'New-connection cost (per login)',
          metric: shape.metric,
          subject: labels[name] ?? name,
          baseline: 'mysql2 static token',
          unit: 'ms',
          subjectValue: summarize(perLogin(name)),
          baselineValue: summarize(perLogin('static')),
          ratio,
          better: 'lower',
          runs: runs(name),
          ...(name === 'ours' ? { target: atMost(TARGET, ratio.median) } : {}),
          ...(name === 'direct' ? { reference: true } : {}),
        });
      }
      const cpuPerLogin = (name: string) => (cpu[name]?.micros ?? 0) / 1000 / (cpu[name]?.logins || 1);
      rows.push({
        section: 'New-connection cost (per login)',
        metric: `client CPU per login, ${shape.metric}`,
        subject: labels.ours ?? 'ours',
        baseline: 'mysql2 static token',
        unit: 'ms',
        subjectValue: summarize([cpuPerLogin('ours')]),
        baselineValue: summarize([cpuPerLogin('static')]),
        ratio: summarize([cpuPerLogin('ours') / cpuPerLogin('static')]),
        better: 'lower',
        runs: `${cpu.ours?.logins ?? 0}+${cpu.static?.logins ?? 0} logins incl. warm-up (process.cpuUsage)`,
      });
      ctx.log(
        `connect ${shape.metric}: ours/static ${pairedRatio(perLogin('ours'), perLogin('static')).median.toFixed(3)}`,
      );
      if (shape.atOnce > 1) rows.push(await defaultLoginCap(ctx, shape.connections, perLogin('static')));
    }
  } finally {
    await Promise.all(Object.values(pools).map((p) => p.end()));
  }
  rows.push(...(await writerCheckCost(ctx)));
  return rows;
}

/**
 * What `verifyWriter` (on by default for Aurora cluster endpoints) adds to a new login. It asks
 * `SELECT @@innodb_read_only` (here answered by MariaDB through the emulator's relay, as Aurora
 * answers it) before a caller gets any new connection: the bursts below compare logins with the
 * check and without it, and "the writer check alone" is the statement itself against one login.
 * Connections already open are never checked again, so a pool without new logins pays nothing
 * (test/integration/aurora-roles.test.ts counts the checks the server answers). The emulator's name
 * is not a cluster endpoint, so the check is forced on for one pool and off for the other. A sample
 * is one burst on each pool, back to back and in alternating order, so load from other processes
 * falls on both sides of a pair; the ratio is the median of the per-pair ratios. (The rounds of
 * tinybench above run each side for 400 ms at a time, too coarse to resolve 5 % on a shared machine.)
 */
export async function writerCheckCost(ctx: BenchContext): Promise<ResultRow[]> {
  const options = { emulator: ctx.emulator.address, database: ctx.backend.database, connectionLimit: 16 };
  const on = oursPool(ctx.entry, options, countingCredentials(), { ...NO_LOGIN_CAP, verifyWriter: true });
  const off = oursPool(ctx.entry, options, countingCredentials(), { ...NO_LOGIN_CAP, verifyWriter: false });
  const rows: ResultRow[] = [];
  try {
    for (const shape of SHAPES) {
      const pairs = ctx.quick ? 10 : 60;
      const perLogin = { on: [] as number[], off: [] as number[] };
      const cpuMicros = { on: 0, off: 0 };
      const burst = async (side: 'on' | 'off') => {
        const started = performance.now();
        const cpu = process.cpuUsage();
        await loginBurst(side === 'on' ? on : off, shape.connections, shape.atOnce);
        const used = process.cpuUsage(cpu);
        cpuMicros[side] += used.user + used.system;
        return (performance.now() - started) / shape.connections;
      };
      await burst('on');
      await burst('off');
      cpuMicros.on = 0;
      cpuMicros.off = 0;
      for (let pair = 0; pair < pairs; pair++) {
        const order: Array<'on' | 'off'> = pair % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
        for (const side of order) perLogin[side].push(await burst(side));
      }
      const ratio = pairedRatio(perLogin.on, perLogin.off);
      const logins = pairs * shape.connections;
      rows.push({
        section: 'New-connection cost (per login)',
        metric: shape.metric,
        subject: 'rds-iam-pool, verifyWriter on (every login checked)',
        baseline: 'rds-iam-pool, verifyWriter off',
        unit: 'ms',
        subjectValue: summarize(perLogin.on),
        baselineValue: summarize(perLogin.off),
        ratio,
        better: 'lower',
        runs: `${pairs} alternating pairs of bursts, ${logins}+${logins} logins`,
        reference: true,
      });
      const cpuOn = cpuMicros.on / 1000 / logins;
      const cpuOff = cpuMicros.off / 1000 / logins;
      rows.push({
        section: 'New-connection cost (per login)',
        metric: `client CPU per login, ${shape.metric}`,
        subject: 'rds-iam-pool, verifyWriter on (every login checked)',
        baseline: 'rds-iam-pool, verifyWriter off',
        unit: 'ms',
        subjectValue: summarize([cpuOn]),
        baselineValue: summarize([cpuOff]),
        ratio: summarize([cpuOn / cpuOff]),
        better: 'lower',
        runs: `${logins}+${logins} logins (process.cpuUsage)`,
      });
      ctx.log(
        `connect ${shape.metric}: verifyWriter on/off ${ratio.median.toFixed(3)} ` +
          `(${ratio.p25.toFixed(3)}-${ratio.p75.toFixed(3)} interquartile), client CPU ${(cpuOn / cpuOff).toFixed(3)}`,
      );
    }
    // The check alone: the one statement it adds, on a connection that is already open, against one
    // login without it. Steadier than the difference of two noisy login times.
    const checkMs: number[] = [];
    const loginMs: number[] = [];
    for (let i = 0; i < (ctx.quick ? 20 : 100); i++) {
      const started = performance.now();
      const connection = await off.getConnection();
      loginMs.push(performance.now() - started);
      const queried = performance.now();
      await connection.query('SELECT @@innodb_read_only AS read_only');
      checkMs.push(performance.now() - queried);
      connection.destroy();
    }
    const check = summarize(checkMs);
    const login = summarize(loginMs);
    rows.push({
      section: 'New-connection cost (per login)',
      metric: 'the writer check alone (on every new connection of a writer pool)',
      subject: 'SELECT @@innodb_read_only on the new connection',
      baseline: 'one login, verifyWriter off',
      unit: 'ms',
      subjectValue: check,
      baselineValue: login,
      ratio: summarize([check.median / login.median]),
      better: 'lower',
      runs: `${checkMs.length} logins, each followed by the check (ratio of medians; 1 + it is the implied cost per login)`,
      reference: true,
    });
    ctx.log(
      `connect: writer check ${check.median.toFixed(2)} ms vs login ${login.median.toFixed(2)} ms ` +
        `(implied ${(1 + check.median / login.median).toFixed(3)}x per login)`,
    );
  } finally {
    await Promise.all([on.end(), off.end()]);
  }
  return rows;
}

/** The same burst with every default, login cap included: logins spaced 1/20 s apart by design. */
async function defaultLoginCap(
  ctx: BenchContext,
  connections: number,
  staticMs: number[],
): Promise<ResultRow> {
  const options = { emulator: ctx.emulator.address, database: ctx.backend.database, connectionLimit: 16 };
  const pool = oursPool(ctx.entry, options);
  const perLogin: number[] = [];
  try {
    for (let run = 0; run < (ctx.quick ? 1 : 3); run++) {
      const start = performance.now();
      await loginBurst(pool, connections, connections);
      perLogin.push((performance.now() - start) / connections);
    }
  } finally {
    await pool.end();
  }
  const value = summarize(perLogin);
  const baselineValue = summarize(staticMs);
  return {
    section: 'New-connection cost (per login)',
    metric: `${connections} logins at once`,
    subject: 'rds-iam-pool, default login cap (20/s)',
    baseline: 'mysql2 static token',
    unit: 'ms',
    subjectValue: value,
    baselineValue,
    ratio: summarize([value.median / baselineValue.median]),
    better: 'lower',
    runs: `${perLogin.length} bursts (ratio of medians)`,
    reference: true,
  };
}
