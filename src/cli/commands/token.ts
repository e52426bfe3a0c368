import { IamOptionsError, TokenCache } from '../../index.js';
import type { Flags } from '../shared/args.js';
import { describeCredentials, effectiveProfile, nodeCredentialChain } from '../shared/credentials.js';
import { describeOptionError, resolveEndpoint } from '../shared/endpoint.js';
import { CommandFailure, ExitCode, safeMessage, UsageError } from '../shared/failures.js';
import { withTimeout } from '../shared/timeout.js';
import type { Command } from './command.js';

const CREDENTIALS_TIMEOUT_MS = 30_000;

export const tokenCommand: Command = {
  spec: {
    name: 'token',
    summary: 'print an IAM auth token (like `aws rds generate-db-auth-token`) for the mysql client',
    usage: 'token --hostname HOST --username USER [--port PORT] [--region REGION] [--profile NAME] [--json]',
    description: [
      'Signs a token for HOST:PORT, USER and REGION with the AWS SDK credential chain (environment, ' +
        'SSO, ~/.aws files, credential_process, web identity, container and instance roles) and prints it ' +
        'on stdout. A token is valid for 15 minutes (less if the credentials expire sooner) and only for ' +
        'logins that start in that time; sessions already open are not affected by its expiry.',
      'The region defaults to the one in the RDS host name, then AWS_REGION / AWS_DEFAULT_REGION. The ' +
        'token is a password: pass it straight to the client, do not log it.',
    ],
    flags: {
      hostname: { type: 'string', value: 'HOST', description: 'The RDS / Aurora / RDS Proxy endpoint name.' },
      port: {
        type: 'string',
        value: 'PORT',
        description: 'The endpoint port the token names. Default 3306.',
      },
      username: {
        type: 'string',
        value: 'USER',
        description: 'The database user (created WITH AWSAuthenticationPlugin).',
      },
      region: {
        type: 'string',
        value: 'REGION',
        description: 'Signing region. Default: from the host name.',
      },
      profile: {
        type: 'string',
        value: 'NAME',
        description: 'AWS profile to take credentials from (default: AWS_PROFILE, then the chain).',
      },
    },
    examples: [
      'mysql -h mydb.abc123.eu-west-1.rds.amazonaws.com -u app_iam --ssl-mode=VERIFY_IDENTITY \\',
      '  --ssl-ca=global-bundle.pem --enable-cleartext-plugin \\',
      '  --password="$(rds-iam-pool token --hostname mydb.abc123.eu-west-1.rds.amazonaws.com --username app_iam)"',
    ],
    failureMeans: 'no usable credentials or signing failed',
  },

  async run({ flags, out, io, json }) {
    const endpoint = tokenEndpoint(flags, io.env);
    const profile = effectiveProfile(flags.string('profile'), io.env);
    const credentials = await currentCredentials(flags.string('profile'));
    const now = Date.now();
    const facts = describeCredentials(credentials, profile);
    if (facts.expiration && facts.expiration.getTime() <= now) {
      throw new CommandFailure(
        `The AWS credentials from ${facts.source} expired at ${facts.expiration.toISOString()}`,
        'Refresh them (aws sso login, re-assume the role, or export fresh values); a token signed with ' +
          'them would be refused.',
      );
    }

    // Signed through the public token cache, exactly as a pool signs; it reports the expiry too.
    let token: string;
    let expiresAt = now;
    try {
      const tokens = new TokenCache({
        clock: () => now,
        onSigned: (info) => {
          expiresAt = info.expiresAt.getTime();
        },
      });
      token = await tokens.getToken({
        hostname: endpoint.hostname,
        port: endpoint.port,
        username: endpoint.username,
        region: endpoint.region,
        credentials: async () => credentials,
      });
    } catch (err) {
      throw new CommandFailure(`Signing the token failed: ${safeMessage(err)}`, undefined, { cause: err });
    }

    if (json) {
      // The token is the one secret this command prints, by design (it is its output).
      out.json({
        token,
        hostname: endpoint.hostname,
        port: endpoint.port,
        username: endpoint.username,
        region: endpoint.region,
        regionSource: endpoint.regionSource,
        expiresAt: new Date(expiresAt).toISOString(),
        credentials: { source: facts.source, accessKeyId: facts.accessKeyId, temporary: facts.temporary },
      });
    } else {
      out.line(token);
    }
    return ExitCode.ok;
  },
};

/** The endpoint the token is signed for, from --hostname, --username, --port and --region. */
function tokenEndpoint(flags: Flags, env: NodeJS.ProcessEnv): ReturnType<typeof resolveEndpoint> {
  const hostname = flags.requiredString('hostname');
  const username = flags.requiredString('username');
  try {
    return resolveEndpoint(
      { hostname, username, port: flags.integer('port', 1, 65535), region: flags.string('region') },
      env,
    );
  } catch (err) {
    if (err instanceof IamOptionsError) {
      const { message, hint } = describeOptionError(err);
      // token has no --connect-host: the client connects wherever it likes, the token names the endpoint.
      throw new UsageError(
        message,
        err.option === 'host'
          ? 'Pass the RDS endpoint name as --hostname; point the mysql client at the IP or tunnel with its own -h.'
          : hint,
      );
    }
    throw err;
  }
}

/** Credentials from the Node provider chain (with --profile), or a failure that says where to get some. */
async function currentCredentials(profile: string | undefined) {
  const provider = nodeCredentialChain(profile);
  try {
    return await withTimeout(provider(), CREDENTIALS_TIMEOUT_MS, 'The AWS credential chain');
  } catch (err) {
    throw new CommandFailure(
      `No AWS credentials: ${safeMessage(err)}`,
      'Export AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, run `aws sso login`, or pass --profile. ' +
        '`rds-iam-pool doctor` shows which sources were tried.',
      { cause: err },
    );
  }
}
