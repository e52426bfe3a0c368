/**
 * Shared by the adapters-*.test.ts files: IAM options pointing at a fixture's emulator, and the
 * 15-minute proof every adapter must pass.
 */
import { expect } from 'vitest';
import type { EmulatorFixture } from '../helpers/emulator-harness.js';
import { type movableClock, settle } from '../helpers/pool-fixture.js';

export const MIN = 60_000;

export { iamOptionsFor } from '../helpers/pool-fixture.js';

export interface RefreshProof {
  fx: EmulatorFixture;
  clock: ReturnType<typeof movableClock>;
  /** Tokens signed so far, as the adapter's IAM handle reports them. */
  tokensSigned(): number;
  /**
   * Runs `count` queries at once through the ORM, each holding its connection long enough (a
   * `SLEEP`) that the ORM needs all its connections: a released one would otherwise serve the
   * next caller before every login had its turn under the login cap.
   */
  runConcurrently(count: number): Promise<unknown>;
  /** How many connections the ORM opens for `runConcurrently` (its pool size). */
  connections: number;
}

/**
 * Fills the ORM's pool, moves both clocks 16 minutes (every token expired), drops every
 * connection, and fills the pool again: the new logins must all succeed on one new token.
 */
export async function expectOneSigningAfter15Minutes(p: RefreshProof): Promise<void> {
  await p.runConcurrently(p.connections * 2);
  const signedBefore = p.tokensSigned();
  const before = p.fx.emulator.stats();
  try {
    p.clock.advance(16 * MIN, p.fx);
    p.fx.emulator.faults.dropAllConnections();
    await settle();
    await p.runConcurrently(p.connections * 2);
  } finally {
    // The emulator's clock goes back; the ORM's clock is the test's own and is dropped with it.
    p.fx.emulator.faults.reset();
  }

  const after = p.fx.emulator.stats();
  expect(p.tokensSigned() - signedBefore).toBe(1);
  expect(after.distinctTokens - before.distinctTokens).toBe(1);
  expect(after.loginsAccepted - before.loginsAccepted).toBe(p.connections);
  // The expired token was never presented: the refresh happened before the logins, not after a refusal.
  expect(after.loginsRejected).toEqual(before.loginsRejected);
}
