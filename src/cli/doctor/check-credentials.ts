import { TokenCache, type TokenSignedInfo } from '../../index.js';
import { describeCredentials, effectiveProfile, nodeCredentialChain } from '../shared/credentials.js';
import { safeMessage } from '../shared/failures.js';
import { withTimeout } from '../shared/timeout.js';
import { fail, pass, type StepOutcome, warn } from './report.js';
import type { DoctorState } from './state.js';

const MINUTE_MS = 60_000;
/** RDS accepts an IAM token for 15 minutes after it was signed. */
const TOKEN_LIFETIME_MS = 15 * MINUTE_MS;

/** Asks the SDK's Node credential chain for credentials and reports where they came from. */
export async function checkCredentials(state: DoctorState): Promise<StepOutcome> {
  const { input } = state;
  const profile = effectiveProfile(input.profile, input.env);
  const provider = nodeCredentialChain(input.profile);
  let credentials: Awaited<ReturnType<typeof provider>>;
  try {
    credentials = await withTimeout(provider(), input.timeoutMs, 'The AWS credential chain');
  } catch (err) {
    const message = safeMessage(err);
    return fail(
      `no AWS credentials: ${message}`,
      [
        'tried, in order: environment variables, IAM Identity Center (SSO), ~/.aws/credentials and ~/.aws/config' +
          `${profile === undefined ? '' : ` (profile ${profile})`}, credential_process, web identity token file, ` +
          'container credentials (ECS / EKS Pod Identity), EC2 instance metadata',
      ],
      /sso|token/i.test(message)
        ? `Sign in again: aws sso login${profile === undefined ? '' : ` --profile ${profile}`}.`
        : 'Export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys), ' +
            'configure a profile and pass --profile, or run where a role is attached.',
    );
  }
  state.credentials = credentials;
  const facts = describeCredentials(credentials, profile);
  state.credentialFacts = facts;

  const now = Date.now();
  const from = `${facts.source}${profile === undefined ? '' : ` (profile ${profile})`}`;
  const kind = facts.temporary ? 'temporary (session token)' : 'long-term access key';
  const details = [`access key ${facts.accessKeyId}, ${kind}`];
  if (facts.accountId !== undefined) details.push(`account ${facts.accountId}`);
  if (profile !== undefined && input.env.AWS_ACCESS_KEY_ID) {
    details.push(
      'AWS_ACCESS_KEY_ID is set too, but with a profile the SDK uses the profile, not those variables',
    );
  }

  if (facts.expiration === undefined) {
    details.push(facts.temporary ? 'expiry not reported by the provider' : 'no expiry');
    return pass(`from ${from}`, details);
  }
  const expiresAt = facts.expiration.getTime();
  details.push(`expiry ${facts.expiration.toISOString()}`);
  if (expiresAt <= now) {
    return fail(
      `the credentials from ${from} expired at ${facts.expiration.toISOString()} (${minutes(now - expiresAt)} ago by this machine's clock)`,
      details,
      'Refresh them: aws sso login, assume the role again, or export fresh values. RDS refuses a token signed ' +
        "with expired credentials. If they should still be valid, check this machine's clock.",
    );
  }
  if (expiresAt - now < TOKEN_LIFETIME_MS) {
    return warn(
      `from ${from}, but they expire in ${minutes(expiresAt - now)}`,
      details,
      'A token stops working when the credentials that signed it expire; refresh them soon (rds-iam-pool pools do so automatically).',
    );
  }
  return pass(`from ${from}, valid for ${minutes(expiresAt - now)} more`, details);
}

/**
 * Signs the token the login will use, in a cache the login step then takes it from (so the login
 * sends exactly this token, as a pool would); the token itself is never printed.
 */
export async function checkToken(state: DoctorState): Promise<StepOutcome> {
  const endpoint = state.endpoint!;
  const credentials = state.credentials!;
  let signed: TokenSignedInfo | undefined;
  const tokens = new TokenCache({
    onSigned: (info) => {
      signed = info;
    },
  });
  const provider = async () => credentials;
  try {
    await tokens.getToken({
      hostname: endpoint.hostname,
      port: endpoint.port,
      username: endpoint.username,
      region: endpoint.region,
      credentials: provider,
    });
  } catch (err) {
    return fail(
      `signing failed: ${safeMessage(err)}`,
      [],
      'Check the region and that the credentials are complete (access key id and secret key).',
    );
  }
  if (signed === undefined) return fail('signing produced no token', [], 'Report this as a bug.');
  state.signing = { tokens, credentials: provider };
  state.tokenSignedAt = signed.signedAt;
  state.tokenExpiresAt = signed.expiresAt;
  return pass(
    `signed for ${endpoint.username}@${endpoint.hostname}:${endpoint.port} in ${endpoint.region} (service rds-db); not shown`,
    [
      `X-Amz-Date ${signed.signedAt.toISOString()} (this machine's clock), usable until ${signed.expiresAt.toISOString()}`,
      ...(credentials.sessionToken ? ['carries the session token (X-Amz-Security-Token)'] : []),
    ],
  );
}

function minutes(ms: number): string {
  const m = Math.round(ms / MINUTE_MS);
  if (m < 1) return 'less than a minute';
  if (m < 120) return `${m} min`;
  return `${Math.round(m / 60)} h`;
}
