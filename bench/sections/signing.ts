import { Signer } from '@aws-sdk/rds-signer';
import { signAuthToken } from '../../src/token/sign.js';
import type { BenchContext } from '../lib/context.js';
import { BENCH_KEY, COUNTS_IAM_USER, IAM_USER } from '../lib/env.js';
import { countingCredentials, NO_LOGIN_CAP, oursPool } from '../lib/pools.js';
import type { ResultRow } from '../lib/report.js';
import { timedRounds } from '../lib/rounds.js';
import { signPerConnectionPool } from '../lib/sign-per-connection.js';
import { pairedRatio, summarize } from '../lib/stats.js';
import { loginBurst } from '../lib/workload.js';

const SECTION = 'Signing';
const exact = (value: number) => summarize([value]);

/**
 * How many signings and credential-provider calls 1 000 new connections cost within one refresh
 * window (ours: one of each; hand-wired: one per connection), and what one signing costs.
 */
export async function signingCounts(ctx: BenchContext): Promise<ResultRow[]> {
  const logins = ctx.quick ? 200 : 1000;
  const options = { emulator: ctx.emulator.address, database: ctx.backend.database, connectionLimit: 50 };

  const oursCredentials = countingCredentials();
  const emulatorBefore = await ctx.emulator.stats();
  // No login cap: at the default 20/s, 1 000 logins take 50 s by design. A user of its own, so
  // the emulator's count of distinct tokens is ours alone.
  const ours = oursPool(ctx.entry, options, oursCredentials, { ...NO_LOGIN_CAP, user: COUNTS_IAM_USER });
  const oursStart = performance.now();
  try {
    await loginBurst(ours, logins, 50);
  } finally {
    await ours.end();
  }
  const oursMs = performance.now() - oursStart;
  const oursStats = ours.iam.stats();
  const emulatorAfter = await ctx.emulator.stats();

  const handCredentials = countingCredentials();
  const handSignings = { count: 0 };
  const hand = signPerConnectionPool(options, handCredentials, handSignings);
  const handStart = performance.now();
  try {
    await loginBurst(hand, logins, 50);
  } finally {
    await hand.end();
  }
  const handMs = performance.now() - handStart;

  if (oursStats.connectionsOpened !== logins) {
    throw new Error(`expected ${logins} logins, the pool counted ${oursStats.connectionsOpened}`);
  }
  ctx.log(`signing counts: ours ${oursStats.tokensSigned} signed / hand-wired ${handSignings.count}`);
  const metric = `${logins.toLocaleString('en-US')} new connections`;
  const runs = `1 run of ${logins} logins each, within one refresh window`;
  const detail = {
    oursLogins: oursStats.connectionsOpened,
    oursCacheHits: oursStats.cacheHits,
    oursElapsedMs: Math.round(oursMs),
    handWiredElapsedMs: Math.round(handMs),
    emulatorLoginsAccepted: emulatorAfter.loginsAccepted - emulatorBefore.loginsAccepted,
    emulatorDistinctTokens: emulatorAfter.distinctTokens - emulatorBefore.distinctTokens,
  };
  const rows: ResultRow[] = [
    {
      section: SECTION,
      metric: `tokens signed for ${metric}`,
      subject: 'rds-iam-pool',
      baseline: 'mysql2 + rds-signer per connection',
      unit: 'count',
      subjectValue: exact(oursStats.tokensSigned),
      baselineValue: exact(handSignings.count),
      ratio: exact(oursStats.tokensSigned / handSignings.count),
      better: 'lower',
      runs,
      target: { text: '1 signing', value: 1 / handSignings.count, met: oursStats.tokensSigned === 1 },
      detail,
    },
    {
      section: SECTION,
      metric: `credential calls for ${metric}`,
      subject: 'rds-iam-pool',
      baseline: 'mysql2 + rds-signer per connection',
      unit: 'count',
      subjectValue: exact(oursCredentials.calls),
      baselineValue: exact(handCredentials.calls),
      ratio: exact(oursCredentials.calls / handCredentials.calls),
      better: 'lower',
      runs,
      target: { text: '1 call', value: 1 / handCredentials.calls, met: oursCredentials.calls === 1 },
    },
  ];
  return [...rows, ...(await signingCost(ctx))];
}

/** The cost of one signing (ours and rds-signer's) and of the cache hit every other login pays. */
async function signingCost(ctx: BenchContext): Promise<ResultRow[]> {
  const { host, endpointPort, region } = ctx.emulator.address;
  const CALLS = 50;
  const request = { hostname: host, port: endpointPort, username: IAM_USER, region };
  const signer = new Signer({ ...request, credentials: { ...BENCH_KEY } });
  const cache = new ctx.entry.TokenCache();
  const cached = { ...request, credentials: async () => ({ ...BENCH_KEY }) };
  await cache.getToken(cached);
  const repeat = (call: () => Promise<unknown>) => async () => {
    for (let i = 0; i < CALLS; i++) await call();
  };
  const results = await timedRounds(
    [
      {
        name: 'ours',
        fn: repeat(() => signAuthToken({ ...request, credentials: BENCH_KEY })),
      },
      { name: 'rds-signer', fn: repeat(() => signer.getAuthToken()) },
      { name: 'cache-hit', fn: repeat(() => cache.getToken(cached)) },
    ],
    { rounds: ctx.quick ? 2 : 5, timeMs: ctx.quick ? 100 : 300, warmupMs: 100 },
  );
  const micros = (name: string) => (results[name] ?? []).map((r) => (r.medianMs * 1000) / CALLS);
  const runs = (name: string) =>
    `${results[name]?.length ?? 0} rounds, ${(results[name] ?? []).reduce((n, r) => n + r.samples, 0) * CALLS} calls`;
  return [
    {
      section: SECTION,
      metric: 'one signing',
      subject: 'signAuthToken (ours)',
      baseline: 'rds-signer getAuthToken',
      unit: 'µs',
      subjectValue: summarize(micros('ours')),
      baselineValue: summarize(micros('rds-signer')),
      ratio: pairedRatio(micros('ours'), micros('rds-signer')),
      better: 'lower',
      runs: runs('ours'),
    },
    {
      section: SECTION,
      metric: 'token for one login',
      subject: 'TokenCache hit (ours)',
      baseline: 'rds-signer getAuthToken',
      unit: 'µs',
      subjectValue: summarize(micros('cache-hit')),
      baselineValue: summarize(micros('rds-signer')),
      ratio: pairedRatio(micros('cache-hit'), micros('rds-signer')),
      better: 'lower',
      runs: runs('cache-hit'),
    },
  ];
}
