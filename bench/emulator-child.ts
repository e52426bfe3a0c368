/**
 * The benchmark's emulator process: starts the RDS IAM emulator in front of MariaDB (an Aurora
 * cluster when asked), reports its address to the parent over IPC, answers stats requests and stops
 * on request.
 */
import mysql from 'mysql2/promise';
import { type Emulator, startEmulator } from '../src/emulator/index.js';
import type { EmulatorStartRequest, FromEmulator, ToEmulator } from './lib/emulator-process.js';

const send = (message: FromEmulator) => process.send?.(message);
const request = JSON.parse(process.argv[2] ?? '{}') as EmulatorStartRequest;

/** Stops the emulator; in cluster mode, drops the read-only account it made for its reader sessions. */
async function stop(emulator: Emulator): Promise<void> {
  await emulator.stop();
  const managed = emulator.cluster?.readerAccounts.filter((a) => a.managed) ?? [];
  if (managed.length === 0) return;
  const root = await mysql.createConnection({ ...request.backend });
  try {
    for (const account of managed) await root.query('DROP USER IF EXISTS ?@?', [account.user, account.host]);
  } finally {
    await root.end();
  }
}

try {
  const emulator = await startEmulator({
    backend: request.backend,
    users: request.users,
    keys: request.keys,
    ...(request.host ? { host: request.host } : {}),
    ...(request.cluster ? { cluster: request.cluster } : {}),
  });
  process.on('message', async (message: ToEmulator) => {
    if (message.type === 'stats') send({ type: 'stats', stats: emulator.stats() });
    if (message.type === 'stop') {
      await stop(emulator);
      send({ type: 'stopped' });
      process.disconnect();
    }
  });
  // The parent went away without asking: do not linger.
  process.on('disconnect', () => void emulator.stop());
  const cluster = emulator.cluster;
  send({
    type: 'ready',
    address: {
      host: emulator.host,
      endpointPort: emulator.endpointPort,
      region: emulator.region,
      listenHost: emulator.listenHost,
      port: emulator.port,
      ca: emulator.ca,
      ...(cluster
        ? {
            endpoints: [cluster.endpoint, cluster.readerEndpoint, ...cluster.instanceEndpoints].map((e) => ({
              kind: e.kind,
              host: e.host,
              port: e.port,
              ...(e.instanceId ? { instanceId: e.instanceId } : {}),
            })),
          }
        : {}),
    },
  });
} catch (err) {
  send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  process.exitCode = 1;
  process.disconnect();
}
