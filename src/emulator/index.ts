/** `rds-iam-pool/emulator`: the local RDS IAM endpoint, for tests. Exports only; see docs/emulator.md. */
export type {
  AddReaderOptions,
  ClusterEmulator,
  ClusterOptions,
  ClusterStats,
  Emulator,
  EmulatorCluster,
  EmulatorOptions,
  EmulatorPoolOptions,
  EmulatorSession,
  EmulatorStats,
} from './api.js';
export { AURORA_VERSION } from './aurora-queries.js';
export type {
  ClusterEndpoint,
  ClusterInstance,
  ClusterTopology,
  EndpointKind,
  Failover,
  FailoverOptions,
  FailoverRecord,
  InstanceRole,
  OutageShape,
  ReaderFailureOptions,
} from './cluster.js';
export {
  DEFAULT_DNS_LAG_MS,
  DEFAULT_OUTAGE,
  DEFAULT_PROMOTION_MS,
  DEFAULT_READER_RECORD_TTL_MS,
  OUTAGE_SHAPES,
} from './cluster.js';
export { DEFAULT_CLUSTER_HOST } from './cluster-names.js';
export {
  ENGINE_PROFILE_NAMES,
  ENGINE_PROFILES,
  type EngineProfile,
  type EngineProfileName,
} from './engine-profiles.js';
export { EmulatorError, type EmulatorErrorCode } from './errors.js';
export type { EmulatorFaults } from './faults.js';
export { READER_WRITE_ERROR } from './read-only.js';
export type { ReaderAccountInfo } from './reader-accounts.js';
export type { IamUserMapping } from './session.js';
export {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_HOST,
  DEFAULT_INSTANCES,
  DEFAULT_SKEW_SECONDS,
  regionFromHost,
  startEmulator,
} from './start.js';
export type { ExpectedToken, TokenRejection, TokenVerification, TrustedKey } from './verify-token.js';
export { verifyAuthToken } from './verify-token.js';
