import { timingSafeEqual } from 'node:crypto';
import { sdkSignature } from './presign.js';

export interface TrustedKey {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export interface ExpectedToken {
  /** The RDS endpoint name the token must name (case-insensitive, as DNS is). */
  host: string;
  port: number;
  /** The user logging in; must equal DBUser. */
  user: string;
  region: string;
  keys: readonly TrustedKey[];
  now: Date;
  /** How far in the future X-Amz-Date may be before the token counts as not yet valid. */
  skewSeconds: number;
}

export type TokenRejection =
  | 'malformed-token'
  | 'bad-expires'
  | 'wrong-host'
  | 'wrong-user'
  | 'wrong-region'
  | 'wrong-service'
  | 'wrong-action'
  | 'unknown-access-key'
  | 'bad-signature'
  | 'expired'
  | 'not-yet-valid'
  | 'session-token-mismatch'
  | 'credentials-expired';

export type TokenVerification =
  | { ok: true; accessKeyId: string; signedAt: Date; expiresAt: Date; signature: string }
  | { ok: false; reason: TokenRejection };

const SERVICE = 'rds-db';
const MAX_EXPIRES_SECONDS = 900;
const KNOWN_PARAMS = new Set([
  'Action',
  'DBUser',
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
  'X-Amz-Security-Token',
]);

/**
 * Checks an RDS IAM auth token the way RDS does: the presigned `GET https://host:port/?Action=connect
 * &DBUser=user` must name this endpoint and user, be signed for `rds-db` in this region by a trusted
 * key, and be inside its validity window. The signature is recomputed with the same SigV4 code the
 * signer uses and compared in constant time. The result never contains the token or any secret.
 */
export async function verifyAuthToken(token: string, expected: ExpectedToken): Promise<TokenVerification> {
  const fail = (reason: TokenRejection): TokenVerification => ({ ok: false, reason });
  const parsed = parseToken(token);
  if (!parsed) return fail('malformed-token');
  const { hostname, port, params } = parsed;

  const algorithm = params.get('X-Amz-Algorithm');
  const credential = params.get('X-Amz-Credential');
  const amzDate = params.get('X-Amz-Date');
  const expiresRaw = params.get('X-Amz-Expires');
  const signedHeaders = params.get('X-Amz-SignedHeaders');
  const signature = params.get('X-Amz-Signature');
  const action = params.get('Action');
  const dbUser = params.get('DBUser');
  const securityToken = params.get('X-Amz-Security-Token');
  if (
    algorithm !== 'AWS4-HMAC-SHA256' ||
    credential === undefined ||
    amzDate === undefined ||
    expiresRaw === undefined ||
    signedHeaders !== 'host' ||
    signature === undefined ||
    !/^[0-9a-f]{64}$/.test(signature) ||
    action === undefined ||
    dbUser === undefined
  ) {
    return fail('malformed-token');
  }
  const signedAt = parseAmzDate(amzDate);
  const scope = credential.split('/');
  if (!signedAt || scope.length !== 5 || scope[4] !== 'aws4_request') return fail('malformed-token');
  const [accessKeyId, scopeDate, scopeRegion, scopeService] = scope as [string, string, string, string];
  // SigV4 requires the scope date to be the signing day; anything else cannot have come from a signer.
  if (scopeDate !== amzDate.slice(0, 8) || accessKeyId === '') return fail('malformed-token');
  if (!/^[1-9][0-9]{0,3}$/.test(expiresRaw)) return fail('bad-expires');
  const expiresIn = Number(expiresRaw);
  if (expiresIn < 1 || expiresIn > MAX_EXPIRES_SECONDS) return fail('bad-expires');

  if (hostname.toLowerCase() !== expected.host.toLowerCase() || port !== expected.port)
    return fail('wrong-host');
  if (action !== 'connect') return fail('wrong-action');
  if (dbUser !== expected.user) return fail('wrong-user');
  if (scopeService !== SERVICE) return fail('wrong-service');
  if (scopeRegion !== expected.region) return fail('wrong-region');

  const key = expected.keys.find((k) => k.accessKeyId === accessKeyId);
  if (!key) return fail('unknown-access-key');
  if ((key.sessionToken ?? undefined) !== securityToken) return fail('session-token-mismatch');

  const expectedSignature = await computeSignature({
    hostname,
    port,
    user: dbUser,
    region: scopeRegion,
    key,
    signedAt,
    expiresIn,
  });
  const a = Buffer.from(signature, 'latin1');
  const b = Buffer.from(expectedSignature, 'latin1');
  if (a.length !== b.length || !timingSafeEqual(a, b)) return fail('bad-signature');

  const now = expected.now.getTime();
  if (key.expiration && key.expiration.getTime() < now) return fail('credentials-expired');
  const expiresAt = new Date(signedAt.getTime() + expiresIn * 1000);
  if (now > expiresAt.getTime()) return fail('expired');
  if (signedAt.getTime() > now + expected.skewSeconds * 1000) return fail('not-yet-valid');
  return { ok: true, accessKeyId, signedAt, expiresAt, signature };
}

interface ParsedToken {
  hostname: string;
  port: number;
  params: Map<string, string>;
}

function parseToken(token: string): ParsedToken | null {
  const split = token.indexOf('/?');
  if (split <= 0) return null;
  const authority = token.slice(0, split);
  const match = /^([A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(authority);
  if (!match) return null;
  const params = new Map<string, string>();
  for (const part of token.slice(split + 2).split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return null;
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(part.slice(0, eq));
      value = decodeURIComponent(part.slice(eq + 1));
    } catch {
      return null;
    }
    // Duplicate or unknown parameters would be signed differently by RDS; treat them as malformed.
    if (params.has(key) || !KNOWN_PARAMS.has(key)) return null;
    params.set(key, value);
  }
  return { hostname: match[1]!, port: Number(match[2]), params };
}

function parseAmzDate(value: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Reject dates Date.UTC silently normalised (e.g. month 13).
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || date.getUTCHours() !== h) return null;
  return date;
}

/** Re-signs the request with the AWS SDK's SigV4 code and returns the hex signature. */
async function computeSignature(input: {
  hostname: string;
  port: number;
  user: string;
  region: string;
  key: TrustedKey;
  signedAt: Date;
  expiresIn: number;
}): Promise<string> {
  return sdkSignature({
    hostname: input.hostname,
    port: input.port,
    username: input.user,
    region: input.region,
    credentials: {
      accessKeyId: input.key.accessKeyId,
      secretAccessKey: input.key.secretAccessKey,
      ...(input.key.sessionToken !== undefined ? { sessionToken: input.key.sessionToken } : {}),
    },
    signingDate: input.signedAt,
    expiresIn: input.expiresIn,
  });
}
