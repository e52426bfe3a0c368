import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity } from '@smithy/types';
import { NodeSha256 } from './sha256.js';

/**
 * The X-Amz-Signature of an RDS IAM connect request, computed with the AWS SDK's own SigV4 code
 * (`@smithy/signature-v4`, what `@aws-sdk/rds-signer` signs with) rather than the library's signer:
 * the emulator checks clients' tokens against an independent implementation, so a signing bug in
 * the library cannot be mirrored by its own verifier.
 */
export async function sdkSignature(input: {
  hostname: string;
  port: number;
  username: string;
  region: string;
  credentials: AwsCredentialIdentity;
  signingDate: Date;
  expiresIn: number;
}): Promise<string> {
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
    { expiresIn: input.expiresIn, signingDate: input.signingDate },
  );
  const value = presigned.query?.['X-Amz-Signature'];
  return typeof value === 'string' ? value : '';
}
