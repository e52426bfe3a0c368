import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Emulator, IamUserMapping } from '../../emulator/index.js';
import { parseBackendUrl, parseUserSpec, testKey } from '../emulator/emulator-args.js';
import { loginEvents } from '../emulator/login-log.js';
import { CommandFailure, ExitCode, safeMessage } from '../shared/failures.js';
import type { Output } from '../shared/output.js';
import type { Command } from './command.js';

const DEFAULT_IAM_USER = 'app_iam';
const STATS_POLL_MS = 200;

export const emulatorCommand: Command = {
  spec: {
    name: 'emulator',
    summary: 'run the local RDS IAM emulator in front of a MySQL / MariaDB server until interrupted',
    usage:
      'emulator --backend mysql://USER[:PASSWORD]@HOST[:PORT] [--user IAM_USER[:BACKEND_USER[:BACKEND_PASSWORD]]]... ' +
      '[--host NAME] [--endpoint-port PORT] [--region REGION] [--port PORT] [--listen-host ADDR] [--ca-file FILE] ' +
      '[--access-key-id ID --secret-access-key KEY [--session-token TOKEN]] [--plaintext] [--json]',
    description: [
      'A test tool: a MySQL-protocol endpoint that impersonates an RDS instance with IAM authentication ' +
        '(TLS from a CA it generates, tokens verified against test keys, the session relayed to --backend). ' +
        'It prints the endpoint, the CA file and the test credentials to export, reports each login (and why it ' +
        'was refused, which real RDS never tells you) on stderr, and stops cleanly on Ctrl+C / SIGTERM. Never ' +
        'give it real AWS credentials.',
      `Without --user, IAM user ${DEFAULT_IAM_USER} logs in as the --backend user. Without keys it generates a ` +
        'fake pair. The CA goes to a temporary directory (removed on exit) unless --ca-file is given.',
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
        description: 'RDS endpoint name to impersonate. Default mydb.abc123.us-east-1.rds.amazonaws.com.',
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
        description: 'Port to listen on. Default: a free one (printed).',
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
      plaintext: {
        type: 'boolean',
        description: 'Do not offer TLS (to check that clients refuse to send a token).',
      },
    },
    examples: [
      'rds-iam-pool emulator --backend mysql://root@127.0.0.1:3306',
      'rds-iam-pool emulator --backend mysql://root@127.0.0.1:3306 --user app_iam:app:app-password --port 3307',
    ],
    failureMeans: 'the emulator could not start (backend unreachable, port in use...)',
  },

  async run({ flags, out, json, binName }) {
    const backend = parseBackendUrl(
      flags.requiredString('backend', 'For example --backend mysql://root@127.0.0.1:3306.'),
    );
    const userSpecs = flags.strings('user');
    const users: Record<string, IamUserMapping> = Object.fromEntries(
      (userSpecs.length > 0 ? userSpecs : [DEFAULT_IAM_USER]).map(parseUserSpec),
    );
    const key = testKey(
      flags.string('access-key-id'),
      flags.string('secret-access-key'),
      flags.string('session-token'),
    );
    const endpointPort = flags.integer('endpoint-port', 1, 65535) ?? 3306;
    const listenPort = flags.integer('port', 0, 65535) ?? 0;
    const caFileFlag = flags.string('ca-file');

    // Loaded on use: certificate generation (node-forge) is the heaviest import of the CLI.
    const { DEFAULT_HOST, EmulatorError, startEmulator } = await import('../../emulator/index.js');
    let emulator: Emulator;
    try {
      emulator = await startEmulator({
        backend,
        host: flags.string('host') ?? DEFAULT_HOST,
        endpointPort,
        ...(flags.string('region') ? { region: flags.string('region')! } : {}),
        port: listenPort,
        listenHost: flags.string('listen-host') ?? '127.0.0.1',
        users,
        keys: [
          {
            accessKeyId: key.accessKeyId,
            secretAccessKey: key.secretAccessKey,
            ...(key.sessionToken ? { sessionToken: key.sessionToken } : {}),
          },
        ],
        offerTls: !flags.boolean('plaintext'),
      });
    } catch (err) {
      throw new CommandFailure(
        `The emulator could not start: ${safeMessage(err)}`,
        err instanceof EmulatorError
          ? err.hint
          : 'Check that --port is free and that --host carries a region (or pass --region).',
        { cause: err },
      );
    }

    let tempDir: string | undefined;
    let caFile: string;
    try {
      if (caFileFlag === undefined) {
        tempDir = await mkdtemp(join(tmpdir(), 'rds-iam-pool-emulator-'));
        caFile = join(tempDir, 'ca.pem');
      } else {
        caFile = resolve(caFileFlag);
        await mkdir(dirname(caFile), { recursive: true });
      }
      await writeFile(caFile, emulator.ca);
    } catch (err) {
      await emulator.stop();
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
      throw new CommandFailure(
        `Could not write the CA certificate: ${safeMessage(err)}`,
        'Pass a writable --ca-file.',
      );
    }

    const ready = {
      event: 'ready',
      endpoint: { host: emulator.host, port: emulator.endpointPort, region: emulator.region },
      listen: { host: emulator.listenHost, port: emulator.port },
      tls: !flags.boolean('plaintext'),
      caFile,
      backend: { host: backend.host, port: backend.port, user: backend.user },
      users: Object.fromEntries(
        Object.entries(users).map(([iam, m]) => [iam, m.backendUser ?? backend.user]),
      ),
      // Fake test credentials this emulator trusts: printing them is the point.
      env: {
        AWS_ACCESS_KEY_ID: key.accessKeyId,
        AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
        ...(key.sessionToken ? { AWS_SESSION_TOKEN: key.sessionToken } : {}),
      },
    };
    if (json) out.jsonLine(ready);
    else printReady(out, ready, binName);

    let last = emulator.stats();
    const poll = setInterval(() => {
      const now = emulator.stats();
      for (const event of loginEvents(last, now)) {
        if (json) out.jsonLine({ ...event, at: new Date().toISOString() });
        else out.errorLine(describeEvent(out, event));
      }
      last = now;
    }, STATS_POLL_MS);

    const signal = await waitForStopSignal();
    clearInterval(poll);
    await emulator.stop();
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
    const stats = emulator.stats();
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

function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolveSignal) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolveSignal(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

function describeEvent(out: Output, event: ReturnType<typeof loginEvents>[number]): string {
  const time = new Date().toISOString().slice(11, 19);
  const times = event.count > 1 ? ` x${event.count}` : '';
  return event.event === 'login-accepted'
    ? `${time} ${out.paintErr('green', 'login accepted')}${times}`
    : `${time} ${out.paintErr('red', 'login refused')}${times}: ${event.reason} (${event.meaning})`;
}

interface ReadyInfo {
  endpoint: { host: string; port: number; region: string };
  listen: { host: string; port: number };
  tls: boolean;
  caFile: string;
  backend: { host: string; port: number; user: string };
  users: Record<string, string>;
  env: Record<string, string>;
}

function printReady(out: Output, ready: ReadyInfo, binName: string): void {
  // `npx` finds the bin in the project's node_modules (or fetches it); the bare name needs a global install.
  const run = `npx ${binName}`;
  const firstUser = Object.keys(ready.users)[0] ?? DEFAULT_IAM_USER;
  const listen = `${ready.listen.host}:${ready.listen.port}`;
  const exports = Object.entries(ready.env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const unset = ['AWS_PROFILE', ...(ready.env.AWS_SESSION_TOKEN ? [] : ['AWS_SESSION_TOKEN'])].join(' ');
  out.line(out.paint('bold', 'RDS IAM emulator running (a test tool: never give it real AWS credentials)'));
  out.line();
  out.line(
    `  endpoint   ${ready.endpoint.host}:${ready.endpoint.port} (region ${ready.endpoint.region}): tokens must name this`,
  );
  out.line(`  listening  ${listen}${ready.tls ? '' : ' (plaintext: TLS is NOT offered)'}: connect here`);
  out.line(`  backend    ${ready.backend.user}@${ready.backend.host}:${ready.backend.port}`);
  out.line(
    `  IAM users  ${Object.entries(ready.users)
      .map(([iam, backendUser]) => `${iam} -> ${backendUser}`)
      .join(', ')}`,
  );
  out.line(`  CA         ${ready.caFile}`);
  out.line();
  out.line('Test credentials (the only keys it accepts):');
  out.line(`  export ${exports}; unset ${unset}`);
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
  out.line('Logins are reported on stderr, with the reason for each refusal. Ctrl+C stops it.');
}
