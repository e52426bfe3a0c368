import type { ClusterEndpoint, FailoverRecord } from '../../emulator/index.js';
import type { Output } from '../shared/output.js';
import type { loginEvents } from './login-log.js';

/** What the emulator command prints once it listens (also its `ready` JSON event). */
export interface ReadyInfo {
  /**
   * The emulator's own process id: the one to signal (SIGUSR2 fails over, SIGINT / SIGTERM stop it).
   * Under npx its parent is `npm exec`, whose id `$!` holds.
   */
  pid: number;
  /** Where --pid-file wrote `pid`. */
  pidFile?: string;
  endpoint: { host: string; port: number; region: string };
  listen: { host: string; port: number };
  tls: boolean;
  engine: { name: string; serverVersion: string; greetingAuthPlugin: string };
  caFile: string;
  backend: { host: string; port: number; user: string };
  users: Record<string, string>;
  env: Record<string, string>;
  /**
   * What `createIamPool` (or an adapter) needs to log in through the emulator as the first IAM user,
   * ready to spread; credentials come from `env` (the default provider chain reads them).
   */
  poolOptions: {
    host: string;
    port: number;
    user: string;
    connectHost: string;
    connectPort: number;
    topologyFailover?: true;
    ssl: { ca: string };
  };
  /** Cluster mode: every endpoint, the instance behind each instance endpoint, and the failover settings. */
  cluster?: {
    endpoints: Array<ClusterEndpoint & { role?: string }>;
    failover: { promotionMs: number; dnsLagMs: number };
  };
}

export const DEFAULT_IAM_USER = 'app_iam';

export function printReady(out: Output, ready: ReadyInfo, binName: string): void {
  // `npx` finds the bin in the project's node_modules (or fetches it); the bare name needs a global install.
  const run = `npx ${binName}`;
  const firstUser = Object.keys(ready.users)[0] ?? DEFAULT_IAM_USER;
  const listen = `${ready.listen.host}:${ready.listen.port}`;
  const exports = Object.entries(ready.env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const unset = ['AWS_PROFILE', ...(ready.env.AWS_SESSION_TOKEN ? [] : ['AWS_SESSION_TOKEN'])].join(' ');
  const what = ready.cluster
    ? `RDS IAM emulator running an Aurora cluster of ${ready.cluster.endpoints.filter((e) => e.kind === 'instance').length} instances`
    : 'RDS IAM emulator running';
  out.line(out.paint('bold', `${what} (a test tool: never give it real AWS credentials)`));
  out.line();
  if (ready.cluster) {
    printClusterEndpoints(out, ready);
  } else {
    out.line(
      `  endpoint   ${ready.endpoint.host}:${ready.endpoint.port} (region ${ready.endpoint.region}): tokens must name this`,
    );
    out.line(`  listening  ${listen}${ready.tls ? '' : ' (plaintext: TLS is NOT offered)'}: connect here`);
  }
  out.line(
    `  engine     ${ready.engine.name}: greets as ${ready.engine.serverVersion} with ${ready.engine.greetingAuthPlugin}`,
  );
  out.line(`  backend    ${ready.backend.user}@${ready.backend.host}:${ready.backend.port}`);
  out.line(
    `  IAM users  ${Object.entries(ready.users)
      .map(([iam, backendUser]) => `${iam} -> ${backendUser}`)
      .join(', ')}`,
  );
  out.line(`  CA         ${ready.caFile}`);
  out.line(`  pid        ${ready.pid}${ready.pidFile ? ` (in ${ready.pidFile})` : ''}`);
  out.line();
  out.line('Test credentials (the only keys it accepts):');
  out.line(`  export ${exports}; unset ${unset}`);
  out.line();
  printPoolOptions(out, ready);
  out.line();
  out.line('Check the whole IAM path:');
  out.line(
    `  ${run} doctor --hostname ${ready.endpoint.host} --port ${ready.endpoint.port} --username ${firstUser} ` +
      `--connect-host ${ready.listen.host} --connect-port ${ready.listen.port} --ca ${ready.caFile}`,
  );
  out.line(
    'Connect with the mysql client (MySQL 8 client; the MariaDB client takes --ssl-verify-server-cert instead of ' +
      '--ssl-mode and needs no --enable-cleartext-plugin):',
  );
  out.line(
    `  mysql -h ${ready.listen.host} -P ${ready.listen.port} -u ${firstUser} --ssl-ca=${ready.caFile} --ssl-mode=VERIFY_IDENTITY ` +
      `--enable-cleartext-plugin --password="$(${run} token --hostname ${ready.endpoint.host} --port ${ready.endpoint.port} --username ${firstUser})"`,
  );
  out.line();
  const signals = process.platform !== 'win32';
  if (ready.cluster) {
    const { promotionMs, dnsLagMs } = ready.cluster.failover;
    // The pid, literally: under npx, `$!` is npm's process, and SIGUSR2 would end npm, not fail over.
    out.line(
      `Fail over: type "failover" (or "failover INSTANCE_ID") and Enter${signals ? `, or run: kill -USR2 ${ready.pid}` : ''}; ` +
        `the cluster has no writer for ${promotionMs} ms, then the cluster endpoint leads to the old writer for ${dnsLagMs} ms more.`,
    );
  }
  out.line(
    `Logins are reported on stderr, with the reason for each refusal. Ctrl+C${signals ? ` (or kill ${ready.pid})` : ''} stops it.`,
  );
}

/** The pool options as code to paste: what an application changes to reach the emulator instead of RDS. */
function printPoolOptions(out: Output, ready: ReadyInfo): void {
  const p = ready.poolOptions;
  const quote = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  out.line(
    'Pool options (createIamPool or an adapter; credentials: the test keys above, from the environment):',
  );
  out.line(
    `  { host: ${quote(p.host)}, port: ${p.port}, user: ${quote(p.user)}, ` +
      `connectHost: ${quote(p.connectHost)}, connectPort: ${p.connectPort}, ` +
      (p.topologyFailover ? 'topologyFailover: true, ' : '') +
      `ssl: { ca: readFileSync(${quote(ready.caFile)}, 'utf8') } }`,
  );
}

function printClusterEndpoints(out: Output, ready: ReadyInfo): void {
  const endpoints = ready.cluster!.endpoints;
  const width = Math.max(...endpoints.map((e) => e.host.length));
  out.line(
    `  endpoints  tokens must name HOST:${ready.endpoint.port} (region ${ready.endpoint.region}); connect to its port, ` +
      `or to any port with HOST as the TLS server name${ready.tls ? '' : ' (plaintext: TLS is NOT offered)'}`,
  );
  for (const e of endpoints) {
    const note =
      e.kind === 'instance'
        ? `${e.instanceId} (${e.role})`
        : e.kind === 'cluster'
          ? 'the writer'
          : 'the readers';
    out.line(`    ${e.kind.padEnd(8)} ${e.host.padEnd(width)}  ${ready.listen.host}:${e.port}  ${note}`);
  }
}

export function describeLoginEvent(out: Output, event: ReturnType<typeof loginEvents>[number]): string {
  const time = new Date().toISOString().slice(11, 19);
  const times = event.count > 1 ? ` x${event.count}` : '';
  return event.event === 'login-accepted'
    ? `${time} ${out.paintErr('green', 'login accepted')}${times}`
    : `${time} ${out.paintErr('red', 'login refused')}${times}: ${event.reason} (${event.meaning})`;
}

export type FailoverEvent =
  | { event: 'failover-started'; from: string; to: string }
  | { event: 'failover-promoted'; from: string; to: string }
  | { event: 'failover-completed'; from: string; to: string };

/** The failover phases reached between two snapshots of the failover history. */
export function failoverEvents(
  before: readonly FailoverRecord[],
  after: readonly FailoverRecord[],
): FailoverEvent[] {
  const events: FailoverEvent[] = [];
  for (const [i, record] of after.entries()) {
    const previous = before[i];
    const { from, to } = record;
    if (!previous) events.push({ event: 'failover-started', from, to });
    if (record.promotedAt !== null && previous?.promotedAt == null)
      events.push({ event: 'failover-promoted', from, to });
    if (record.dnsUpdatedAt !== null && previous?.dnsUpdatedAt == null) {
      events.push({ event: 'failover-completed', from, to });
    }
  }
  return events;
}

export function describeFailoverEvent(out: Output, event: FailoverEvent): string {
  const time = new Date().toISOString().slice(11, 19);
  const what =
    event.event === 'failover-started'
      ? `failover started: ${event.from} (writer) and ${event.to} restart; no writer until the promotion`
      : event.event === 'failover-promoted'
        ? `failover: ${event.to} is the writer, ${event.from} a reader; the cluster endpoint still leads to ${event.from}`
        : `failover completed: the cluster endpoint leads to ${event.to}`;
  return `${time} ${out.paintErr('yellow', what)}`;
}
