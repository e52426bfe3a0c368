/**
 * IamLogin, the login identity a pool (or a set of connection options) owns: the token for each
 * host it logs in to, counts and events, a refusal dropping exactly the token it sent, and a shared
 * cache reporting to every identity on it until it closes. Fake credentials and clock; no sockets.
 */
import { describe, expect, it } from 'vitest';
import type { TokenSignedInfo } from '../../src/diagnostics.js';
import { IamLogin } from '../../src/login/login.js';
import { resolveOptions } from '../../src/options.js';
import { TokenCache } from '../../src/token/cache.js';

const credentials = async () => ({ accessKeyId: 'AKIDUNITTEST', secretAccessKey: 'unit-test-secret' });
const HOST = 'orders.cluster-abc123.us-east-1.rds.amazonaws.com';
const INSTANCE = 'orders-2.abc123.us-east-1.rds.amazonaws.com';

function login(cache?: TokenCache) {
  return new IamLogin(
    resolveOptions({ host: HOST, user: 'app_iam', credentials, ...(cache ? { token: { cache } } : {}) }),
  );
}

describe('IamLogin', () => {
  it('signs one token per host it logs in to, and counts cache hits', async () => {
    const identity = login();
    const hooks = identity.hooks();
    const first = await hooks.token(HOST);
    const again = await hooks.token(HOST);
    const instance = await hooks.token(INSTANCE);
    expect(again.token).toBe(first.token);
    expect(instance.token).not.toBe(first.token);
    expect(instance.token.startsWith(`${INSTANCE}:3306/?`)).toBe(true);
    expect(identity.stats()).toMatchObject({ tokensSigned: 2, cacheHits: 1 });
  });

  it('a refused login drops the token it sent, and only that one', async () => {
    const identity = login();
    const hooks = identity.hooks();
    const refusedEvents: unknown[] = [];
    identity.handle.on('loginRefused', (e) => refusedEvents.push(e));
    const { signedAt } = await hooks.token(HOST);
    hooks.refused(HOST, signedAt - 1, { errno: 1045 }); // an older token: nothing to drop
    expect((await hooks.token(HOST)).signedAt).toBe(signedAt);
    hooks.refused(HOST, signedAt, { errno: 1045, code: 'ER_ACCESS_DENIED_ERROR' });
    expect(identity.tokenTimes()).toBeUndefined();
    expect(identity.stats()).toMatchObject({ loginsRefused: 2 });
    expect(refusedEvents).toEqual([{ errno: 1045 }, { errno: 1045, code: 'ER_ACCESS_DENIED_ERROR' }]);
  });

  it('hears of the signings of its tokens made by another identity on a shared cache, until it closes', async () => {
    const cache = new TokenCache();
    const writer = login(cache);
    const reader = login(cache);
    const heard: TokenSignedInfo[] = [];
    reader.handle.on('tokenSigned', (info) => heard.push(info));
    await writer.hooks().token(HOST);
    expect(heard.map((i) => i.hostname)).toEqual([HOST]);
    expect(reader.stats().tokensSigned).toBe(1);
    reader.close();
    writer.invalidateToken();
    await writer.hooks().token(HOST);
    expect(heard).toHaveLength(1);
    expect(writer.stats().tokensSigned).toBe(2);
  });

  it('counts logins the server accepted, and extends its stats with what a pool adds', () => {
    const identity = login();
    identity.hooks().succeeded();
    identity.handle.extendStats(() => ({ connectionsRetired: 3 }));
    expect(identity.handle.stats()).toMatchObject({ connectionsOpened: 1, connectionsRetired: 3 });
  });
});
