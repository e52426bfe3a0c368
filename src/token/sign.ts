import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity } from '@smithy/types';
import { NodeSha256 } from './sha256.js';

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

/**
 * Signs an RDS IAM auth token: a SigV4 presigned `GET https://host:port/?Action=connect&DBUser=user`
 * for service `rds-db`, with the scheme removed. This is the request `@aws-sdk/rds-signer` and
 * `aws rds generate-db-auth-token` sign, byte for byte; we call SignatureV4 ourselves so a caller
 * can fix the signing date (an injected clock) and so the main entry does not load the whole
 * `@aws-sdk/credential-providers` set that rds-signer imports eagerly.
 */
export async function signAuthToken(input: SignAuthTokenInput): Promise<string> {
  const query = await presignConnectQuery(input);
  return `${input.hostname}:${input.port}/?${formatQuery(query)}`;
}

/**
 * The presigned query of an RDS IAM connect request (`Action`, `DBUser` and the `X-Amz-*`
 * parameters). Signing and verification (the emulator) both build the request here, so they
 * cannot drift apart.
 */
export async function presignConnectQuery(
  input: SignAuthTokenInput,
): Promise<Record<string, string | Array<string> | null>> {
  const signer = new SignatureV4({
    service: 'rds-db',
    region: input.region,
    credentials: input.credentials,
    sha256: NodeSha256,
  });
  const presigned = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname: input.hostname,
      port: input.port,
      path: '/',
      query: { Action: 'connect', DBUser: input.username },
      headers: { host: `${input.hostname}:${input.port}` },
    },
    { expiresIn: input.expiresIn ?? TOKEN_LIFETIME_SECONDS, signingDate: input.signingDate ?? new Date() },
  );
  return presigned.query ?? {};
}

/** The same query-string encoding as `@aws-sdk/core`'s formatUrl: sorted keys, RFC 3986 escapes. */
function formatQuery(query: Record<string, string | Array<string> | null>): string {
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    if (value === null || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      parts.push(`${encodeQueryPart(key)}=${encodeQueryPart(v)}`);
    }
  }
  return parts.join('&');
}

function encodeQueryPart(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
