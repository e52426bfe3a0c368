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
} from './connection-options.js';
export { createIamConnectionOptions } from './connection-options.js';
export type { IamAuthStep, IamErrorCode } from './errors.js';
export {
  IamAuthError,
  IamConnectError,
  IamCredentialsError,
  IamDriverError,
  IamLoginError,
  IamOptionsError,
  IamSigningError,
  IamTlsError,
  IamUnsupportedAuthPluginError,
  redactSecrets,
} from './errors.js';
export type { IamHandle, IamLoginEvents, IamLoginStats } from './login/login.js';
export type {
  IamOptions,
  IamPoolBehaviourOptions,
  IamPoolOptions,
  IamRetryOptions,
  IamSslOptions,
  IamTokenOptions,
  TopologyFailoverOptions,
} from './options.js';
export type { AcquireTimePercentiles } from './pool/acquire-times.js';
export type {
  AcquireTimeoutMessage,
  ConnectionRetiredMessage,
  LoginFailedMessage,
  PoolIdentity,
  RetirementReason,
  TokenSignedMessage,
} from './pool/diagnostics.js';
export { DIAGNOSTICS_CHANNELS } from './pool/diagnostics.js';
export type { PoolConnectionCounts } from './pool/errors.js';
export { IamAcquireTimeoutError, IamPoolClosedError, IamPoolExhaustedError } from './pool/errors.js';
export type { TopologyChangedMessage, TopologyInstance, TopologyStats } from './pool/topology.js';
export type { IamPool, IamPoolEvents, IamPoolHandle, IamPoolStats } from './pool.js';
export { createIamPool } from './pool.js';
export { toIamError } from './retry.js';
export { defaultRdsCa } from './tls/ca-bundle.js';
export type {
  TokenCacheOptions,
  TokenCacheStats,
  TokenRequest,
  TokenSignedInfo,
  TokenTimes,
} from './token/cache.js';
export { TokenCache } from './token/cache.js';
