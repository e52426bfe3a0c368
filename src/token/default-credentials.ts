import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

let shared: AwsCredentialIdentityProvider | undefined;

/**
 * The Node provider chain (environment, SSO, ~/.aws, web identity, ECS, EC2), one per process, so
 * pools on the default credentials that share a TokenCache share its tokens too (the cache keys on
 * the provider's identity).
 *
 * Credentials in the environment (as Lambda, ECS task definitions and CI systems provide them) are
 * read here, as the chain's first provider would read them; the SDK's chain is imported only when
 * they are not there. Importing it is a large part of a cold start (it loads `@aws-sdk/core` and
 * most of `@smithy/core`; figures in docs/performance.md), for what is, on Lambda, four environment variables.
 */
export function defaultCredentials(): AwsCredentialIdentityProvider {
  if (shared === undefined) {
    let chain: Promise<AwsCredentialIdentityProvider> | undefined;
    shared = async (properties) => {
      const fromEnvironment = environmentCredentials(process.env);
      if (fromEnvironment !== undefined) return fromEnvironment;
      chain ??= import('@aws-sdk/credential-provider-node').then((m) => m.defaultProvider());
      return (await chain)(properties);
    };
  }
  return shared;
}

/**
 * What `@aws-sdk/credential-provider-node`'s chain returns from the environment: its first provider
 * (`fromEnv`) reads these variables, and is skipped when a profile is named (`AWS_PROFILE`).
 * test/unit/default-credentials.test.ts holds this against the SDK's own chain.
 */
export function environmentCredentials(env: NodeJS.ProcessEnv): AwsCredentialIdentity | undefined {
  if (env.AWS_PROFILE) return undefined;
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  const sessionToken = env.AWS_SESSION_TOKEN;
  const expiry = env.AWS_CREDENTIAL_EXPIRATION;
  const credentialScope = env.AWS_CREDENTIAL_SCOPE;
  const accountId = env.AWS_ACCOUNT_ID;
  return {
    accessKeyId,
    secretAccessKey,
    ...(sessionToken ? { sessionToken } : {}),
    ...(expiry ? { expiration: new Date(expiry) } : {}),
    ...(credentialScope ? { credentialScope } : {}),
    ...(accountId ? { accountId } : {}),
  };
}
