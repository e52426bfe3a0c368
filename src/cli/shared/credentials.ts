import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/**
 * The AWS SDK's Node credential chain (environment, SSO, shared files, credential_process, web
 * identity, ECS/EKS container credentials, EC2 instance metadata), as `aws` and the SDKs use it.
 * Imported on first use so that `setup-sql`, `policy` and `--help` never load it.
 */
export function nodeCredentialChain(profile: string | undefined): AwsCredentialIdentityProvider {
  let provider: Promise<AwsCredentialIdentityProvider> | undefined;
  return async (properties) => {
    provider ??= import('@aws-sdk/credential-provider-node').then((m) =>
      m.defaultProvider(profile === undefined ? {} : { profile }),
    );
    return (await provider)(properties);
  };
}

/**
 * Names for the SDK's credential feature ids: providers in @aws-sdk/credential-provider-* record
 * where credentials came from in `credentials.$source` (for the user agent); we use it to say which
 * provider answered.
 */
const SOURCE_NAMES: Record<string, string> = {
  CREDENTIALS_CODE: 'credentials passed in code',
  CREDENTIALS_ENV_VARS: 'environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)',
  CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN:
    'web identity token file (AWS_WEB_IDENTITY_TOKEN_FILE, e.g. EKS IRSA)',
  CREDENTIALS_STS_ASSUME_ROLE: 'STS AssumeRole',
  CREDENTIALS_STS_ASSUME_ROLE_SAML: 'STS AssumeRoleWithSAML',
  CREDENTIALS_STS_ASSUME_ROLE_WEB_ID: 'STS AssumeRoleWithWebIdentity',
  CREDENTIALS_STS_FEDERATION_TOKEN: 'STS GetFederationToken',
  CREDENTIALS_STS_SESSION_TOKEN: 'STS GetSessionToken',
  CREDENTIALS_PROFILE: 'shared config/credentials file',
  CREDENTIALS_PROFILE_SOURCE_PROFILE: 'profile source_profile',
  CREDENTIALS_PROFILE_NAMED_PROVIDER: 'profile credential_source',
  CREDENTIALS_PROFILE_STS_WEB_ID_TOKEN: 'profile web_identity_token_file',
  CREDENTIALS_PROFILE_SSO: 'IAM Identity Center (SSO) profile',
  CREDENTIALS_SSO: 'IAM Identity Center (SSO)',
  CREDENTIALS_PROFILE_SSO_LEGACY: 'IAM Identity Center (SSO) profile, legacy format',
  CREDENTIALS_SSO_LEGACY: 'IAM Identity Center (SSO), legacy format',
  CREDENTIALS_PROFILE_PROCESS: 'profile credential_process',
  CREDENTIALS_PROCESS: 'credential_process',
  CREDENTIALS_HTTP: 'container credentials endpoint (ECS task role, EKS Pod Identity)',
  CREDENTIALS_IMDS: 'EC2 instance metadata (instance profile role)',
  CREDENTIALS_PROFILE_LOGIN: 'aws login profile',
  CREDENTIALS_LOGIN: 'aws login session',
};

/** Facts about credentials that are safe to print: never the secret key or the session token. */
export interface CredentialFacts {
  /** Which provider answered, in words; "unknown provider" when the SDK did not say. */
  source: string;
  /** The SDK's feature ids, e.g. ["CREDENTIALS_PROFILE", "CREDENTIALS_STS_ASSUME_ROLE"]. */
  sourceIds: string[];
  /** The profile the chain was asked for (--profile or AWS_PROFILE), if any. */
  profile: string | undefined;
  /** First and last four characters only. */
  accessKeyId: string;
  /** Temporary credentials carry a session token; long-term access keys (AKIA...) do not. */
  temporary: boolean;
  expiration: Date | undefined;
  accountId: string | undefined;
}

export function describeCredentials(
  credentials: AwsCredentialIdentity,
  profile: string | undefined,
): CredentialFacts {
  const sourceIds = Object.keys((credentials as { $source?: Record<string, string> }).$source ?? {});
  const named = sourceIds.map((id) => SOURCE_NAMES[id] ?? id);
  return {
    source: named.length > 0 ? named.join(' via ') : 'unknown provider',
    sourceIds,
    profile,
    accessKeyId: maskAccessKeyId(credentials.accessKeyId),
    temporary: typeof credentials.sessionToken === 'string' && credentials.sessionToken !== '',
    expiration: credentials.expiration,
    accountId: (credentials as { accountId?: string }).accountId,
  };
}

/** `AKIA****0001`: enough to tell keys apart and see whether they are long-term (AKIA) or temporary (ASIA). */
export function maskAccessKeyId(id: string): string {
  return id.length <= 8 ? '****' : `${id.slice(0, 4)}****${id.slice(-4)}`;
}

/** The profile the SDK chain will use: --profile, else AWS_PROFILE. */
export function effectiveProfile(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  return flag ?? (env.AWS_PROFILE?.trim() || undefined);
}
