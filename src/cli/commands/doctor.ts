import type { DoctorInput } from '../doctor/state.js';
import { ExitCode } from '../shared/failures.js';
import { type Progress, startProgress } from '../shared/progress.js';
import type { Command } from './command.js';

const DEFAULT_TIMEOUT_MS = 5000;

export const doctorCommand: Command = {
  spec: {
    name: 'doctor',
    summary: 'check every step of an IAM login and say which one fails, and why',
    usage:
      'doctor --hostname HOST --username USER [--port PORT] [--region REGION] [--database DB] ' +
      '[--connect-host ADDR] [--connect-port PORT] [--ca FILE] [--profile NAME] [--timeout MS] [--json]',
    description: [
      'Steps: options (region inference), dns, tcp (with the server greeting), tls (certificate chain ' +
        'against the bundled RDS CAs or --ca, expiry, host name), credentials (which provider, expiry; never ' +
        'the secret), token (signed, never shown), login (as the IAM user, the way rds-iam-pool logs in), ' +
        'query (SELECT CURRENT_USER()). A failed login is mapped to its likely causes: user not created ' +
        'with the IAM plugin, missing or wrong policy, wrong region, expired credentials, clock skew.',
      'A token is sent only to a server whose TLS certificate verified; the doctor never prints it.',
    ],
    flags: {
      hostname: { type: 'string', value: 'HOST', description: 'The RDS / Aurora / RDS Proxy endpoint name.' },
      port: {
        type: 'string',
        value: 'PORT',
        description: 'The endpoint port (named in the token). Default 3306.',
      },
      username: { type: 'string', value: 'USER', description: 'The IAM database user.' },
      region: {
        type: 'string',
        value: 'REGION',
        description: 'Signing region. Default: from the host name.',
      },
      database: { type: 'string', value: 'DB', description: 'Database to select at login.' },
      'connect-host': {
        type: 'string',
        value: 'ADDR',
        description:
          'Open TCP here instead (SSH tunnel, port-forward, emulator); TLS and the token keep --hostname.',
      },
      'connect-port': {
        type: 'string',
        value: 'PORT',
        description: 'Port for --connect-host. Default: --port.',
      },
      ca: {
        type: 'string',
        value: 'FILE',
        description: 'PEM file of CAs that replaces the bundled RDS CAs.',
      },
      profile: {
        type: 'string',
        value: 'NAME',
        description: 'AWS profile for credentials (default: AWS_PROFILE, then the chain).',
      },
      timeout: {
        type: 'string',
        value: 'MS',
        description: `Limit for each network step and for the credential chain. Default ${DEFAULT_TIMEOUT_MS}.`,
      },
    },
    examples: [
      'rds-iam-pool doctor --hostname mydb.abc123.eu-west-1.rds.amazonaws.com --username app_iam',
      'rds-iam-pool doctor --hostname mydb.abc123.eu-west-1.rds.amazonaws.com --username app_iam \\',
      '  --connect-host 127.0.0.1 --connect-port 13306   # through an SSH tunnel',
    ],
    failureMeans: 'a check failed',
  },

  async run({ flags, out, io, json }) {
    const input: DoctorInput = {
      hostname: flags.requiredString('hostname'),
      username: flags.requiredString('username'),
      port: flags.integer('port', 1, 65535),
      region: flags.string('region'),
      database: flags.string('database'),
      connectHost: flags.string('connect-host'),
      connectPort: flags.integer('connect-port', 1, 65535),
      caFile: flags.string('ca'),
      profile: flags.string('profile'),
      timeoutMs: flags.integer('timeout', 100, 600_000) ?? DEFAULT_TIMEOUT_MS,
      env: io.env,
    };
    // Loaded here, not at start-up: mysql2, the CA bundle and the AWS SDK cost time `--help` should not pay.
    const [{ runDoctor }, { renderHeader, renderStep, renderSummary }] = await Promise.all([
      import('../doctor/run-doctor.js'),
      import('../doctor/render.js'),
    ]);
    if (!json) renderHeader(out, input);
    let progress: Progress | undefined;
    const report = await runDoctor(input, {
      onStepStart: (step) => {
        progress = startProgress(io.stderr, `checking ${step.title}`);
      },
      onStepDone: (result) => {
        progress?.stop();
        progress = undefined;
        if (!json) renderStep(out, result);
      },
    });
    if (json) out.json(report);
    else renderSummary(out, report);
    return report.ok ? ExitCode.ok : ExitCode.failed;
  },
};
