import type { AwsCredentialIdentity } from '@smithy/types';

/** RDS accepts an IAM auth token for at most 15 minutes after it was signed. */
export const TOKEN_LIFETIME_SECONDS = 900;

export interface SignAuthTokenInput {
  /** The RDS endpoint the token is for (never a tunnel or an IP you connect through). */
  hostname: string;
  port: number;
  username: string;
  region: string;
  credentials: AwsCredentialIdentity;
  /** When the token counts as signed; defaults to now. */
  signingDate?: Date;
  /** Seconds the token is valid for; RDS caps this at 900. */
  expiresIn?: number;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SERVICE = 'rds-db';
/** SHA-256 of the empty body of the presigned GET. */
const EMPTY_PAYLOAD_HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** node:crypto, once the first signing has loaded it. */
let nodeCrypto: typeof import('node:crypto') | undefined;

/**
 * Signs an RDS IAM auth token: a SigV4 presigned `GET https://host:port/?Action=connect&DBUser=user`
 * for service `rds-db`, with the scheme removed. This is the request `@aws-sdk/rds-signer` and
 * `aws rds generate-db-auth-token` sign, byte for byte (test/unit/sign.test.ts compares them on
 * generated inputs, and the emulator verifies tokens with the SDK's own SigV4 code).
 *
 * Written out on node:crypto rather than through `@smithy/signature-v4`: that package's imports
 * were a third of a cold import of the main entry (docs/performance.md, "Where the import time goes"),
 * for one HMAC chain over a fixed request shape, signed once per refresh window.
 */
export async function signAuthToken(input: SignAuthTokenInput): Promise<string> {
  // Loaded on the first signing, as mysql2 loads it at its first login, and kept: a dynamic import
  // per call cost more than the signing itself (docs/performance.md, "Signing").
  nodeCrypto ??= await import('node:crypto');
  const query = presignConnectQuery(input, nodeCrypto);
  return `${input.hostname}:${input.port}/?${canonicalQuery(query)}`;
}

/** The presigned query of an RDS IAM connect request: `Action`, `DBUser` and the `X-Amz-*` parameters. */
type Crypto = Pick<typeof import('node:crypto'), 'createHash' | 'createHmac'>;

function presignConnectQuery(input: SignAuthTokenInput, crypto: Crypto): Record<string, string> {
  const { createHash, createHmac } = crypto;
  const hmac = (key: string | Buffer, data: string): Buffer =>
    createHmac('sha256', key).update(data, 'utf8').digest();
  const { credentials } = input;
  const date = input.signingDate ?? new Date();
  const amzDate = date.toISOString().replace(/[-:]|\.\d{3}/g, ''); // 20261126T100000Z
  const dateStamp = amzDate.slice(0, 8);
  const scope = `${dateStamp}/${input.region}/${SERVICE}/aws4_request`;
  const query: Record<string, string> = {
    Action: 'connect',
    DBUser: input.username,
    'X-Amz-Algorithm': ALGORITHM,
    'X-Amz-Credential': `${credentials.accessKeyId}/${scope}`,
    'X-Amz-Date': amzDate,
    'X-Amz-Expires': String(input.expiresIn ?? TOKEN_LIFETIME_SECONDS),
    'X-Amz-SignedHeaders': 'host',
  };
  if (credentials.sessionToken) query['X-Amz-Security-Token'] = credentials.sessionToken;

  const canonicalRequest = [
    'GET',
    '/',
    canonicalQuery(query),
    `host:${input.hostname}:${input.port}\n`,
    'host',
    EMPTY_PAYLOAD_HASH,
  ].join('\n');
  const stringToSign = [
    ALGORITHM,
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');
  let key: Buffer = hmac(`AWS4${credentials.secretAccessKey}`, dateStamp);
  for (const part of [input.region, SERVICE, 'aws4_request']) key = hmac(key, part);
  query['X-Amz-Signature'] = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return query;
}

/** Sorted keys, RFC 3986 escapes: SigV4's canonical query, and the token's own query string. */
function canonicalQuery(query: Record<string, string>): string {
  return Object.keys(query)
    .sort()
    .map((key) => `${uriEscape(key)}=${uriEscape(query[key] as string)}`)
    .join('&');
}

function uriEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
