/**
 * The public API of rds-iam-pool. Exports only: every name here is something a user needs
 * (docs/configuration.md documents each one).
 */
export type {
  IamConnectionEvents,
  IamConnectionHandle,
  IamConnectionOptions,
  IamConnectionOptionsInput,
  IamConnectionStats,
} from './connection/iam-connection-options.js';
export { createIamConnectionOptions } from './connection/iam-connection-options.js';
export type {
  AcquireTimeoutMessage,
  ConnectionRetiredMessage,
  LoginFailedMessage,
  PoolIdentity,
  RetirementReason,
  TokenSignedInfo,
  TokenSignedMessage,
  TopologyChangedMessage,
  TopologyInstance,
} from './diagnostics.js';
export { DIAGNOSTICS_CHANNELS } from './diagnostics.js';
export type { IamAuthStep, IamErrorCode, PoolConnectionCounts } from './errors.js';
export {
  IamAcquireTimeoutError,
  IamAuthError,
  IamConnectError,
  IamCredentialsError,
  IamDriverError,
  IamLoginError,
  IamOptionsError,
  IamPoolClosedError,
  IamPoolExhaustedError,
  IamSigningError,
  IamTlsError,
  IamTransactionOutcomeUnknownError,
  IamUnsupportedAuthPluginError,
  redactSecrets,
} from './errors.js';
export type { IamHandle, IamLoginEvents, IamLoginStats } from './login/login.js';
export type {
  ConnectTo,
  IamOptions,
  IamPoolBehaviourOptions,
  IamPoolOptions,
  IamTokenOptions,
  TopologyFailoverOptions,
} from './options.js';
export type { RequestOutcome } from './outcome.js';
export { isSafeToRetry, requestOutcome } from './outcome.js';
export type { AcquireTimePercentiles } from './pool/acquire-times.js';
export type { IamCluster, IamClusterOptions, IamClusterStats, IamReaderOptions } from './pool/cluster.js';
export { createIamCluster, createIamReaderPool } from './pool/cluster.js';
export type {
  IamClusterConnectionOptions,
  IamClusterConnectionOptionsInput,
  IamClusterConnectionStats,
} from './pool/cluster-connection-options.js';
export { createIamClusterConnectionOptions } from './pool/cluster-connection-options.js';
export { createIamPool } from './pool/iam-pool.js';
export type { IamPool, IamPoolEvents, IamPoolHandle, IamPoolStats } from './pool/pool-types.js';
export type { TopologyStats } from './pool/topology.js';
export type { IamRetryOptions } from './retry.js';
export { toIamError } from './retry.js';
export { defaultRdsCa } from './tls/ca-bundle.js';
export type { IamSslOptions } from './tls/ssl-options.js';
export type { TokenCacheOptions, TokenCacheStats, TokenRequest, TokenTimes } from './token/cache.js';
export { TokenCache } from './token/cache.js';
export type { TransactionOptions, TransactionPool } from './transaction.js';
export { withTransaction } from './transaction.js';
