import { Signer } from '@aws-sdk/rds-signer';
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
});
