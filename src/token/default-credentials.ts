import type { AwsCredentialIdentityProvider } from '@smithy/types';

/**
 * The Node provider chain (environment, SSO, ~/.aws, web identity, ECS, EC2), imported on first
 * use: creating a pool stays cheap at a Lambda cold start, and the SDK memoises the credentials.
 */
export function lazyNodeProviderChain(): AwsCredentialIdentityProvider {
  let provider: Promise<AwsCredentialIdentityProvider> | undefined;
  return async (properties) => {
    provider ??= import('@aws-sdk/credential-provider-node').then((m) => m.defaultProvider());
    return (await provider)(properties);
  };
}
