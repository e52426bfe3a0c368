import { createInterface } from 'node:readline';
import type { OutageShape } from '../../emulator/index.js';

/** A change to the emulated cluster, asked for on the emulator's stdin. */
export type ClusterCommand =
  | { kind: 'failover'; target: string | undefined }
  | { kind: 'add-reader'; id: string | undefined }
  | { kind: 'remove-reader'; id: string }
  | { kind: 'fail-reader'; id: string; outage: OutageShape | undefined }
  | { kind: 'recover-reader'; id: string };

export const CLUSTER_COMMANDS_HELP =
  '"failover [INSTANCE_ID]", "add-reader [INSTANCE_ID]", "remove-reader INSTANCE_ID", ' +
  '"fail-reader INSTANCE_ID [refuse|tls-cut]" or "recover-reader INSTANCE_ID"';

/** One stdin line as a command; undefined when it is not one. */
export function parseClusterCommand(line: string): ClusterCommand | undefined {
  const [word, arg, extra, ...rest] = line.trim().split(/\s+/);
  if (rest.length > 0) return undefined;
  switch (word) {
    case 'failover':
      return extra === undefined ? { kind: 'failover', target: arg } : undefined;
    case 'add-reader':
      return extra === undefined ? { kind: 'add-reader', id: arg } : undefined;
    case 'remove-reader':
      return arg !== undefined && extra === undefined ? { kind: 'remove-reader', id: arg } : undefined;
    case 'recover-reader':
      return arg !== undefined && extra === undefined ? { kind: 'recover-reader', id: arg } : undefined;
    case 'fail-reader':
      if (arg === undefined) return undefined;
      if (extra !== undefined && extra !== 'refuse' && extra !== 'tls-cut') return undefined;
      return { kind: 'fail-reader', id: arg, outage: extra };
    default:
      return undefined;
  }
}

/**
 * How a person (or a script) at the emulator's terminal changes the cluster: a line on stdin (see
 * CLUSTER_COMMANDS_HELP), or SIGUSR2 for a failover (not on Windows). Returns a function that stops
 * listening, so stdin no longer keeps the process alive.
 */
export function listenForClusterCommands(
  stdin: NodeJS.ReadableStream,
  onCommand: (command: ClusterCommand) => void,
  onUnknown: (line: string) => void,
): () => void {
  const lines = createInterface({ input: stdin, terminal: false });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    const command = parseClusterCommand(line);
    if (command) onCommand(command);
    else onUnknown(line.trim());
  });
  const onSignal = () => onCommand({ kind: 'failover', target: undefined });
  const signals = process.platform !== 'win32';
  if (signals) process.on('SIGUSR2', onSignal);
  return () => {
    lines.close();
    if (signals) process.off('SIGUSR2', onSignal);
    // readline leaves stdin flowing; pause it so it does not keep the process alive.
    stdin.pause();
  };
}
