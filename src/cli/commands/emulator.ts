import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  type ClusterOptions,
  DEFAULT_CLUSTER_HOST,
  DEFAULT_HOST,
  DEFAULT_INSTANCES,
  type Emulator,
  type EmulatorStats,
  ENGINE_PROFILE_NAMES,
  ENGINE_PROFILES,
  type EngineProfileName,
  type IamUserMapping,
  OUTAGE_SHAPES,
  type OutageShape,
  regionFromHost,
  startEmulator,
} from '../../emulator/index.js';
import {
  DEFAULT_IAM_USER,
  describeFailoverEvent,
  describeLoginEvent,
  failoverEvents,
  printReady,
  type ReadyInfo,
} from '../emulator/banner.js';
import {
  type BackendLogin,
  parseBackendUrl,
  parseReaderUserSpec,
  parseUserSpec,
  testKey,
} from '../emulator/emulator-args.js';
import {
  CLUSTER_COMMANDS_HELP,
  type ClusterCommand,
  listenForClusterCommands,
} from '../emulator/failover-control.js';
import { loginEvents } from '../emulator/login-log.js';
import { startFailureHint } from '../emulator/start-failure.js';
import type { Flags } from '../shared/args.js';
import { CommandFailure, ExitCode, safeMessage, UsageError } from '../shared/failures.js';
import type { Output } from '../shared/output.js';
import type { Command } from './command.js';

const STATS_POLL_MS = 200;
const DEFAULT_FAILOVER_MS = 5000;

export const emulatorCommand: Command = {
  spec: {
    name: 'emulator',
    summary: 'run the local RDS IAM emulator in front of a MySQL / MariaDB server until interrupted',
    usage:
      'emulator --backend mysql://USER[:PASSWORD]@HOST[:PORT] [--user IAM_USER[:BACKEND_USER[:BACKEND_PASSWORD]]]... ' +
      '[--host NAME] [--endpoint-port PORT] [--region REGION] [--port PORT] [--listen-host ADDR] [--ca-file FILE] ' +
      '[--access-key-id ID --secret-access-key KEY [--session-token TOKEN]] [--engine ENGINE] ' +
      '[--cluster [--instances N] [--promotion-ms MS] [--dns-lag-ms MS] [--outage refuse|tls-cut] ' +
      '[--reader-ttl-ms MS] [--reader-user IAM_USER:READER_USER[:READER_PASSWORD]]...] [--plaintext] [--pid-file FILE] [--json]',
    description: [
      'A test tool: a MySQL-protocol endpoint that impersonates an RDS instance with IAM authentication ' +
        '(TLS from a CA it generates, tokens verified against test keys, the session relayed to --backend). ' +
        'It prints the endpoint, the CA file and the test credentials to export, reports each login (and why it ' +
        'was refused, which real RDS never tells you) on stderr, and stops cleanly on Ctrl+C / SIGTERM. Never ' +
        'give it real AWS credentials.',
      `Without --user, IAM user ${DEFAULT_IAM_USER} logs in as the --backend user. Without keys it generates a ` +
        'fake pair. The CA goes to a temporary directory (removed on exit) unless --ca-file is given. It logs in to ' +
        'the backend once at start and refuses to start when that fails.',
      'With --cluster it emulates an Aurora cluster: a cluster (writer) endpoint, a reader endpoint and one ' +
        'endpoint per instance, each on its own port (and each reachable on any of them by TLS server name), ' +
        'read-only readers, the Aurora topology queries answered, and a failover on request: a line "failover" ' +
        'on stdin, or SIGUSR2 to the process id it prints (under npx, not the id of `npm exec`: `kill -USR2 $!` ' +
        'would end npm and leave the emulator running). Other stdin lines change the cluster while it runs: ' +
        '"add-reader [ID]", "remove-reader ID", "fail-reader ID [refuse|tls-cut]", "recover-reader ID".',
      'With --cluster, reader sessions log in to the backend as a read-only account the emulator creates for ' +
        'each backend account (rdsiam_ro_...; the --backend login needs CREATE USER and GRANT OPTION), or as ' +
        'the account --reader-user names.',
    ],
    flags: {
      backend: {
        type: 'string',
        value: 'URL',
        description: 'The real server: mysql://user:password@host:port.',
      },
      user: {
        type: 'string',
        multiple: true,
        value: 'SPEC',
        description:
          'IAM_USER[:BACKEND_USER[:BACKEND_PASSWORD]]: a user it accepts and the backend login it maps to.',
      },
      host: {
        type: 'string',
        value: 'NAME',
        description:
          'RDS endpoint name to impersonate. Default mydb.abc123.us-east-1.rds.amazonaws.com ' +
          '(with --cluster: the cluster endpoint, default mydb.cluster-abc123.us-east-1.rds.amazonaws.com).',
      },
      'endpoint-port': { type: 'string', value: 'PORT', description: 'Port tokens must name. Default 3306.' },
      region: {
        type: 'string',
        value: 'REGION',
        description: 'Region tokens must be signed for. Default: from --host.',
      },
      port: {
        type: 'string',
        value: 'PORT',
        description:
          'Port to listen on. Default: a free one (printed). With --cluster, the first of consecutive ports.',
      },
      'listen-host': {
        type: 'string',
        value: 'ADDR',
        description: 'Address to listen on. Default 127.0.0.1.',
      },
      'ca-file': {
        type: 'string',
        value: 'FILE',
        description: 'Write the CA certificate (PEM) here (kept on exit).',
      },
      'access-key-id': {
        type: 'string',
        value: 'ID',
        description: 'Test access key id to trust (default: generated).',
      },
      'secret-access-key': { type: 'string', value: 'KEY', description: 'Its secret key.' },
      'session-token': {
        type: 'string',
        value: 'TOKEN',
        description: 'Require this session token in tokens.',
      },
      engine: {
        type: 'string',
        value: 'ENGINE',
        description: `Greeting to present: ${ENGINE_PROFILE_NAMES.join(', ')}. Default: mariadb for a MariaDB backend, mysql8.0 otherwise.`,
      },
      cluster: {
        type: 'boolean',
        description: 'Emulate an Aurora cluster (cluster, reader and instance endpoints).',
      },
      instances: {
        type: 'string',
        value: 'N',
        description: 'With --cluster: DB instances, 2 to 16. Default 3 (one writer, two readers).',
      },
      'promotion-ms': {
        type: 'string',
        value: 'MS',
        description: `With --cluster: how long a failover leaves the cluster without a writer. Default ${DEFAULT_FAILOVER_MS}.`,
      },
      'dns-lag-ms': {
        type: 'string',
        value: 'MS',
        description: `With --cluster: how long after the promotion the cluster endpoint still leads to the old writer. Default ${DEFAULT_FAILOVER_MS}.`,
      },
      outage: {
        type: 'string',
        value: 'SHAPE',
        description:
          "With --cluster: what clients of an instance that is down see: 'refuse' (TCP refused on the endpoint's own " +
          "port, as Aurora's restarting instances do) or 'tls-cut' (closed after the TLS handshake; works through one " +
          'port for every endpoint). Default tls-cut.',
      },
      'reader-ttl-ms': {
        type: 'string',
        value: 'MS',
        description:
          'With --cluster: how long the reader endpoint leads new connections to the same reader (its DNS record TTL). Default 5000; 0 = a reader per connection.',
      },
      'reader-user': {
        type: 'string',
        multiple: true,
        value: 'SPEC',
        description:
          "With --cluster: IAM_USER:READER_USER[:READER_PASSWORD]: the read-only backend account that IAM user's reader sessions log in as (default: one the emulator creates).",
      },
      plaintext: {
        type: 'boolean',
        description: 'Do not offer TLS (to check that clients refuse to send a token).',
      },
      'pid-file': {
        type: 'string',
        value: 'FILE',
        description:
          "Write the emulator's process id here once it listens (removed on exit): for kill -USR2 / kill from a script, also under npx.",
      },
    },
    examples: [
      'rds-iam-pool emulator --backend mysql://root@127.0.0.1:3306',
      'rds-iam-pool emulator --backend mysql://root@127.0.0.1:3306 --user app_iam:app:app-password --port 3307',
      'rds-iam-pool emulator --backend mysql://root@127.0.0.1:3306 --engine mysql8.4',
      'rds-iam-pool emulator --backend mysql://root@127.0.0.1:3306 --cluster --promotion-ms 10000 --dns-lag-ms 5000',
      'rds-iam-pool emulator --backend mysql://root@127.0.0.1:3306 --cluster --pid-file emulator.pid & sleep 3; kill -USR2 "$(cat emulator.pid)"',
      'rds-iam-pool emulator --backend mysql://root@127.0.0.1:3306 --cluster --outage refuse --reader-ttl-ms 1000',
    ],
    failureMeans:
      'the emulator could not start (backend unreachable or refusing the login, port in use, node-forge missing...)',
  },

  async run({ flags, out, json, binName }) {
    const settings = emulatorSettings(flags);
    const emulator = await start(settings);
    const { caFile, tempDir } = await writeCaFile(emulator, settings.caFileFlag);
    const cleanUp = async () => {
      await emulator.stop();
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
    };
    // Signal handlers first: a script may send SIGUSR2 or SIGTERM as soon as it reads the pid, and
    // until Node has a handler for a signal, that signal ends the process without cleaning up.
    const stopSignal = waitForStopSignal();
    const stopListening = emulator.cluster ? listenOnStdin(emulator, settings, out, json) : () => {};
    let pidFile: string | undefined;
    try {
      pidFile = await writePidFile(settings.pidFileFlag);
    } catch (err) {
      stopSignal.cancel();
      stopListening();
      await cleanUp();
      throw err;
    }
    const report = eventReporter(emulator, out, json);
    const poll = setInterval(report, STATS_POLL_MS);

    const ready = readyInfo(emulator, { ...settings, caFile, ...(pidFile ? { pidFile } : {}) });
    if (json) out.jsonLine({ event: 'ready', ...ready });
    else printReady(out, ready, binName);

    const signal = await stopSignal.signal;
    clearInterval(poll);
    stopListening();
    await cleanUp();
    if (pidFile) await removePidFile(pidFile);
    const stats = emulator.stats();
    // Logins since the last poll (up to 200 ms before the signal) are reported before "stopped", so
    // the events add up to the final stats.
    report(stats);
    if (json) out.jsonLine({ event: 'stopped', signal, stats });
    else {
      const refused = Object.values(stats.loginsRejected).reduce((a, b) => a + b, 0);
      out.errorLine(
        `${signal}: emulator stopped (${stats.loginsAccepted} logins accepted, ${refused} refused).`,
      );
    }
    return ExitCode.ok;
  },
};

/** What the command line asks for, checked: everything `run` needs before it starts anything. */
interface EmulatorSettings {
  backend: BackendLogin;
  users: Record<string, IamUserMapping>;
  key: ReturnType<typeof testKey>;
  host: string;
  region: string | undefined;
  endpointPort: number;
  listenHost: string;
  listenPort: number;
  caFileFlag: string | undefined;
  pidFileFlag: string | undefined;
  engine: EngineProfileName | undefined;
  tls: boolean;
  /** With --cluster: the cluster options, and the failover timings for stdin and SIGUSR2. */
  cluster: ClusterOptions | undefined;
  promotionMs: number;
  dnsLagMs: number;
}

function emulatorSettings(flags: Flags): EmulatorSettings {
  const backend = parseBackendUrl(
    flags.requiredString('backend', 'For example --backend mysql://root@127.0.0.1:3306.'),
  );
  const userSpecs = flags.strings('user');
  const users: Record<string, IamUserMapping> = Object.fromEntries(
    (userSpecs.length > 0 ? userSpecs : [DEFAULT_IAM_USER]).map(parseUserSpec),
  );
  const cluster = flags.boolean('cluster');
  if (!cluster) {
    for (const name of ['instances', 'promotion-ms', 'dns-lag-ms', 'outage', 'reader-ttl-ms']) {
      if (flags.string(name) !== undefined) throw new UsageError(`--${name} needs --cluster`);
    }
    if (flags.strings('reader-user').length > 0) throw new UsageError('--reader-user needs --cluster');
  }
  for (const spec of flags.strings('reader-user')) {
    const [iamUser, reader] = parseReaderUserSpec(spec);
    const mapping = users[iamUser];
    if (!mapping) {
      throw new UsageError(
        `--reader-user names IAM user "${iamUser}", which no --user gives`,
        `Give it with --user ${iamUser}[:BACKEND_USER[:BACKEND_PASSWORD]] too.`,
      );
    }
    users[iamUser] = { ...mapping, ...reader };
  }
  const host = flags.string('host') ?? (cluster ? DEFAULT_CLUSTER_HOST : DEFAULT_HOST);
  const region = flags.string('region');
  if (!region && regionFromHost(host) === undefined) {
    throw new UsageError(
      `--host ${host} names no region (RDS endpoint names end in .<region>.rds.amazonaws.com)`,
      'Pass --region REGION (for example --region eu-west-1), or an RDS endpoint name as --host.',
    );
  }
  const instances = flags.integer('instances', 2, 16);
  const outage = outageFlag(flags.string('outage'));
  const readerRecordTtlMs = flags.integer('reader-ttl-ms', 0, 3_600_000);
  return {
    backend,
    users,
    key: testKey(
      flags.string('access-key-id'),
      flags.string('secret-access-key'),
      flags.string('session-token'),
    ),
    host,
    region,
    endpointPort: flags.integer('endpoint-port', 1, 65535) ?? 3306,
    listenHost: flags.string('listen-host') ?? '127.0.0.1',
    listenPort: flags.integer('port', 0, 65535) ?? 0,
    caFileFlag: flags.string('ca-file'),
    pidFileFlag: flags.string('pid-file'),
    engine: engineFlag(flags.string('engine')),
    tls: !flags.boolean('plaintext'),
    cluster: cluster
      ? {
          ...(instances === undefined ? {} : { instances }),
          ...(outage === undefined ? {} : { outage }),
          ...(readerRecordTtlMs === undefined ? {} : { readerRecordTtlMs }),
        }
      : undefined,
    promotionMs: flags.integer('promotion-ms', 0, 3_600_000) ?? DEFAULT_FAILOVER_MS,
    dnsLagMs: flags.integer('dns-lag-ms', 0, 3_600_000) ?? DEFAULT_FAILOVER_MS,
  };
}

/** Starts the emulator; a failure says which flag to change (start-failure.ts). */
async function start(s: EmulatorSettings): Promise<Emulator> {
  const { key } = s;
  try {
    return await startEmulator({
      backend: s.backend,
      host: s.host,
      endpointPort: s.endpointPort,
      ...(s.region ? { region: s.region } : {}),
      port: s.listenPort,
      listenHost: s.listenHost,
      users: s.users,
      keys: [
        {
          accessKeyId: key.accessKeyId,
          secretAccessKey: key.secretAccessKey,
          ...(key.sessionToken ? { sessionToken: key.sessionToken } : {}),
        },
      ],
      offerTls: s.tls,
      ...(s.engine ? { engine: s.engine } : {}),
      ...(s.cluster ? { cluster: s.cluster } : {}),
    });
  } catch (err) {
    // A cluster listens on one port per endpoint: cluster, reader, and one per instance.
    const ports = s.cluster ? 2 + (s.cluster.instances ?? DEFAULT_INSTANCES) : 1;
    throw new CommandFailure(
      `The emulator could not start: ${safeMessage(err)}`,
      startFailureHint(err, { listenHost: s.listenHost, port: s.listenPort, ports }),
      { cause: err },
    );
  }
}

/** The CA certificate, where --ca-file says or in a temporary directory of its own (removed on exit). */
async function writeCaFile(
  emulator: Emulator,
  caFileFlag: string | undefined,
): Promise<{ caFile: string; tempDir: string | undefined }> {
  let tempDir: string | undefined;
  try {
    let caFile: string;
    if (caFileFlag === undefined) {
      tempDir = await mkdtemp(join(tmpdir(), 'rds-iam-pool-emulator-'));
      caFile = join(tempDir, 'ca.pem');
    } else {
      caFile = resolve(caFileFlag);
      await mkdir(dirname(caFile), { recursive: true });
    }
    await writeFile(caFile, emulator.ca);
    return { caFile, tempDir };
  } catch (err) {
    await emulator.stop();
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
    throw new CommandFailure(
      `Could not write the CA certificate: ${safeMessage(err)}`,
      'Pass a writable --ca-file.',
    );
  }
}

/** Writes this process's id to --pid-file; resolves to the file's absolute path. */
async function writePidFile(pidFileFlag: string | undefined): Promise<string | undefined> {
  if (pidFileFlag === undefined) return undefined;
  const pidFile = resolve(pidFileFlag);
  try {
    await mkdir(dirname(pidFile), { recursive: true });
    await writeFile(pidFile, `${process.pid}\n`);
    return pidFile;
  } catch (err) {
    throw new CommandFailure(
      `Could not write --pid-file: ${safeMessage(err)}`,
      'Pass a writable --pid-file.',
    );
  }
}

/**
 * Cluster mode: stdin lines (`failover`, `add-reader`, ...) and SIGUSR2 change the cluster, each
 * change reported as an event. Returns the function that stops listening.
 */
function listenOnStdin(emulator: Emulator, s: EmulatorSettings, out: Output, json: boolean): () => void {
  const cluster = emulator.cluster!;
  const refused = (err: unknown, event = 'cluster-change-refused') => {
    if (json) out.jsonLine({ event, message: safeMessage(err) });
    else out.errorLine(out.paintErr('red', safeMessage(err)));
  };
  const onCommand = (command: ClusterCommand) => {
    try {
      switch (command.kind) {
        case 'failover':
          cluster.failover({
            promotionMs: s.promotionMs,
            dnsLagMs: s.dnsLagMs,
            ...(command.target ? { target: command.target } : {}),
          });
          return;
        case 'add-reader':
          cluster.addReader(command.id === undefined ? {} : { id: command.id }).then((endpoint) => {
            if (json) out.jsonLine({ event: 'reader-added', ...endpoint });
            else
              out.errorLine(`reader ${endpoint.instanceId} added: ${endpoint.host}, port ${endpoint.port}`);
          }, refused);
          return;
        case 'remove-reader':
          cluster.removeReader(command.id);
          break;
        case 'fail-reader':
          cluster.failReader(command.id, command.outage ? { outage: command.outage } : {});
          break;
        case 'recover-reader':
          cluster.recoverReader(command.id);
          break;
      }
      const event = {
        'remove-reader': 'reader-removed',
        'fail-reader': 'reader-failed',
        'recover-reader': 'reader-recovered',
      }[command.kind];
      if (json) out.jsonLine({ event, id: command.id });
      else out.errorLine(`${event.replace('-', ' ')}: ${command.id}`);
    } catch (err) {
      refused(err);
    }
  };
  return listenForClusterCommands(process.stdin, onCommand, (line) => {
    const message = `unknown command "${line}": type ${CLUSTER_COMMANDS_HELP}`;
    if (json) out.jsonLine({ event: 'unknown-command', message });
    else out.errorLine(message);
  });
}

/**
 * Reports what happened since its last call, from the emulator's counters: logins (accepted, or
 * refused with the reason) and failover phases. Called every poll and once more on exit.
 */
function eventReporter(emulator: Emulator, out: Output, json: boolean): (now?: EmulatorStats) => void {
  let last = emulator.stats();
  return (now = emulator.stats()) => {
    const at = new Date().toISOString();
    for (const event of loginEvents(last, now)) {
      if (json) out.jsonLine({ ...event, at });
      else out.errorLine(describeLoginEvent(out, event));
    }
    for (const event of failoverEvents(last.cluster?.failovers ?? [], now.cluster?.failovers ?? [])) {
      if (json) out.jsonLine({ ...event, at });
      else out.errorLine(describeFailoverEvent(out, event));
    }
    last = now;
  };
}

function outageFlag(value: string | undefined): OutageShape | undefined {
  if (value === undefined) return undefined;
  if (!(OUTAGE_SHAPES as readonly string[]).includes(value)) {
    throw new UsageError(`--outage must be one of ${OUTAGE_SHAPES.join(', ')}, got "${value}"`);
  }
  return value as OutageShape;
}

function engineFlag(value: string | undefined): EngineProfileName | undefined {
  if (value === undefined) return undefined;
  if (!(ENGINE_PROFILE_NAMES as string[]).includes(value)) {
    throw new UsageError(`--engine must be one of ${ENGINE_PROFILE_NAMES.join(', ')}, got "${value}"`);
  }
  return value as EngineProfileName;
}

function readyInfo(
  emulator: Emulator,
  context: Pick<EmulatorSettings, 'backend' | 'users' | 'key' | 'promotionMs' | 'dnsLagMs' | 'tls'> & {
    caFile: string;
    pidFile?: string;
  },
): ReadyInfo {
  const { backend, users, caFile, key } = context;
  const topology = emulator.cluster?.topology();
  const { host, port, connectHost, connectPort, ssl, topologyFailover } = emulator.poolOptions();
  const role = (instanceId: string | undefined) => topology?.instances.find((i) => i.id === instanceId)?.role;
  return {
    // The emulator's own process: under npx the parent is `npm exec`, and a signal to it ends npm only.
    pid: process.pid,
    ...(context.pidFile ? { pidFile: context.pidFile } : {}),
    endpoint: { host: emulator.host, port: emulator.endpointPort, region: emulator.region },
    listen: { host: emulator.listenHost, port: emulator.port },
    tls: context.tls,
    engine: {
      name: emulator.engine,
      serverVersion: emulator.serverVersion,
      greetingAuthPlugin: ENGINE_PROFILES[emulator.engine].greetingAuthPlugin,
    },
    caFile,
    backend: { host: backend.host, port: backend.port, user: backend.user },
    users: Object.fromEntries(Object.entries(users).map(([iam, m]) => [iam, m.backendUser ?? backend.user])),
    // Fake test credentials this emulator trusts: printing them is the point.
    env: {
      AWS_ACCESS_KEY_ID: key.accessKeyId,
      AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
      ...(key.sessionToken ? { AWS_SESSION_TOKEN: key.sessionToken } : {}),
    },
    poolOptions: {
      host,
      port,
      user: Object.keys(users)[0] ?? DEFAULT_IAM_USER,
      connectHost,
      connectPort,
      ssl,
      ...(topologyFailover ? { topologyFailover } : {}),
    },
    ...(emulator.cluster
      ? {
          cluster: {
            endpoints: [
              emulator.cluster.endpoint,
              emulator.cluster.readerEndpoint,
              ...emulator.cluster.instanceEndpoints.map((e) => ({ ...e, role: role(e.instanceId) })),
            ],
            failover: { promotionMs: context.promotionMs, dnsLagMs: context.dnsLagMs },
          },
        }
      : {}),
  };
}

/** Removes the pid file if it still holds this process's id (another emulator may have taken it over). */
async function removePidFile(file: string): Promise<void> {
  const content = await readFile(file, 'utf8').catch(() => undefined);
  if (content?.trim() === String(process.pid)) await rm(file, { force: true });
}

/** Resolves on the first SIGINT or SIGTERM; `cancel` removes the handlers without waiting. */
function waitForStopSignal(): { signal: Promise<NodeJS.Signals>; cancel(): void } {
  let onSignal: (signal: NodeJS.Signals) => void = () => {};
  const cancel = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  const signal = new Promise<NodeJS.Signals>((resolveSignal) => {
    onSignal = (received) => {
      cancel();
      resolveSignal(received);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  return { signal, cancel };
}
