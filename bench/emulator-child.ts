/**
 * The benchmark's emulator process: starts the RDS IAM emulator in front of MariaDB, reports its
 * address to the parent over IPC, answers stats requests and stops on request.
 */
import { startEmulator } from '../src/emulator/index.js';
import type { EmulatorStartRequest, FromEmulator, ToEmulator } from './lib/emulator-process.js';

const send = (message: FromEmulator) => process.send?.(message);
const request = JSON.parse(process.argv[2] ?? '{}') as EmulatorStartRequest;

try {
  const emulator = await startEmulator({
    backend: request.backend,
    users: request.users,
    keys: request.keys,
  });
  process.on('message', async (message: ToEmulator) => {
    if (message.type === 'stats') send({ type: 'stats', stats: emulator.stats() });
    if (message.type === 'stop') {
      await emulator.stop();
      send({ type: 'stopped' });
      process.disconnect();
    }
  });
  // The parent went away without asking: do not linger.
  process.on('disconnect', () => void emulator.stop());
  send({
    type: 'ready',
    address: {
      host: emulator.host,
      endpointPort: emulator.endpointPort,
      region: emulator.region,
      listenHost: emulator.listenHost,
      port: emulator.port,
      ca: emulator.ca,
    },
  });
} catch (err) {
  send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  process.exitCode = 1;
  process.disconnect();
}
