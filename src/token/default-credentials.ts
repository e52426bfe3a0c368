import type { AwsCredentialIdentityProvider } from '@smithy/types';

let shared: AwsCredentialIdentityProvider | undefined;

/**
 * The Node provider chain (environment, SSO, ~/.aws, web identity, ECS, EC2), one per process and
 * imported on first use: creating a pool stays cheap at a Lambda cold start, the SDK memoises the
 * credentials, and pools on the default credentials that share a TokenCache share its tokens too
 * (the cache keys on the provider's identity).
 */
export function defaultCredentials(): AwsCredentialIdentityProvider {
  if (shared === undefined) {
    let provider: Promise<AwsCredentialIdentityProvider> | undefined;
    shared = async (properties) => {
      provider ??= import('@aws-sdk/credential-provider-node').then((m) => m.defaultProvider());
      return (await provider)(properties);
    };
  }
  return shared;
}
