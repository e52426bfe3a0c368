import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { EmulatorOptions, EmulatorStats } from '../../src/emulator/index.js';
import type { IamPoolOptions } from '../../src/index.js';
import { CHAOS_KEY, type jumpableClock, type Stack } from './environment.js';
import type { Workload } from './workload.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What a scenario needs before its stack starts (keys the emulator trusts, the pool's options). */
export interface ScenarioSetup {
  keys?: EmulatorOptions['keys'];
  credentials?: AwsCredentialIdentityProvider;
  pool?: Partial<IamPoolOptions>;
}

export interface ScenarioContext {
  stack: Stack;
  /** The clock the pool and the emulator both read. */
  clock: ReturnType<typeof jumpableClock>;
  workload: Workload;
}

/** When the fault was on, on performance.now()'s clock; `end` is when it was lifted (or struck, if instantaneous). */
export interface FaultWindow {
  start: number;
  end: number;
  /** Emulator stats at the start and end of the window, for checks. */
  emulatorAtStart?: EmulatorStats;
  emulatorAtEnd?: EmulatorStats;
}

export interface Scenario {
  name: string;
  /** One line for the docs: what is done to the system. */
  fault: string;
  /** What must hold besides 0 hangs, 0 lost, 0 duplicated, 0 torn, 0 untyped. */
  expectation: string;
  setup?(): ScenarioSetup;
  inject(ctx: ScenarioContext): Promise<FaultWindow>;
  /** Scenario-specific problems; empty when it behaved as promised. */
  check?(ctx: ScenarioContext, window: FaultWindow): string[];
}

const now = () => performance.now();

function loginAttempts(stats: EmulatorStats | undefined): number {
  if (!stats) return 0;
  return stats.loginsAccepted + Object.values(stats.loginsRejected).reduce((a, b) => a + b, 0);
}

/** Waits until `done()` or `limitMs`, polling every `pollMs`; true when `done()` came first. */
export async function until(done: () => boolean, limitMs: number, pollMs = 50): Promise<boolean> {
  const deadline = now() + limitMs;
  while (!done()) {
    if (now() >= deadline) return false;
    await sleep(pollMs);
  }
  return true;
}

/** A provider that hands out the session key expiring soonest among those with > 12 s left. */
function rotatingKeys() {
  const t0 = Date.now();
  const keys = Array.from({ length: 10 }, (_, i) => ({
    accessKeyId: `ASIACHAOSROTATING0${i}`,
    secretAccessKey: `chaos-rotating-secret-${i}-not-real`,
    sessionToken: `chaos-rotating-session-${i}-not-real`,
    expiration: new Date(t0 + 14 * SECOND + 5 * SECOND * i),
  }));
  const credentials: AwsCredentialIdentityProvider = async () => {
    const key = keys.find((k) => k.expiration.getTime() > Date.now() + 12 * SECOND);
    if (!key) throw new Error('the chaos run outlived its rotating keys');
    return { ...key };
  };
  return { keys, credentials };
}

/** A provider that throws while `failing()` is true, like an IMDS or STS outage. */
function flakyProvider() {
  let failUntil = 0;
  const provider: AwsCredentialIdentityProvider = async () => {
    if (performance.now() < failUntil) throw new Error('credential endpoint unavailable (chaos)');
    return { ...CHAOS_KEY };
  };
  return { provider, failFor: (ms: number) => (failUntil = performance.now() + ms) };
}

const flaky = flakyProvider();

export const SCENARIOS: Scenario[] = [
  {
    name: 'baseline',
    fault: 'none (the control run)',
    expectation: 'no failures',
    async inject() {
      const start = now();
      await sleep(4 * SECOND);
      return { start, end: start };
    },
    check: (ctx) => {
      const failed = ctx.workload.counts.requests - ctx.workload.counts.ok;
      return failed === 0 ? [] : [`${failed} request(s) failed without any fault`];
    },
  },
  {
    name: 'token-rejected-5x',
    fault: 'the next 5 valid logins get 1045 (`rejectNextLogins(5)`), all connections dropped',
    expectation: 'each refusal retried with a freshly signed token',
    async inject({ stack }) {
      const start = now();
      const before = stack.emulator.stats().loginsRejected['fault-injected'] ?? 0;
      stack.emulator.faults.rejectNextLogins(5);
      stack.emulator.faults.dropAllConnections();
      await until(
        () => (stack.emulator.stats().loginsRejected['fault-injected'] ?? 0) - before >= 5,
        8 * SECOND,
      );
      return { start, end: now() };
    },
    check: ({ stack }) => {
      const used = stack.emulator.stats().loginsRejected['fault-injected'] ?? 0;
      return used === 5 ? [] : [`${used} of 5 injected refusals were met`];
    },
  },
  {
    name: 'login-rate-capped',
    fault: 'server admits 2 logins/s for 6 s (`capLoginsPerSecond(2)`), connections dropped every 1.5 s',
    expectation: 'refused logins retried; the pool gets its connections back',
    async inject({ stack }) {
      const start = now();
      stack.emulator.faults.capLoginsPerSecond(2);
      for (let i = 0; i < 4; i++) {
        stack.emulator.faults.dropAllConnections();
        await sleep(1.5 * SECOND);
      }
      stack.emulator.faults.capLoginsPerSecond(null);
      return { start, end: now() };
    },
  },
  {
    name: 'connections-dropped',
    fault: 'every connection cut 3 times, 1 s apart (`dropAllConnections()`)',
    expectation: 'dead connections replaced; in-flight requests fail typed',
    async inject({ stack }) {
      const start = now();
      for (let i = 0; i < 3; i++) {
        if (i > 0) await sleep(SECOND);
        stack.emulator.faults.dropAllConnections();
      }
      return { start, end: now() };
    },
  },
  {
    name: 'backend-restarted',
    fault:
      'the database goes away for 3 s: a proxy between emulator and MariaDB cuts every session and refuses',
    expectation:
      'callers wait while it is down (a deadline that passes first: a typed timeout), recovery once it is back',
    async inject({ stack }) {
      const start = now();
      await stack.backend.refuse();
      await sleep(3 * SECOND);
      await stack.backend.accept();
      return { start, end: now() };
    },
  },
  {
    name: 'clock-jump-16min',
    fault: 'the host is suspended for 16 min: pool and emulator clocks jump 16 min, connections dropped',
    expectation: 'cached token past its expiry is never sent; one new signing',
    async inject({ stack, clock }) {
      const start = now();
      clock.jump(16 * MINUTE);
      stack.emulator.faults.dropAllConnections();
      return { start, end: start };
    },
    check: ({ stack }) => {
      const problems: string[] = [];
      const signed = stack.pool.iam.stats().tokensSigned;
      if (signed < 2) problems.push(`${signed} signing(s): the token was not renewed after the jump`);
      const expired = stack.emulator.stats().loginsRejected.expired ?? 0;
      if (expired > 0) problems.push(`${expired} login(s) sent an expired token`);
      return problems;
    },
  },
  {
    name: 'server-clock-16min-ahead',
    fault: "only the emulator's clock runs 16 min ahead for 4 s (`shiftClock`), connections dropped",
    expectation: 'logins fail typed (token expired for the server), recover when clocks agree',
    async inject({ stack }) {
      const start = now();
      stack.emulator.faults.shiftClock(16 * MINUTE);
      stack.emulator.faults.dropAllConnections();
      await sleep(4 * SECOND);
      stack.emulator.faults.shiftClock(-16 * MINUTE);
      return { start, end: now() };
    },
  },
  {
    name: 'credentials-expire-early',
    fault:
      'session credentials that expire 14-19 s after they are handed out, rotated; connections dropped every 2 s for 12 s',
    expectation: 'tokens capped at the credentials’ expiry and re-signed; no expired credential sent',
    setup: () => {
      const { keys, credentials } = rotatingKeys();
      return { keys, credentials };
    },
    async inject({ stack }) {
      const start = now();
      for (let i = 0; i < 6; i++) {
        stack.emulator.faults.dropAllConnections();
        await sleep(2 * SECOND);
      }
      return { start, end: start };
    },
    check: ({ stack }) => {
      const problems: string[] = [];
      const signed = stack.pool.iam.stats().tokensSigned;
      if (signed < 2) problems.push(`${signed} signing(s): credentials were not re-fetched`);
      const expired = stack.emulator.stats().loginsRejected['credentials-expired'] ?? 0;
      if (expired > 0) problems.push(`${expired} login(s) used expired credentials`);
      return problems;
    },
  },
  {
    name: 'provider-throws-5s',
    fault: 'the credential provider throws for 5 s; cached token invalidated, connections dropped',
    expectation:
      'callers wait while it throws (the IamCredentialsError is the cause of a timeout that passes first), recovery after',
    setup: () => ({ credentials: flaky.provider }),
    async inject({ stack }) {
      const start = now();
      flaky.failFor(5 * SECOND);
      stack.pool.iam.invalidateToken();
      stack.emulator.faults.dropAllConnections();
      await sleep(5 * SECOND);
      return { start, end: now() };
    },
  },
  {
    name: 'slow-handshake',
    fault: 'greeting delayed 2.5 s (> connectTimeout 1 s) for 5 s (`delayHandshake`), connections dropped',
    expectation: 'connect timeouts retried while callers wait, no request hangs',
    setup: () => ({ pool: { connectTimeout: SECOND } }),
    async inject({ stack }) {
      const start = now();
      stack.emulator.faults.delayHandshake(2.5 * SECOND);
      stack.emulator.faults.dropAllConnections();
      await sleep(5 * SECOND);
      stack.emulator.faults.delayHandshake(0);
      return { start, end: now() };
    },
  },
  {
    name: 'tcp-refused',
    fault: 'the endpoint refuses TCP for 4 s (a proxy in front of the emulator closes its port)',
    expectation: 'ECONNREFUSED probed one attempt at a time while callers wait; recovery when the port opens',
    async inject({ stack }) {
      const start = now();
      await stack.front.refuse();
      await sleep(4 * SECOND);
      await stack.front.accept();
      return { start, end: now() };
    },
  },
  {
    name: 'tls-untrusted-cert',
    fault: 'the server certificate swapped for one from an unknown CA for 4 s, connections dropped',
    expectation: 'new logins fail closed (TLS verification) and no token reaches the server',
    async inject({ stack }) {
      const start = now();
      stack.emulator.faults.useUntrustedCertificate(true);
      stack.emulator.faults.dropAllConnections();
      // Logins already past their TLS handshake at the swap may still finish; then the window opens.
      await sleep(300);
      const emulatorAtStart = stack.emulator.stats();
      await sleep(4 * SECOND);
      const emulatorAtEnd = stack.emulator.stats();
      stack.emulator.faults.useUntrustedCertificate(false);
      return { start, end: now(), emulatorAtStart, emulatorAtEnd };
    },
    check: ({ workload }, window) => {
      const problems: string[] = [];
      const attempts = loginAttempts(window.emulatorAtEnd) - loginAttempts(window.emulatorAtStart);
      if (attempts !== 0)
        problems.push(`${attempts} login(s) reached the server with the untrusted certificate`);
      const tokens =
        (window.emulatorAtEnd?.distinctTokens ?? 0) - (window.emulatorAtStart?.distinctTokens ?? 0);
      if (tokens !== 0) problems.push(`${tokens} token(s) reached the server with the untrusted certificate`);
      const codes = workload.failuresBetween(window.start + 300, window.end);
      if (!codes.RDS_IAM_TLS_VERIFY_FAILED)
        problems.push('no RDS_IAM_TLS_VERIFY_FAILED while the certificate was untrusted');
      return problems;
    },
  },
];
