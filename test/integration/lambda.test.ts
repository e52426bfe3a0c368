import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freezeProcess } from '../../examples/lambda/freeze.js';
import type * as HandlerModule from '../../examples/lambda/handler.js';
import {
  createEmulatorFixture,
  type EmulatorFixture,
  lambdaHandlerEnv,
  TEST_KEY,
} from '../helpers/emulator-harness.js';

/**
 * Runs examples/lambda/handler.ts the way the Lambda runtime does: imported once (cold start,
 * module-scope pool), then invoked again and again in the same process, frozen between
 * invocations. A freeze is simulated by blocking the thread (nothing runs, so the pool cannot see
 * sockets close) while the emulator drops every connection, then invoking at once on thaw.
 */
describe('Lambda handler with a module-scope pool', () => {
  let fx: EmulatorFixture;
  let lambda: typeof HandlerModule;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    // Own database per file, and per run: another engineer's run of this same file must not drop it.
    fx = await createEmulatorFixture({ name: `lambda_${process.pid}` });
    Object.assign(process.env, {
      ...lambdaHandlerEnv(fx),
      // What Lambda sets for the execution role; here the emulator's test key.
      AWS_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    lambda = await import('../../examples/lambda/handler.js');
  });

  afterAll(async () => {
    await lambda?.pool.end();
    process.env = savedEnv;
    await fx?.teardown();
  });

  const invoke = async (orderId: number) => {
    const response = await lambda.handler({ orderId });
    expect(response.statusCode).toBe(200);
    const body = JSON.parse(response.body) as { connectionId: number; orderId: number };
    expect(body.orderId).toBe(orderId);
    return body.connectionId;
  };

  it('serves warm invocations on one connection, with one login and one signing', async () => {
    const ids = [];
    for (let i = 1; i <= 5; i++) ids.push(await invoke(i));
    expect(new Set(ids).size).toBe(1);
    expect(lambda.pool.iam.stats()).toMatchObject({ connectionsOpened: 1, tokensSigned: 1, deadOnBorrow: 0 });
  });

  it('answers the first invocation after a freeze that lost the connection, without an error', async () => {
    let previous = await invoke(100);
    for (let round = 1; round <= 3; round++) {
      const opened = lambda.pool.iam.stats().connectionsOpened;
      fx.emulator.faults.dropAllConnections(); // while the handler is not running
      freezeProcess(700); // longer than validateAfterIdleMs (500)
      const id = await invoke(100 + round); // thawed by the next invocation
      expect(id).not.toBe(previous);
      expect(lambda.pool.iam.stats()).toMatchObject({ deadOnBorrow: round, connectionsOpened: opened + 1 });
      previous = id;
      expect(await invoke(200 + round)).toBe(id); // and the next warm invocation reuses it
    }
    expect(lambda.pool.iam.stats()).toMatchObject({ tokensSigned: 1, authRetries: 0, connectFailures: 0 });
    expect(fx.emulator.stats().liveSessions).toBe(1);
  });
});
