import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { describe, expect, it, vi } from 'vitest';
import type { TokenSignedInfo } from '../../src/diagnostics.js';
import { IamCredentialsError } from '../../src/errors.js';
import { classifyConnectError } from '../../src/retry.js';
import { TokenCache, type TokenRequest } from '../../src/token/cache.js';

const MIN = 60_000;
const T0 = Date.parse('2026-11-26T10:00:00Z');

function fakeClock(start = T0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** A provider that counts calls and can be told to fail. */
function countingProvider(make: (call: number) => AwsCredentialIdentity | Promise<AwsCredentialIdentity>) {
  const calls: Array<Record<string, unknown> | undefined> = [];
  const provider: AwsCredentialIdentityProvider = async (props?: Record<string, unknown>) => {
    calls.push(props);
    return make(calls.length);
  };
  return { provider, calls };
}

const staticKey = { accessKeyId: 'AKIDUNITTEST', secretAccessKey: 'unit-test-secret' };

function request(credentials: AwsCredentialIdentityProvider) {
  return {
    hostname: 'db.abc.us-east-1.rds.amazonaws.com',
    port: 3306,
    username: 'app',
    region: 'us-east-1',
    credentials,
  };
}

function signedDate(token: string): string {
  return new URLSearchParams(token.split('?')[1]).get('X-Amz-Date') ?? '';
}

describe('TokenCache', () => {
  it('shares one signing among concurrent callers and reuses it', async () => {
    const clock = fakeClock();
    const { provider, calls } = countingProvider(() => staticKey);
    const cache = new TokenCache({ clock: clock.now });
    const tokens = await Promise.all(Array.from({ length: 50 }, () => cache.getToken(request(provider))));
    expect(new Set(tokens).size).toBe(1);
    await cache.getToken(request(provider));
    expect(cache.stats()).toMatchObject({ tokensSigned: 1, credentialRequests: 1 });
    expect(calls.length).toBe(1);
    expect(cache.stats().cacheHits).toBeGreaterThanOrEqual(1);
  });

  it('refreshes in the background after the refresh point, handing out the old token meanwhile', async () => {
    const clock = fakeClock();
    const { provider } = countingProvider(() => staticKey);
    const signed: TokenSignedInfo[] = [];
    const cache = new TokenCache({ clock: clock.now, onSigned: (i) => signed.push(i) });
    const first = await cache.getToken(request(provider));
    clock.advance(11 * MIN); // past the 10-minute refresh point, still valid for 4 minutes
    const during = await cache.getToken(request(provider));
    expect(during).toBe(first); // not blocked on the new signing
    const after = await vi.waitFor(async () => {
      const t = await cache.getToken(request(provider));
      expect(t).not.toBe(first);
      return t;
    });
    expect(signedDate(after)).toBe('20261126T101100Z');
    expect(signed).toHaveLength(2);
    expect(signed[0]?.expiresAt.getTime()).toBe(T0 + 15 * MIN);
  });

  it('waits for a new token once the cached one has expired', async () => {
    const clock = fakeClock();
    const { provider } = countingProvider(() => staticKey);
    const cache = new TokenCache({ clock: clock.now });
    const first = await cache.getToken(request(provider));
    clock.advance(16 * MIN);
    const second = await cache.getToken(request(provider));
    expect(second).not.toBe(first);
    expect(signedDate(second)).toBe('20261126T101600Z');
    expect(cache.stats().tokensSigned).toBe(2);
  });

  it('keeps the old token when a background refresh fails, and recovers later', async () => {
    const clock = fakeClock();
    let failing = false;
    const { provider } = countingProvider(() => {
      if (failing) throw new Error('IMDS timed out');
      return staticKey;
    });
    const cache = new TokenCache({ clock: clock.now });
    const first = await cache.getToken(request(provider));
    clock.advance(11 * MIN);
    failing = true;
    expect(await cache.getToken(request(provider))).toBe(first);
    await new Promise((r) => setImmediate(r));
    expect(await cache.getToken(request(provider))).toBe(first);
    failing = false;
    await vi.waitFor(async () => expect(await cache.getToken(request(provider))).not.toBe(first));
  });

  it('does not cache a failed first signing', async () => {
    const clock = fakeClock();
    let fail = true;
    const { provider } = countingProvider(() => {
      if (fail) throw new Error('no credentials');
      return staticKey;
    });
    const cache = new TokenCache({ clock: clock.now });
    await expect(cache.getToken(request(provider))).rejects.toBeInstanceOf(IamCredentialsError);
    fail = false;
    await expect(cache.getToken(request(provider))).resolves.toContain('X-Amz-Signature=');
  });

  it('never lets a token outlive the credentials that signed it', async () => {
    const clock = fakeClock();
    const { provider, calls } = countingProvider((call) => ({
      ...staticKey,
      accessKeyId: `ASIATEMP${call}`,
      sessionToken: `session-${call}`,
      expiration: new Date(clock.now() + 2 * MIN),
    }));
    const signed: TokenSignedInfo[] = [];
    const cache = new TokenCache({ clock: clock.now, onSigned: (i) => signed.push(i) });
    await cache.getToken(request(provider));
    expect(calls[1]).toEqual({ forceRefresh: true }); // asked once more for longer-lived credentials
    expect(signed[0]?.limitedByCredentials).toBe(true);
    expect(signed[0]?.expiresAt.getTime()).toBeLessThanOrEqual(T0 + 2 * MIN);
    clock.advance(2 * MIN + 1);
    await cache.getToken(request(provider));
    expect(signed).toHaveLength(2);
    for (const info of signed)
      expect(info.expiresAt.getTime()).toBeLessThanOrEqual(info.signedAt.getTime() + 2 * MIN);
  });

  it('refuses credentials that have already expired', async () => {
    const clock = fakeClock();
    const { provider } = countingProvider(() => ({ ...staticKey, expiration: new Date(T0 - 1000) }));
    const cache = new TokenCache({ clock: clock.now });
    await expect(cache.getToken(request(provider))).rejects.toMatchObject({
      code: 'RDS_IAM_CREDENTIALS_UNAVAILABLE',
    });
  });

  it('invalidate(signedAt) drops only the token that was refused', async () => {
    const clock = fakeClock();
    const { provider } = countingProvider(() => staticKey);
    const cache = new TokenCache({ clock: clock.now });
    const first = await cache.getSignedToken(request(provider));
    cache.invalidate(request(provider), first.signedAt);
    clock.advance(1000);
    const second = await cache.getSignedToken(request(provider));
    expect(second.token).not.toBe(first.token);
    cache.invalidate(request(provider), first.signedAt); // a late failure with the old token
    expect((await cache.getSignedToken(request(provider))).token).toBe(second.token);
    expect(cache.stats().tokensSigned).toBe(2);
    cache.invalidate(request(provider));
    clock.advance(1000); // SigV4 dates have one-second resolution
    expect((await cache.getSignedToken(request(provider))).token).not.toBe(second.token);
  });

  // Fails on the code before 2026-12: the listener's error failed the signing that every pool
  // sharing the cache was waiting for.
  it('signs for every subscriber although one of them throws, and rethrows that error on its own', async () => {
    const cache = new TokenCache({ clock: fakeClock().now });
    const req = request(countingProvider(() => staticKey).provider);
    const heard: string[] = [];
    cache.subscribe(req, () => {
      throw new Error("a pool's tokenSigned listener");
    });
    cache.subscribe(req, (info) => heard.push(info.hostname));
    // Node's diagnostics_channel does the same: a subscriber's error is thrown on the next tick.
    const rethrown: unknown[] = [];
    const nextTick = vi.spyOn(process, 'nextTick').mockImplementation(((fn: () => void) => {
      try {
        fn();
      } catch (error) {
        rethrown.push(error);
      }
    }) as typeof process.nextTick);
    try {
      expect(await cache.getToken(req)).toContain('X-Amz-Signature=');
    } finally {
      nextTick.mockRestore();
    }
    expect(heard).toEqual([req.hostname]);
    expect(rethrown).toEqual([new Error("a pool's tokenSigned listener")]);
  });

  it('keys tokens by endpoint, user and credential provider', async () => {
    const clock = fakeClock();
    const a = countingProvider(() => staticKey);
    const b = countingProvider(() => ({ ...staticKey, accessKeyId: 'AKIDOTHER' }));
    const cache = new TokenCache({ clock: clock.now });
    await cache.getToken(request(a.provider));
    await cache.getToken(request(b.provider));
    await cache.getToken({ ...request(a.provider), username: 'other' });
    expect(cache.stats().tokensSigned).toBe(3);
  });

  it('shows no token when inspected', async () => {
    const { provider } = countingProvider(() => staticKey);
    const cache = new TokenCache();
    const token = await cache.getToken(request(provider));
    const { inspect } = await import('node:util');
    expect(inspect(cache, { depth: 10, showHidden: true })).not.toContain(token.slice(-30));
  });

  it.each([
    ['new Date(undefined)', new Date(Number.NaN)],
    ['a string', '2026-11-26T10:30:00Z'],
    ['a number', T0 + 30 * MIN],
    ['null', null],
  ])('refuses an expiration given as %s with a typed, retryable error', async (_name, expiration) => {
    const clock = fakeClock();
    const { provider } = countingProvider(() => ({ ...staticKey, expiration }) as AwsCredentialIdentity);
    const cache = new TokenCache({ clock: clock.now });
    const error = await cache.getToken(request(provider)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IamCredentialsError);
    expect((error as Error).message).toMatch(/expiration that is not a valid Date/);
    expect(classifyConnectError(error)).toBe('transient');
  });

  it.each([
    ['invalidate()', (cache: TokenCache, r: TokenRequest) => cache.invalidate(r)],
    ['clear()', (cache: TokenCache) => cache.clear()],
  ])('gives waiters the token of a signing in flight when %s runs meanwhile', async (_name, drop) => {
    let release = () => {};
    const slow: AwsCredentialIdentityProvider = () =>
      new Promise((resolve) => {
        release = () => resolve(staticKey);
      });
    const cache = new TokenCache();
    const waiters = Array.from({ length: 3 }, () => cache.getToken(request(slow)));
    await new Promise((r) => setImmediate(r));
    drop(cache, request(slow));
    release();
    const tokens = await Promise.all(waiters);
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).toContain('X-Amz-Signature=');
  });

  it('gives waiters the new token when the old one is refused while they wait for its replacement', async () => {
    const clock = fakeClock();
    let hold = false;
    let release = () => {};
    const provider: AwsCredentialIdentityProvider = () =>
      hold
        ? new Promise((resolve) => {
            release = () => resolve(staticKey);
          })
        : Promise.resolve(staticKey);
    const cache = new TokenCache({ clock: clock.now });
    const first = await cache.getSignedToken(request(provider));
    clock.advance(16 * MIN); // expired: logins wait for the new signing
    hold = true;
    const waiters = Array.from({ length: 3 }, () => cache.getToken(request(provider)));
    await new Promise((r) => setImmediate(r));
    cache.invalidate(request(provider), first.signedAt); // a login refused with the old token
    release();
    const tokens = await Promise.all(waiters);
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(first.token);
  });
});
