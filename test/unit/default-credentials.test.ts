/**
 * The default credentials read the environment as the SDK's Node chain does, so skipping the
 * chain's import when the environment has credentials changes nothing but the cold start.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultCredentials, environmentCredentials } from '../../src/token/default-credentials.js';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

/** The SDK chain's answer for `env`, without the fields it adds for its own telemetry. */
async function sdkAnswer(env: Record<string, string>) {
  process.env = { ...env, AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' };
  const { $source: _ignored, ...credentials } = (await defaultProvider()()) as unknown as Record<
    string,
    unknown
  >;
  return credentials;
}

describe('credentials from the environment', () => {
  it.each<[string, Record<string, string>]>([
    ['a long-term key', { AWS_ACCESS_KEY_ID: 'AKIAENVTEST00000001', AWS_SECRET_ACCESS_KEY: 'secret-1' }],
    [
      'Lambda temporary credentials',
      {
        AWS_ACCESS_KEY_ID: 'ASIAENVTEST00000002',
        AWS_SECRET_ACCESS_KEY: 'secret-2',
        AWS_SESSION_TOKEN: 'session-2',
      },
    ],
    [
      'an expiry, scope and account',
      {
        AWS_ACCESS_KEY_ID: 'ASIAENVTEST00000003',
        AWS_SECRET_ACCESS_KEY: 'secret-3',
        AWS_SESSION_TOKEN: 'session-3',
        AWS_CREDENTIAL_EXPIRATION: '2030-01-01T00:00:00Z',
        AWS_CREDENTIAL_SCOPE: 'eu-west-1',
        AWS_ACCOUNT_ID: '123456789012',
      },
    ],
  ])('match the SDK chain for %s', async (_name, env) => {
    expect(environmentCredentials(env)).toEqual(await sdkAnswer(env));
  });

  it('defer to the SDK chain when a profile is named or a key is missing', () => {
    expect(
      environmentCredentials({ AWS_PROFILE: 'dev', AWS_ACCESS_KEY_ID: 'A', AWS_SECRET_ACCESS_KEY: 'S' }),
    ).toBe(undefined);
    expect(environmentCredentials({ AWS_ACCESS_KEY_ID: 'A' })).toBeUndefined();
    expect(environmentCredentials({ AWS_SECRET_ACCESS_KEY: 'S' })).toBeUndefined();
  });

  it('are read on each call, by the one default provider of the process', async () => {
    expect(defaultCredentials()).toBe(defaultCredentials());
    process.env = { AWS_ACCESS_KEY_ID: 'AKIAENVTEST00000004', AWS_SECRET_ACCESS_KEY: 'secret-4' };
    expect(await defaultCredentials()()).toEqual({
      accessKeyId: 'AKIAENVTEST00000004',
      secretAccessKey: 'secret-4',
    });
    process.env = { AWS_ACCESS_KEY_ID: 'AKIAENVTEST00000005', AWS_SECRET_ACCESS_KEY: 'secret-5' };
    expect((await defaultCredentials()()).accessKeyId).toBe('AKIAENVTEST00000005');
  });
});
