import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { NodeSha256 } from '../../src/emulator/sha256.js';
import { verifyAuthToken } from '../../src/emulator/verify-token.js';
import { signAuthToken } from '../../src/token/sign.js';
import { TEST_KEY } from '../helpers/emulator-harness.js';

const HOST = 'mydb.abc123.us-east-1.rds.amazonaws.com';
const SIGNED_AT = new Date('2024-05-01T12:00:00Z');
const expected = {
  host: HOST,
  port: 3306,
  user: 'iam_app',
  region: 'us-east-1',
  keys: [TEST_KEY],
  now: new Date(SIGNED_AT.getTime() + 60_000),
  skewSeconds: 300,
};

const sign = (o: { expiresIn?: number; signingDate?: Date } = {}) =>
  signAuthToken({
    hostname: HOST,
    port: 3306,
    username: 'iam_app',
    region: 'us-east-1',
    credentials: TEST_KEY,
    signingDate: o.signingDate ?? SIGNED_AT,
    ...(o.expiresIn ? { expiresIn: o.expiresIn } : {}),
  });

/** Signs like sign.ts but lets a test change the service or the query. */
async function forge(service: string, query: Record<string, string>): Promise<string> {
  const signer = new SignatureV4({ service, region: 'us-east-1', credentials: TEST_KEY, sha256: NodeSha256 });
  const p = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname: HOST,
      port: 3306,
      path: '/',
      query,
      headers: { host: `${HOST}:3306` },
    },
    { expiresIn: 900, signingDate: SIGNED_AT },
  );
  const q = Object.entries(p.query ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `${HOST}:3306/?${q}`;
}

describe('verifyAuthToken', () => {
  it('accepts a token from our signer and reports its window', async () => {
    const result = await verifyAuthToken(await sign(), expected);
    expect(result).toMatchObject({ ok: true, accessKeyId: TEST_KEY.accessKeyId, signedAt: SIGNED_AT });
    if (result.ok) expect(result.expiresAt.getTime() - SIGNED_AT.getTime()).toBe(900_000);
  });

  it('accepts the host case-insensitively', async () => {
    const result = await verifyAuthToken(await sign(), { ...expected, host: HOST.toUpperCase() });
    expect(result.ok).toBe(true);
  });

  it.each([
    ['', 'malformed-token'],
    ['not a token', 'malformed-token'],
    [`${HOST}:3306/?Action=connect`, 'malformed-token'],
    [`${HOST}:3306/?%E0%A4%A=1`, 'malformed-token'],
  ])('rejects %j as %s', async (token, reason) => {
    expect(await verifyAuthToken(token, expected)).toEqual({ ok: false, reason });
  });

  it('rejects an X-Amz-Expires outside 1..900', async () => {
    const token = (await sign()).replace('X-Amz-Expires=900', 'X-Amz-Expires=901');
    expect(await verifyAuthToken(token, expected)).toEqual({ ok: false, reason: 'bad-expires' });
    const zero = (await sign()).replace('X-Amz-Expires=900', 'X-Amz-Expires=0');
    expect(await verifyAuthToken(zero, expected)).toEqual({ ok: false, reason: 'bad-expires' });
  });

  it('rejects a shortened expiry that was not signed that way', async () => {
    const token = (await sign()).replace('X-Amz-Expires=900', 'X-Amz-Expires=899');
    expect(await verifyAuthToken(token, expected)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('honours a short expiresIn', async () => {
    const token = await sign({ expiresIn: 30 });
    expect(await verifyAuthToken(token, expected)).toEqual({ ok: false, reason: 'expired' });
  });

  it('rejects a token for another service or action', async () => {
    const wrongService = await forge('rds', { Action: 'connect', DBUser: 'iam_app' });
    expect(await verifyAuthToken(wrongService, expected)).toEqual({ ok: false, reason: 'wrong-service' });
    const wrongAction = await forge('rds-db', { Action: 'disconnect', DBUser: 'iam_app' });
    expect(await verifyAuthToken(wrongAction, expected)).toEqual({ ok: false, reason: 'wrong-action' });
  });

  it('uses the expiry boundary inclusively and the skew boundary exactly', async () => {
    const token = await sign();
    const at = (ms: number) => ({ ...expected, now: new Date(SIGNED_AT.getTime() + ms) });
    expect((await verifyAuthToken(token, at(900_000))).ok).toBe(true);
    expect(await verifyAuthToken(token, at(900_001))).toEqual({ ok: false, reason: 'expired' });
    expect((await verifyAuthToken(token, at(-300_000))).ok).toBe(true);
    expect(await verifyAuthToken(token, at(-300_001))).toEqual({ ok: false, reason: 'not-yet-valid' });
  });
});
