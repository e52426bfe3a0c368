import { createInterface } from 'node:readline';

/**
 * How a person (or a script) at the emulator's terminal asks for a failover: a line `failover` or
 * `failover INSTANCE_ID` on stdin, or SIGUSR2 (not on Windows). Returns a function that stops
 * listening, so stdin no longer keeps the process alive.
 */
export function listenForFailoverRequests(
  stdin: NodeJS.ReadableStream,
  onRequest: (target: string | undefined) => void,
  onUnknown: (line: string) => void,
): () => void {
  const lines = createInterface({ input: stdin, terminal: false });
  lines.on('line', (line) => {
    const [word, target, ...rest] = line.trim().split(/\s+/);
    if (word === '') return;
    if (word === 'failover' && rest.length === 0) onRequest(target);
    else onUnknown(line.trim());
  });
  const onSignal = () => onRequest(undefined);
  const signals = process.platform !== 'win32';
  if (signals) process.on('SIGUSR2', onSignal);
  return () => {
    lines.close();
    if (signals) process.off('SIGUSR2', onSignal);
    // readline leaves stdin flowing; pause it so it does not keep the process alive.
    stdin.pause();
  };
}
