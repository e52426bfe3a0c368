import { Signer } from '@aws-sdk/rds-signer';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { signAuthToken } from '../../src/token/sign.js';

const credentials = {
  accessKeyId: 'AKIDSIGNTEST',
  secretAccessKey: 'sign-test-secret/with+special=chars',
  sessionToken: 'sign-test-session/token+with=chars',
};

describe('signAuthToken', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    ['mydb.abc123.us-east-1.rds.amazonaws.com', 3306, 'app_iam'],
    ['orders.cluster-ro-abc.eu-west-1.rds.amazonaws.com', 3307, 'user with spaces+plus'],
  ])(
    'produces the token @aws-sdk/rds-signer produces, byte for byte (%s)',
    async (hostname, port, username) => {
      const at = new Date('2026-11-26T10:00:00Z');
      vi.useFakeTimers({ now: at, toFake: ['Date'] });
      const region = hostname.split('.')[2] ?? '';
      const expected = await new Signer({ hostname, port, username, region, credentials }).getAuthToken();
      vi.useRealTimers();
      const ours = await signAuthToken({ hostname, port, username, region, credentials, signingDate: at });
      expect(ours).toBe(expected);
      expect(ours.startsWith(`${hostname}:${port}/?Action=connect&DBUser=`)).toBe(true);
    },
  );

  it('signs with the given date and lifetime', async () => {
    const token = await signAuthToken({
      hostname: 'db.abc.us-east-1.rds.amazonaws.com',
      port: 3306,
      username: 'u',
      region: 'us-east-1',
      credentials,
      signingDate: new Date('2030-01-02T03:04:05Z'),
      expiresIn: 60,
    });
    const params = new URLSearchParams(token.split('?')[1]);
    expect(params.get('X-Amz-Date')).toBe('20300102T030405Z');
    expect(params.get('X-Amz-Expires')).toBe('60');
    expect(params.get('X-Amz-Credential')).toBe('AKIDSIGNTEST/20300102/us-east-1/rds-db/aws4_request');
    expect(params.get('X-Amz-Security-Token')).toBe(credentials.sessionToken);
  });

  it('matches @aws-sdk/rds-signer on 300 generated endpoints, users, regions, keys and dates', async () => {
    const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          hostname: fc.stringMatching(
            /^[a-z][a-z0-9-]{0,20}\.[a-z0-9]{6,12}\.[a-z]{2}-[a-z]+-\d\.rds\.amazonaws\.com$/,
          ),
          port: fc.integer({ min: 1, max: 65535 }),
          username: text,
          region: fc.constantFrom('us-east-1', 'eu-west-3', 'ap-southeast-7', 'us-gov-west-1', 'cn-north-1'),
          accessKeyId: fc.stringMatching(/^(AKIA|ASIA)[A-Z0-9]{16}$/),
          secretAccessKey: fc.string({ minLength: 1, maxLength: 40 }),
          sessionToken: fc.option(text, { nil: undefined }),
          at: fc.date({
            min: new Date('2000-01-01T00:00:00Z'),
            max: new Date('2099-12-31T23:59:59Z'),
            noInvalidDate: true,
          }),
        }),
        async ({ hostname, port, username, region, accessKeyId, secretAccessKey, sessionToken, at }) => {
          const signingDate = new Date(Math.floor(at.getTime() / 1000) * 1000);
          const credentials = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
          vi.useFakeTimers({ now: signingDate, toFake: ['Date'] });
          const expected = await new Signer({ hostname, port, username, region, credentials }).getAuthToken();
          vi.useRealTimers();
          const ours = await signAuthToken({ hostname, port, username, region, credentials, signingDate });
          expect(ours).toBe(expected);
        },
      ),
      { numRuns: 300, seed: 11 },
    );
  });
});
