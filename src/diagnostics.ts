/**
 * Pool events on `node:diagnostics_channel`, for OpenTelemetry, a logger or a metrics agent to
 * subscribe to without holding a reference to the pool. Publishing costs nothing when no one
 * subscribes. No message carries a token, a secret key or a session token.
 */
import { channel } from 'node:diagnostics_channel';
import type { PoolConnectionCounts } from './errors.js';

/** Channel names, stable across versions. */
export const DIAGNOSTICS_CHANNELS = {
  tokenSigned: 'rds-iam-pool:token-signed',
  loginFailed: 'rds-iam-pool:login-failed',
  connectionRetired: 'rds-iam-pool:connection-retired',
  acquireTimeout: 'rds-iam-pool:acquire-timeout',
  topologyChanged: 'rds-iam-pool:topology-changed',
} as const;

/** Which pool a message is about: its endpoint and user (never credentials). */
export interface PoolIdentity {
  host: string;
  port: number;
  user: string;
}

/** Facts about a signed token, safe to log: no token, no secret. */
export interface TokenSignedInfo {
  hostname: string;
  port: number;
  username: string;
  region: string;
  signedAt: Date;
  expiresAt: Date;
  /** True when the credentials expire before the 15 minutes a token may live. */
  limitedByCredentials: boolean;
}

/** `rds-iam-pool:token-signed`: a token was signed (one signing serves many logins). */
export type TokenSignedMessage = TokenSignedInfo;

/** `rds-iam-pool:login-failed`: a login or connect attempt failed. */
export interface LoginFailedMessage extends PoolIdentity {
  /** 1 for the first attempt of this borrow. */
  attempt: number;
  /** 'auth-rejected' (the server refused the token), 'transient' (network) or 'final'. */
  reason: 'auth-rejected' | 'transient' | 'final';
  /** True when the pool will try again (with a fresh token after 'auth-rejected'). */
  willRetry: boolean;
  /** The driver or library error code, e.g. 'ECONNREFUSED', 'RDS_IAM_ACCESS_DENIED'. */
  code: string | undefined;
  /** The server's error number, e.g. 1045. */
  errno: number | undefined;
  /** The error (redacted; for 'final', the typed error the caller receives). */
  error: unknown;
}

/** Why a connection left the pool before it broke on a caller. */
export type RetirementReason =
  /** It reached its (jittered) maximum lifetime. */
  | 'max-lifetime'
  /** It had been idle and did not answer a ping on borrow. */
  | 'failed-validation'
  /** It was found closed or broken on borrow, before any command was sent. */
  | 'dead'
  /** end() stopped waiting for it while it was borrowed. */
  | 'end-timeout'
  /**
   * A statement on it failed with a read-only error (1290, 1836, 1792) and the server confirmed it
   * is read-only (`@@innodb_read_only`): a demoted writer.
   */
  | 'read-only'
  /** New, and on a reader although the pool needs the writer (`verifyWriter`). */
  | 'not-writer'
  /** On an instance that is no longer the writer: the pool followed an Aurora failover elsewhere. */
  | 'writer-changed'
  /** A reader pool's connection that reached the writer (a promoted reader, the reader endpoint). */
  | 'not-reader'
  /** Moved to spread a reader pool evenly: its reader held more than its share, or left the cluster. */
  | 'rebalanced';

/** One DB instance of an Aurora cluster, as the pool learned it from the topology. */
export interface TopologyInstance {
  /** The instance identifier (`server_id`). */
  id: string;
  /** Its instance endpoint. */
  host: string;
  role: 'writer' | 'reader';
}

/** `topology-changed` events and diagnostics messages. */
export interface TopologyChangedMessage extends PoolIdentity {
  /** The new writer's instance endpoint. */
  writer: string;
  previousWriter: string | undefined;
  instances: TopologyInstance[];
  /** When the pool began looking (a failure it saw), and when it found the writer (ms since the epoch). */
  searchStartedAt: number | undefined;
  foundAt: number;
}

/** `rds-iam-pool:connection-retired`: the pool closed a connection on purpose. */
export interface ConnectionRetiredMessage extends PoolIdentity {
  reason: RetirementReason;
  /** The server's connection id (mysql2's `threadId`). */
  threadId: number | undefined;
  /** Time since it logged in, on the pool's clock. */
  ageMs: number;
}

/** `rds-iam-pool:acquire-timeout`: a caller gave up waiting for a connection. */
export interface AcquireTimeoutMessage extends PoolIdentity {
  timeoutMs: number;
  pool: PoolConnectionCounts;
  error: unknown;
}

const tokenSigned = channel(DIAGNOSTICS_CHANNELS.tokenSigned);
const loginFailed = channel(DIAGNOSTICS_CHANNELS.loginFailed);
const connectionRetired = channel(DIAGNOSTICS_CHANNELS.connectionRetired);
const acquireTimeout = channel(DIAGNOSTICS_CHANNELS.acquireTimeout);
const topologyChanged = channel(DIAGNOSTICS_CHANNELS.topologyChanged);

export function publishTokenSigned(message: TokenSignedMessage): void {
  if (tokenSigned.hasSubscribers) tokenSigned.publish(message);
}

export function publishLoginFailed(message: LoginFailedMessage): void {
  if (loginFailed.hasSubscribers) loginFailed.publish(message);
}

export function publishConnectionRetired(message: ConnectionRetiredMessage): void {
  if (connectionRetired.hasSubscribers) connectionRetired.publish(message);
}

export function publishAcquireTimeout(message: AcquireTimeoutMessage): void {
  if (acquireTimeout.hasSubscribers) acquireTimeout.publish(message);
}

/** `rds-iam-pool:topology-changed`: with `topologyFailover`, the pool found the (new) writer. */
export function publishTopologyChanged(message: TopologyChangedMessage): void {
  if (topologyChanged.hasSubscribers) topologyChanged.publish(message);
}
