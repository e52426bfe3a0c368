import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createIamConnectionOptions,
  DIAGNOSTICS_CHANNELS,
  IamOptionsError,
  TokenCache,
  type TokenSignedInfo,
} from '../../src/index.js';
import { createEmulatorFixture, type EmulatorFixture, TEST_KEY } from '../helpers/emulator-harness.js';
import { countingCredentials, iamOptionsFor, poolFor } from '../helpers/pool-fixture.js';

let fx: EmulatorFixture;
beforeAll(async () => {
  fx = await createEmulatorFixture({ name: 'shared_cache' });
});
afterAll(async () => {
  await fx?.teardown();
});

/** Messages published on the token-signed channel while `run` runs. */
async function published(run: () => Promise<void>): Promise<TokenSignedInfo[]> {
  const messages: TokenSignedInfo[] = [];
  const listener = (message: unknown) => messages.push(message as TokenSignedInfo);
  subscribe(DIAGNOSTICS_CHANNELS.tokenSigned, listener);
  try {
    await run();
  } finally {
    unsubscribe(DIAGNOSTICS_CHANNELS.tokenSigned, listener);
  }
  return messages;
}

describe('a TokenCache shared by two pools', () => {
  it('tells both pools of each signing and publishes it once on the diagnostics channel', async () => {
    const cache = new TokenCache();
    const credentials = countingCredentials();
    const a = poolFor(fx, { credentials, token: { cache } });
    const b = poolFor(fx, { credentials, token: { cache } });
    const heard = { a: 0, b: 0 };
    a.iam.on('tokenSigned', () => heard.a++);
    b.iam.on('tokenSigned', () => heard.b++);
    try {
      const messages = await published(async () => {
        await Promise.all([a.query('SELECT 1'), b.query('SELECT 1')]);
      });
      expect(messages).toHaveLength(1);
      expect(heard).toEqual({ a: 1, b: 1 });
      expect(credentials.calls).toBe(1);
      expect(a.iam.stats().tokensSigned).toBe(1);
      expect(b.iam.stats().tokensSigned).toBe(1);
      // The login that started the signing counts no hit; the other shared it.
      expect(a.iam.stats().cacheHits + b.iam.stats().cacheHits).toBe(1);
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it('signs once for two pools on the default credentials (one provider per process)', async () => {
    const saved = { ...process.env };
    process.env.AWS_ACCESS_KEY_ID = TEST_KEY.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = TEST_KEY.secretAccessKey;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    const cache = new TokenCache();
    const a = poolFor(fx, { credentials: undefined, token: { cache } });
    const b = poolFor(fx, { credentials: undefined, token: { cache } });
    try {
      await a.query('SELECT 1');
      await b.query('SELECT 1');
      expect(cache.stats().tokensSigned).toBe(1);
      expect(b.iam.stats()).toMatchObject({ tokensSigned: 1, cacheHits: 1 });
    } finally {
      await Promise.all([a.end(), b.end()]);
      process.env = saved;
    }
  });

  it('stops telling a pool of signings once it has ended', async () => {
    const cache = new TokenCache();
    const credentials = countingCredentials();
    const ended = poolFor(fx, { credentials, token: { cache } });
    await ended.query('SELECT 1');
    await ended.end();
    let heard = 0;
    ended.iam.on('tokenSigned', () => heard++);
    cache.clear();
    const live = poolFor(fx, { credentials, token: { cache } });
    try {
      await live.query('SELECT 1');
      expect(live.iam.stats().tokensSigned).toBe(1);
      expect(heard).toBe(0);
    } finally {
      await live.end();
    }
  });

  it('refuses token.refreshBeforeExpiryMs beside token.cache instead of ignoring it', () => {
    expect(() => poolFor(fx, { token: { cache: new TokenCache(), refreshBeforeExpiryMs: 60_000 } })).toThrow(
      IamOptionsError,
    );
    expect(() => poolFor(fx, { token: { cache: new TokenCache(), refreshBeforeExpiryMs: 60_000 } })).toThrow(
      'token.refreshBeforeExpiryMs',
    );
  });
});

describe('createIamConnectionOptions', () => {
  it('publishes its signings on the diagnostics channel and reports the token times', async () => {
    const options = createIamConnectionOptions(iamOptionsFor(fx));
    expect(options.iam.token()).toBeUndefined();
    const messages = await published(async () => {
      const connection = await mysql.createConnection(options);
      await connection.end();
    });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ hostname: fx.emulator.host, username: 'iam_app' });
    const times = options.iam.token();
    expect(times?.signedAt).toEqual(messages[0]?.signedAt);
    expect(times?.expiresAt.getTime()).toBe((messages[0]?.signedAt.getTime() ?? 0) + 15 * 60_000);
    expect(times?.limitedByCredentials).toBe(false);
    expect(JSON.stringify(times)).not.toContain('X-Amz');
  });
});
