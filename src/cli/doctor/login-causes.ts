import {
  IamAuthError,
  IamConnectError,
  IamLoginError,
  IamTlsError,
  IamUnsupportedAuthPluginError,
} from '../../index.js';
import { dbUserArn } from '../shared/arn.js';
import type { CredentialFacts } from '../shared/credentials.js';
import type { Endpoint } from '../shared/endpoint.js';
import { safeMessage } from '../shared/failures.js';
import { type Cause, fail, type StepOutcome } from './report.js';

/** What the doctor knows when a login fails: the error and what it observed on the way. */
export interface LoginFailure {
  /** The error after `toIamError` (an IamAuthError subclass, or mysql2's own for anything else). */
  error: unknown;
  /** Whether the server asked for the token and got it (it is asked for only after verified TLS). */
  tokenSent: boolean;
  endpoint: Endpoint;
  database: string | undefined;
  credentials: CredentialFacts | undefined;
  tokenSignedAt: Date | undefined;
}

const SERVER_SIDE_REASON =
  'RDS tells the client only "Access denied"; the server\'s own reason is in the instance\'s ' +
  'iam-db-auth-error log (enable that log export). Work through the causes in order.';

/**
 * Turns a failed IAM login into a report: which cause the evidence points to (region in the host name,
 * whether the server even asked for the token, the server's plugin request, credentials without a known
 * expiry...), then the rest of the RDS IAM checklist, most likely first.
 */
export function explainLoginFailure(failure: LoginFailure): StepOutcome {
  const { error, endpoint } = failure;
  const user = endpoint.username;
  const message = safeMessage(error);

  if (error instanceof IamUnsupportedAuthPluginError) {
    return fail(
      `the server asked for ${error.plugin}, not for an IAM token; no token was sent`,
      [message],
      error.hint,
      [
        userNotIam(
          user,
          true,
          `the server treats ${user} as a password user (or as unknown: MySQL asks unknown users for its default plugin)`,
        ),
      ],
    );
  }
  if (error instanceof IamLoginError && error.code === 'RDS_IAM_PLUGIN_NOT_ENABLED') {
    return fail(message, [], error.hint, [iamAuthDisabled(true)]);
  }
  if (error instanceof IamLoginError && error.code === 'RDS_IAM_PERMISSION_DENIED') {
    return fail(message, [], error.hint, [databaseAccess(user, failure.database, true)]);
  }
  if ((error as { errno?: number }).errno === 1049) {
    return fail(`logged in, but ${message}`, [], 'Check --database: it does not exist on this server.', [
      databaseAccess(user, failure.database, true),
    ]);
  }
  if (error instanceof IamTlsError) {
    return fail(message, [], error.hint);
  }
  if (error instanceof IamConnectError) {
    return fail(message, [], error.hint);
  }
  if (error instanceof IamLoginError) {
    return accessDenied(failure, message);
  }
  return fail(
    `login failed: ${message}`,
    [],
    error instanceof IamAuthError
      ? error.hint
      : 'See the message; run with the same flags again to rule out a transient failure.',
  );
}

function accessDenied(failure: LoginFailure, message: string): StepOutcome {
  const { endpoint } = failure;
  const user = endpoint.username;
  // The server's own words ("Access denied for user ..."), without our "IAM login to ... was refused" prefix.
  const serverSays = safeMessage((failure.error as { cause?: unknown }).cause ?? message);

  const refused = refusedAccount(serverSays);
  if (refused !== undefined && refused.user !== user) {
    return backendLoginFailed(user, refused, serverSays, failure.endpoint);
  }

  if (!failure.tokenSent) {
    return fail(
      `the server refused ${user} before asking for the token: ${serverSays}`,
      [
        'a user identified WITH AWSAuthenticationPlugin is always asked for the token (mysql_clear_password); this one was not',
      ],
      `Create the user for IAM: rds-iam-pool setup-sql --user ${user}, run as the master user.`,
      [
        userNotIam(
          user,
          true,
          `${user} does not exist on the server, or is not identified WITH AWSAuthenticationPlugin: it was refused without being asked for a token`,
        ),
      ],
    );
  }

  const causes = accessDeniedCauses(failure);
  causes.sort((a, b) => Number(b.detected) - Number(a.detected));
  return fail(`the server refused the IAM login: ${serverSays}`, [], SERVER_SIDE_REASON, causes);
}

/** What can make RDS refuse a token that was sent, those this run could detect marked so. */
function accessDeniedCauses(failure: LoginFailure): Cause[] {
  const { endpoint, credentials } = failure;
  const user = endpoint.username;
  const causes: Cause[] = [];
  if (!endpoint.rdsName) {
    causes.push({
      id: 'wrong-host',
      detected: true,
      message: `the token names ${endpoint.hostname}, which is not an RDS endpoint name`,
      fix: 'Sign for the endpoint itself: pass it as --hostname and this name or address as --connect-host.',
    });
  }
  causes.push(
    userNotIam(
      user,
      false,
      `${user} may not exist, or not be identified WITH AWSAuthenticationPlugin (the name is case-sensitive)`,
    ),
  );
  causes.push({
    id: 'policy',
    detected: false,
    message:
      `the AWS identity (access key ${credentials?.accessKeyId ?? 'unknown'} from ${credentials?.source ?? 'the credential chain'}) ` +
      `may lack rds-db:connect on ${policyArn(endpoint, credentials)}`,
    fix:
      `rds-iam-pool policy --region ${endpoint.region} --account ${credentials?.accountId ?? 'ACCOUNT'} --resource-id db-XXXX --user ${user} ` +
      'prints the policy. The resource must use the DbiResourceId (db-...) or cluster resource id (cluster-...), ' +
      'not the instance name, and exactly this user name; allow a minute after changing a policy.',
  });
  if (credentials?.temporary && credentials.expiration === undefined) {
    causes.push({
      id: 'credentials-expired',
      detected: false,
      message: 'the temporary credentials (session token) may have expired; their provider does not say when',
      fix: 'Refresh them (aws sso login, assume the role again, or export fresh values) and run the doctor again.',
    });
  }
  if (endpoint.port !== 3306) {
    causes.push({
      id: 'wrong-port',
      detected: false,
      message: `the token names port ${endpoint.port}; it must be the instance's port, not a tunnel's local port`,
      fix: '--port is the endpoint port (3306 unless changed); the tunnel port goes in --connect-port.',
    });
  }
  causes.push({
    id: 'clock-skew',
    detected: false,
    message:
      `the token is dated ${failure.tokenSignedAt?.toISOString() ?? 'now'} by this machine's clock; ` +
      'if that is more than a few minutes off, RDS sees it as expired or not yet valid',
    fix: 'Compare with the real time (date -u) and sync the clock (NTP / chrony).',
  });
  causes.push(iamAuthDisabled(false));
  return causes;
}

/** The account named in MySQL's "Access denied for user 'USER'@'HOST'" (the server's wording). */
function refusedAccount(serverSays: string): { user: string; host: string } | undefined {
  const match = /Access denied for user '([^']*)'@'([^']*)'/.exec(serverSays);
  return match ? { user: match[1] ?? '', host: match[2] ?? '' } : undefined;
}

/**
 * The refusal names another account than the IAM user: something between us and the database (the
 * local emulator, a proxy) accepted the IAM login and logged in to the real server as that account,
 * and the real server refused it. Nothing about IAM (token, policy, clock) is in question.
 */
function backendLoginFailed(
  user: string,
  refused: { user: string; host: string },
  serverSays: string,
  endpoint: Endpoint,
): StepOutcome {
  const account = `'${refused.user}'@'${refused.host}'`;
  const via = endpoint.connectHost ?? endpoint.hostname;
  return fail(
    `the refusal names ${account}, not ${user}: ${serverSays}`,
    [
      `${user} is not the account refused: whatever answers on ${via} (the local RDS IAM emulator, a proxy) ` +
        `logs in to the database as ${refused.user} for ${user}, and the database refused that login`,
    ],
    `Check the account the emulator or proxy logs in with: that ${refused.user} exists on the database server with that ` +
      'password (rds-iam-pool emulator --backend mysql://USER:PASSWORD@HOST:PORT, or the users option of startEmulator).',
    [
      {
        id: 'backend-login',
        detected: true,
        message: `the database refused ${account}, the account ${user} is mapped to, not the IAM login itself`,
        fix: `Fix the backend credentials for ${refused.user}; the token, the IAM policy and the clock are not in question.`,
      },
    ],
  );
}

function policyArn(endpoint: Endpoint, credentials: CredentialFacts | undefined): string {
  return dbUserArn(
    endpoint.region,
    credentials?.accountId ?? '<account>',
    '<DbiResourceId>',
    endpoint.username,
  );
}

function userNotIam(user: string, detected: boolean, message: string): Cause {
  return {
    id: 'user-not-iam',
    detected,
    message,
    fix:
      `Run the output of rds-iam-pool setup-sql --user ${user} as the master user; check with ` +
      `SELECT user, host, plugin FROM mysql.user WHERE user = '${user}' (plugin must be AWSAuthenticationPlugin).`,
  };
}

function iamAuthDisabled(detected: boolean): Cause {
  return {
    id: 'iam-auth-disabled',
    detected,
    message: 'IAM database authentication is not enabled on the instance or cluster',
    fix:
      'aws rds modify-db-instance --db-instance-identifier NAME --enable-iam-database-authentication --apply-immediately ' +
      '(modify-db-cluster for Aurora), then wait until the instance is available.',
  };
}

function databaseAccess(user: string, database: string | undefined, detected: boolean): Cause {
  return {
    id: 'database-access',
    detected,
    message: `${user} logged in but cannot use database ${database ?? '(none)'}`,
    fix: `Check the name, and GRANT ${user} what it needs on it (rds-iam-pool setup-sql --user ${user} --database ${database ?? 'DB'}).`,
  };
}
