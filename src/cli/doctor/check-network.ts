import { lookup } from 'node:dns/promises';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { safeMessage } from '../shared/failures.js';
import { withTimeout } from '../shared/timeout.js';
import { readServerHello } from './mysql-wire.js';
import { fail, pass, type StepOutcome } from './report.js';
import { type DoctorState, dialTarget } from './state.js';

// RFC 1918, CGNAT, link-local and unique-local ranges: reachable only from inside a network.
const PRIVATE_ADDRESS =
  /^(?:10\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.|100\.(?:6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.|169\.254\.|f[cd][0-9a-f]{2}:)/i;

/** Resolves the host TCP will go to (the tunnel when --connect-host is given). */
export async function checkDns(state: DoctorState): Promise<StepOutcome> {
  const endpoint = state.endpoint!;
  const { host } = dialTarget(endpoint);
  const tunnelNote =
    endpoint.connectHost !== undefined
      ? [`${endpoint.hostname} itself is not looked up: TCP goes to --connect-host ${endpoint.connectHost}`]
      : [];
  if (isIP(host)) return pass(`${host} is an IP address, no lookup needed`, tunnelNote);

  let addresses: string[];
  try {
    const found = await withTimeout(
      lookup(host, { all: true }),
      state.input.timeoutMs,
      `DNS lookup of ${host}`,
    );
    addresses = found.map((a) => a.address);
  } catch (err) {
    const code = (err as { code?: string }).code;
    return fail(
      code === 'ENOTFOUND'
        ? `${host} does not resolve (ENOTFOUND)`
        : `DNS lookup of ${host} failed: ${safeMessage(err)}`,
      tunnelNote,
      code === 'ENOTFOUND'
        ? endpoint.connectHost !== undefined
          ? `--connect-host ${host} is where the tunnel or port-forward listens, not the RDS endpoint: check ` +
            'the name (or use its IP, e.g. 127.0.0.1 for a local SSH tunnel or `aws ssm start-session` port-forward).'
          : 'Check the name against the endpoint shown in the RDS console (aws rds describe-db-instances); the ' +
            'instance may have been deleted or renamed. Names in a private hosted zone resolve only inside the VPC.'
        : "The resolver did not answer: check this machine's DNS configuration and network, or pass --connect-host with an IP.",
    );
  }
  const details = [...tunnelNote];
  if (endpoint.connectHost === undefined && addresses.every((a) => PRIVATE_ADDRESS.test(a))) {
    details.push(
      'private address: reachable only from inside the VPC (or over VPN / Direct Connect, or a tunnel with --connect-host)',
    );
  }
  return pass(`${host} resolves to ${addresses.join(', ')}`, details);
}

/** Opens TCP to the target and reads the server's greeting; keeps the socket for the TLS step. */
export async function checkTcp(state: DoctorState): Promise<StepOutcome> {
  const { host, port } = dialTarget(state.endpoint!);
  const timeoutMs = state.input.timeoutMs;
  const started = Date.now();
  let socket: Socket;
  try {
    socket = await connectSocket(host, port, timeoutMs);
  } catch (err) {
    const code = (err as { code?: string }).code;
    return fail(
      `cannot connect to ${host}:${port} (${code ?? safeMessage(err)})`,
      [],
      connectFix(code, host, port),
    );
  }
  state.socket = socket;
  const connectMs = Date.now() - started;
  const where = `${socket.remoteAddress ?? host}:${socket.remotePort ?? port}`;

  let hello: Awaited<ReturnType<typeof readServerHello>>;
  try {
    hello = await readServerHello(socket, timeoutMs);
  } catch (err) {
    return fail(
      `connected to ${where}, but ${safeMessage(err)}`,
      [],
      `Is ${port} the MySQL port? A load balancer, a tunnel whose far end is down, or another service can accept TCP ` +
        'without being MySQL. A server that waits this long may also be overloaded.',
    );
  }
  if (hello.kind === 'error') {
    return fail(
      `the server refused this client before any login: ${hello.errno} ${safeMessage(hello.message)}`,
      [],
      hello.errno === 1129
        ? 'The server blocked this host after too many connection errors: run FLUSH HOSTS (or raise max_connect_errors).'
        : hello.errno === 1040
          ? 'The server is at max_connections: close idle connections or raise the limit.'
          : 'The server does not accept connections from this address.',
    );
  }
  state.greeting = hello.greeting;
  state.offersTls = hello.offersTls;
  return pass(`connected to ${where} in ${connectMs} ms; server ${hello.greeting.serverVersion}`, [
    `server offers TLS: ${hello.offersTls ? 'yes' : 'no'}`,
  ]);
}

function connectSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      // Later errors (a reset during TLS) are reported by the step that is reading.
      socket.on('error', () => {});
      resolve(socket);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
  });
}

function connectFix(code: string | undefined, host: string, port: number): string {
  switch (code) {
    case 'ECONNREFUSED':
      return `Nothing accepts connections on ${host}:${port}: check the port (the instance's port, 3306 by default; --connect-port for a tunnel), that the instance is available, and that the tunnel or port-forward is running.`;
    case 'ETIMEDOUT':
      return 'Packets are dropped: check that the security group allows this address on the port, network ACLs and routes. An instance that is not publicly accessible is reachable only from inside its VPC (or via VPN / Direct Connect / a tunnel: --connect-host, --connect-port).';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'No route to the host: check the VPN, VPC peering or route tables between this machine and the instance.';
    default:
      return 'Check the address, port and network path to the instance.';
  }
}
