import type { Socket } from 'node:net';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { Connection } from 'mysql2/promise';
import type { TokenCache } from '../../index.js';
import type { CredentialFacts } from '../shared/credentials.js';
import type { Endpoint } from '../shared/endpoint.js';
import type { Greeting } from './mysql-wire.js';

/** What the doctor was asked to check (from the command line). */
export interface DoctorInput {
  hostname: string;
  username: string;
  port?: number | undefined;
  region?: string | undefined;
  database?: string | undefined;
  connectHost?: string | undefined;
  connectPort?: number | undefined;
  /** A PEM file whose certificates replace the bundled RDS CAs. */
  caFile?: string | undefined;
  profile?: string | undefined;
  /** Bound on each network step and on the credential chain, in ms. */
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
}

/** The CAs TLS is verified against, and how to name them in the report. */
export interface TrustStore {
  certificates: string[];
  /** e.g. "the bundled RDS CAs and Amazon roots (92 certificates)". */
  description: string;
  bundled: boolean;
}

/** What earlier steps found, for the later ones. */
export interface DoctorState {
  input: DoctorInput;
  endpoint?: Endpoint;
  trust?: TrustStore;
  /** The TCP connection opened by the `tcp` step, continued by the `tls` step. */
  socket?: Socket;
  greeting?: Greeting;
  offersTls?: boolean;
  tlsProtocol?: string;
  /** notBefore of the server certificate, to tell a clock that runs behind. */
  serverCertificateValidFrom?: Date;
  credentials?: AwsCredentialIdentity;
  credentialFacts?: CredentialFacts;
  /** The cache holding the signed token, and the provider it was signed with (the login uses both). */
  signing?: { tokens: TokenCache; credentials: AwsCredentialIdentityProvider };
  tokenSignedAt?: Date;
  tokenExpiresAt?: Date;
  connection?: Connection;
}

/** Where TCP goes: the tunnel / port-forward when given, else the endpoint itself. */
export function dialTarget(endpoint: Endpoint): { host: string; port: number } {
  return { host: endpoint.connectHost ?? endpoint.hostname, port: endpoint.connectPort ?? endpoint.port };
}
