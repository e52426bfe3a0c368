import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { EmulatorStats } from '../../src/emulator/index.js';
import type { BackendLogin } from './database.js';
import { BENCH_KEY, COUNTS_IAM_USER, IAM_USER, MARIADB } from './env.js';

/** Where the emulator listens and what a client must trust; all a variant needs to connect. */
export interface EmulatorAddress {
  /** The RDS name tokens and TLS use. */
  host: string;
  /** The port tokens name. */
  endpointPort: number;
  region: string;
  /** Where the TCP connection goes. */
  listenHost: string;
  port: number;
  ca: string;
  /** Cluster mode: every endpoint (cluster, reader, one per instance) and the port it listens on. */
  endpoints?: Array<{ kind: string; host: string; port: number; instanceId?: string }>;
}

export type ToEmulator = { type: 'stats' } | { type: 'stop' };
export type FromEmulator =
  | { type: 'ready'; address: EmulatorAddress }
  | { type: 'stats'; stats: EmulatorStats }
  | { type: 'stopped' }
  | { type: 'failed'; message: string };

export interface EmulatorStartRequest {
  backend: typeof MARIADB;
  users: Record<string, { backendUser: string; backendPassword: string }>;
  keys: Array<typeof BENCH_KEY>;
  /** Cluster mode: the cluster endpoint's name and the cluster's options (the read-scaling section). */
  host?: string;
  cluster?: { instances: number };
}

export interface EmulatorProcess {
  address: EmulatorAddress;
  stats(): Promise<EmulatorStats>;
  stop(): Promise<void>;
}

/**
 * Runs the emulator in its own process, so its TLS and relay work does not share an event loop
 * with the client being measured, and so the parent may block in spawnSync while children use it.
 * With `cluster`, an Aurora cluster (its endpoints are in `address.endpoints`); the read-only account
 * it creates for its reader sessions is dropped when it stops.
 */
export async function startEmulatorProcess(
  backend: BackendLogin,
  cluster?: Pick<EmulatorStartRequest, 'host' | 'cluster'>,
): Promise<EmulatorProcess> {
  const script = fileURLToPath(new URL('../emulator-child.ts', import.meta.url));
  const request: EmulatorStartRequest = {
    backend: MARIADB,
    users: Object.fromEntries(
      [IAM_USER, COUNTS_IAM_USER].map((user) => [
        user,
        { backendUser: backend.user, backendPassword: backend.password },
      ]),
    ),
    keys: [BENCH_KEY],
    ...cluster,
  };
  const child = fork(script, [JSON.stringify(request)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const address = await new Promise<EmulatorAddress>((resolve, reject) => {
    child.once('message', (m: FromEmulator) =>
      m.type === 'ready' ? resolve(m.address) : reject(new Error(`emulator: ${JSON.stringify(m)}`)),
    );
    child.once('exit', (code) => reject(new Error(`emulator process exited (${code}) before it was ready`)));
  });
  return {
    address,
    stats: async () => {
      const reply = await ask(child, { type: 'stats' });
      if (reply.type !== 'stats') throw new Error(`emulator: unexpected ${reply.type}`);
      return reply.stats;
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'stop' } satisfies ToEmulator);
      await exited;
    },
  };
}

function ask(child: ChildProcess, message: ToEmulator): Promise<FromEmulator> {
  return new Promise((resolve) => {
    child.once('message', resolve);
    child.send(message);
  });
}
