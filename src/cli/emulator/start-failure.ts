import { EmulatorError } from '../../emulator/index.js';

/** What the emulator command was asked to listen on, for a hint that names the flags to change. */
export interface ListenRequest {
  listenHost: string;
  /** 0 = a free port. */
  port: number;
  /** How many consecutive ports from `port` on it needs (1, or the endpoints of a cluster). */
  ports: number;
}

/**
 * The fix for an emulator that could not start, in the command's own terms: flags to pass, not
 * `startEmulator` options (the API's hints name `options.region`, `tls: { cert, key, ca }` and so on,
 * which a person at the command line cannot give).
 */
export function startFailureHint(err: unknown, listen: ListenRequest): string | undefined {
  if (err instanceof EmulatorError) {
    switch (err.code) {
      case 'EMULATOR_NODE_FORGE_MISSING':
        return (
          'Install it next to rds-iam-pool: npm i -D node-forge (an optional peer dependency, needed only to ' +
          'generate the emulator test certificates). Without a project: npx -p rds-iam-pool -p node-forge ' +
          'rds-iam-pool emulator ...'
        );
      case 'EMULATOR_BACKEND_UNREACHABLE':
        return 'Start that MySQL / MariaDB server, or point --backend mysql://USER[:PASSWORD]@HOST[:PORT] at one that runs.';
      default:
        // The backend login hints already name --backend and --user.
        return err.hint;
    }
  }
  const code = (err as { code?: unknown } | null)?.code;
  const ports =
    listen.ports > 1 ? `ports ${listen.port} to ${listen.port + listen.ports - 1}` : `port ${listen.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return listen.port === 0
        ? undefined
        : `Something already listens on ${ports} of ${listen.listenHost}: pass another --port, or leave --port out to take ${
            listen.ports > 1 ? 'free ports' : 'a free port'
          } (printed once it runs).`;
    case 'EACCES':
      return `Listening on ${ports} needs privileges this process lacks: pass a --port of 1024 or more, or leave --port out.`;
    case 'EADDRNOTAVAIL':
      return `--listen-host ${listen.listenHost} is not an address of this machine: leave it out (127.0.0.1) or pass one of its addresses.`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `--listen-host ${listen.listenHost} does not resolve: pass an IP address of this machine, or leave it out (127.0.0.1).`;
    default:
      return undefined;
  }
}
