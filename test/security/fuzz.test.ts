import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRY_POINTS } from '../../bench/chaos/entry-points.js';
import {
  DECODERS,
  type FuzzResult,
  fuzzEffectiveConfig,
  fuzzEmulatorSocket,
  fuzzPacketParser,
  fuzzResolveOptions,
  fuzzTokenVerifier,
} from '../../bench/chaos/fuzz-properties.js';
import { IamOptionsError } from '../../src/errors.js';
import { resolveOptions } from '../../src/options.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';

/** The short budget for npm test; `npm run chaos` runs the same properties 10 000 times each. */
const RUNS = { parser: 1000, verifier: 1000, options: 2000, socket: 96, effective: 700 } as const;

function passed(result: FuzzResult): void {
  expect(result.failure).toBeUndefined();
}

describe('fuzzing the parts that read untrusted input', () => {
  let fx: EmulatorFixture;
  const HANDSHAKE_TIMEOUT_MS = 400;
  beforeAll(async () => {
    fx = await createEmulatorFixture({
      name: 'sec_fuzz',
      emulator: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS },
    });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it(`frames and decodes ${RUNS.parser} generated login-phase byte streams without crashing or hanging`, async () => {
    const result = await fuzzPacketParser(RUNS.parser);
    passed(result);
    // Both ways a stream ends were reached, and the decoders saw valid and broken packets alike.
    expect(result.outcomes['channel: ProtocolError']).toBeGreaterThan(0);
    expect(result.outcomes['channel: closed']).toBeGreaterThan(0);
    expect(result.outcomes['handshake-response: decoded']).toBeGreaterThan(0);
    expect(result.outcomes['handshake-response: ProtocolError']).toBeGreaterThan(0);
  });

  it(`answers ${RUNS.verifier} mangled and random tokens with a known rejection reason`, async () => {
    const result = await fuzzTokenVerifier(RUNS.verifier);
    passed(result);
    expect(result.outcomes['malformed-token']).toBeGreaterThan(0);
    expect(Object.keys(result.outcomes).length).toBeGreaterThan(4);
  });

  it(`resolves or refuses with IamOptionsError ${RUNS.options} generated option objects`, async () => {
    const result = await fuzzResolveOptions(RUNS.options);
    passed(result);
    expect(result.outcomes.resolved).toBeGreaterThan(0);
    expect(Object.keys(result.outcomes).length).toBeGreaterThan(10);
  });

  it(`never builds a mysql2 config with debug, a foreign socket, a password, a falsy CA or TLS < 1.2 (${RUNS.effective} option sets through every entry point)`, async () => {
    const result = await fuzzEffectiveConfig(RUNS.effective, ENTRY_POINTS);
    passed(result);
    // Every entry point both refused some option sets and built a config from others.
    for (const entry of ENTRY_POINTS) {
      expect(result.outcomes[`${entry.name}: built`], entry.name).toBeGreaterThan(0);
      expect(result.outcomes[`${entry.name}: IamOptionsError`], entry.name).toBeGreaterThan(0);
    }
  });

  it(`closes ${RUNS.socket} hostile connections to a live emulator by itself, answering 1043/1045/1251 at most`, async () => {
    const result = await fuzzEmulatorSocket(fx.emulator.port, {
      runs: RUNS.socket,
      handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
      concurrency: 8,
    });
    passed(result);
    await expect.poll(() => fx.emulator.stats().liveSessions).toBe(0);
    const conn = await fx.connect(); // and it still serves a real login
    await conn.end();
  });

  it('refuses a region without a prototype with IamOptionsError (a TypeError the fuzzer found)', () => {
    const attempt = () =>
      resolveOptions({
        host: 'mydb.abc123.us-east-1.rds.amazonaws.com',
        user: 'u',
        region: Object.create(null),
      });
    expect(attempt).toThrow(IamOptionsError);
  });

  it('fails when a planted bug is there to find (the properties can fail)', async () => {
    const crashingDecoder: (typeof DECODERS)[number] = [
      'planted',
      (p) => p.readUInt32LE(Math.max(0, p.length - 2)),
    ];
    const parser = await fuzzPacketParser(200, 1, [...DECODERS, crashingDecoder]);
    expect(parser.failure).toMatch(/planted threw RangeError/);

    // The bug fixed above, put back: String() of an object without a prototype.
    const options = await fuzzResolveOptions(2000, 4, (o) => {
      const region = (o as { region?: unknown } | null)?.region;
      if (typeof region === 'object' && region !== null) String(region);
      return resolveOptions(o as Parameters<typeof resolveOptions>[0]);
    });
    expect(options.failure).toMatch(/threw TypeError/);
  });
});
