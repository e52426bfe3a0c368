/**
 * What `cacheHits` counts, as docs/configuration.md ("Token cache") states it: requests that did not
 * sign a token themselves, whether they found one cached or shared a signing another request had
 * started. So `tokensSigned + cacheHits` is the number of requests that got a token.
 */
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { describe, expect, it } from 'vitest';
import { TokenCache } from '../../src/token/cache.js';

const key = { accessKeyId: 'AKIDUNITTEST', secretAccessKey: 'unit-test-secret' };
const request = (credentials: AwsCredentialIdentityProvider) => ({
  hostname: 'db.abc.us-east-1.rds.amazonaws.com',
  port: 3306,
  username: 'app',
  region: 'us-east-1',
  credentials,
});

describe('TokenCache cacheHits', () => {
  it('counts requests made after the signing finished: 1 signed, 3 hits', async () => {
    const cache = new TokenCache();
    const provider: AwsCredentialIdentityProvider = async () => key;
    for (let i = 0; i < 4; i++) await cache.getToken(request(provider));
    expect(cache.stats()).toMatchObject({ tokensSigned: 1, cacheHits: 3 });
  });

  it('counts requests that shared the signing in progress: 1 signed, 3 hits', async () => {
    const cache = new TokenCache();
    let release = () => {};
    const slowProvider: AwsCredentialIdentityProvider = () =>
      new Promise((resolve) => {
        release = () => resolve(key);
      });
    const pending = Array.from({ length: 4 }, () => cache.getToken(request(slowProvider)));
    await new Promise((resolve) => setImmediate(resolve)); // all four are waiting for the one signing
    release();
    const tokens = await Promise.all(pending);
    expect(new Set(tokens).size).toBe(1);
    expect(cache.stats()).toMatchObject({ tokensSigned: 1, credentialRequests: 1, cacheHits: 3 });
    await cache.getToken(request(slowProvider));
    expect(cache.stats()).toMatchObject({ tokensSigned: 1, cacheHits: 4 });
  });
});
