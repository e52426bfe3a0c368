import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { createIamPool, type IamPool, type IamPoolOptions } from '../../src/index.js';
import { type EmulatorFixture, TEST_KEY } from './emulator-harness.js';

/** A credential provider that counts its calls. */
export function countingCredentials(
  make: (call: number) => AwsCredentialIdentity = () => ({ ...TEST_KEY }),
): AwsCredentialIdentityProvider & { calls: number } {
  const provider = Object.assign(
    async () => {
      provider.calls++;
      return make(provider.calls);
    },
    { calls: 0 },
  );
  return provider;
}

/** A clock the test moves, for the pool and the emulator alike. */
export function movableClock() {
  let offsetMs = 0;
  return {
    now: () => Date.now() + offsetMs,
    advance(ms: number, fx?: EmulatorFixture) {
      offsetMs += ms;
      fx?.emulator.faults.shiftClock(ms);
    },
  };
}

/** IAM options for the fixture's emulator, reached the way a user reaches a tunnel. */
export function iamOptionsFor(fx: EmulatorFixture, extra: Partial<IamPoolOptions> = {}) {
  return {
    host: fx.emulator.host,
    port: fx.emulator.endpointPort,
    user: Object.keys(fx.backendUsers)[0] ?? 'iam_app',
    database: fx.database,
    connectHost: '127.0.0.1',
    connectPort: fx.emulator.port,
    ssl: { ca: fx.emulator.ca },
    credentials: countingCredentials(),
    ...extra,
  } satisfies IamPoolOptions;
}

/** createIamPool pointed at the fixture's emulator, with short retry delays for tests. */
export function poolFor(fx: EmulatorFixture, options: Partial<IamPoolOptions> = {}): IamPool {
  return createIamPool(
    iamOptionsFor(fx, { retry: { retries: 3, minTimeoutMs: 10, maxTimeoutMs: 50 }, ...options }),
  );
}

/** Waits until the pool has seen the server close its connections. */
export function settle(ms = 150): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `condition()` holds; fails the test (instead of hanging) after `timeoutMs`. */
export async function eventually(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`still waiting for: ${what}`);
    await settle(20);
  }
}

/**
 * Waits until none of the pool's logins is in flight. A burst's logins go on after its callers were
 * served (the first connections serve the queue while the login cap spaces the rest), so counts of
 * connections opened settle only then.
 */
export function loginsSettled(pool: IamPool): Promise<void> {
  return eventually(() => pool.iam.stats().connections.opening === 0, "the pool's logins to finish");
}
