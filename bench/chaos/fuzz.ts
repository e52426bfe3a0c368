import { startEmulator } from '../../src/emulator/index.js';
import { ENTRY_POINTS } from './entry-points.js';
import { type BackendLogin, CHAOS_KEY, IAM_USER, MARIADB } from './environment.js';
import {
  type FuzzResult,
  fuzzEffectiveConfig,
  fuzzEmulatorSocket,
  fuzzPacketParser,
  fuzzResolveOptions,
  fuzzTokenVerifier,
} from './fuzz-properties.js';

/**
 * The long fuzz budget: the same properties `npm test` runs briefly (test/security/fuzz.test.ts),
 * `runs` inputs each (the live socket gets a fifth: it costs a connection per input).
 */
export async function runLongFuzz(
  login: BackendLogin,
  runs: number,
  seed: number,
  log: (line: string) => void,
): Promise<FuzzResult[]> {
  const results: FuzzResult[] = [];
  const report = (result: FuzzResult) => {
    results.push(result);
    log(
      `fuzz ${result.name}: ${result.runs} inputs in ${(result.durationMs / 1000).toFixed(1)} s, ` +
        (result.failure ? `FAILED\n${result.failure}` : 'no crash, no hang, no unhandled rejection'),
    );
  };
  report(await fuzzPacketParser(runs, seed));
  report(await fuzzTokenVerifier(runs, seed + 1));
  report(await fuzzResolveOptions(runs, seed + 2));
  report(await fuzzEffectiveConfig(Math.ceil(runs / 5), ENTRY_POINTS, seed + 4));

  const handshakeTimeoutMs = 400;
  const emulator = await startEmulator({
    backend: { host: MARIADB.host, port: MARIADB.port, user: MARIADB.user, password: MARIADB.password },
    users: { [IAM_USER]: { backendUser: login.user, backendPassword: login.password } },
    keys: [CHAOS_KEY],
    handshakeTimeoutMs,
  });
  try {
    report(
      await fuzzEmulatorSocket(emulator.port, {
        runs: Math.ceil(runs / 5),
        seed: seed + 3,
        handshakeTimeoutMs,
        concurrency: 25,
      }),
    );
    const stats = emulator.stats();
    if (stats.liveSessions !== 0 || stats.loginsAccepted !== 0) {
      const failure = `after the socket fuzz: ${stats.liveSessions} live session(s), ${stats.loginsAccepted} login(s) accepted`;
      results.push({ name: 'emulator socket (afterwards)', runs: 0, failure, durationMs: 0, outcomes: {} });
      log(`fuzz: FAILED ${failure}`);
    }
  } finally {
    await emulator.stop();
  }
  return results;
}
