import net from 'node:net';
import type { BackendLogin } from '../lib/database.js';
import type { EmulatorAddress } from '../lib/emulator-process.js';

/** How a child ends when it tried to reach anything but loopback (see offline-guard.ts). */
export const OFFLINE_GUARD_EXIT_CODE = 97;

/** What the parent tells a child process, through the BENCH_CHILD_CONFIG environment variable. */
export interface ChildConfig {
  /** Absolute path of the built package entry (ESM). */
  packageEntry: string;
  emulator: EmulatorAddress;
  iamUser: string;
  database: string;
  /** A token the emulator accepts, for the static-password variants. */
  staticToken: string;
  /** The backend login, for the direct-to-MariaDB reference. */
  backend: BackendLogin;
}

export function readChildConfig(): ChildConfig {
  const raw = process.env.BENCH_CHILD_CONFIG;
  if (!raw) throw new Error('BENCH_CHILD_CONFIG is not set; children are started by bench/run.ts');
  return JSON.parse(raw) as ChildConfig;
}

/** The one line of JSON the parent reads from a child's stdout. */
export function report(result: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/**
 * The baselines' TCP connection to the emulator, set up as mysql2 sets up the socket it opens itself
 * for a `host` (TCP_NODELAY, keep-alive): the emulator stands in for the RDS endpoint they would reach
 * directly, and rds-iam-pool's own `connectHost` sockets are set up the same way.
 */
export function emulatorSocket(port: number, host: string): net.Socket {
  const socket = net.connect(port, host);
  socket.setNoDelay(true);
  socket.once('connect', () => socket.setKeepAlive(true));
  return socket;
}

/** mysql2 options shared by the hand-wired variants: TLS verified for the RDS name, TCP to the emulator. */
export function handWiredConnection(config: ChildConfig) {
  const { emulator } = config;
  return {
    host: emulator.host,
    port: emulator.endpointPort,
    user: config.iamUser,
    database: config.database,
    ssl: { ca: emulator.ca, rejectUnauthorized: true, verifyIdentity: true, minVersion: 'TLSv1.2' },
    stream: () => emulatorSocket(emulator.port, emulator.listenHost),
  };
}
