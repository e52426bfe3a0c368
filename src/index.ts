export type {
  IamConnectionEvents,
  IamConnectionOptions,
  IamConnectionOptionsInput,
  IamConnectionStats,
} from './connection-options.js';
export { createIamConnectionOptions, IamConnectionHandle } from './connection-options.js';
export type { IamAuthStep, IamErrorCode } from './errors.js';
export {
  IamAuthError,
  IamConnectError,
  IamCredentialsError,
  IamLoginError,
  IamOptionsError,
  IamSigningError,
  IamTlsError,
  IamUnsupportedAuthPluginError,
  redactSecrets,
} from './errors.js';
export type {
  IamOptions,
  IamPoolBehaviourOptions,
  IamPoolOptions,
  IamRetryOptions,
  IamSslOptions,
  IamTokenOptions,
} from './options.js';
export { inferRegion } from './options.js';
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
export { IamAcquireTimeoutError, IamPoolClosedError } from './pool/errors.js';
export type { IamPool, IamPoolEvents, IamPoolStats } from './pool.js';
export { createIamPool, IamPoolHandle } from './pool.js';
export {
  AMAZON_ROOT_CERTIFICATES,
  defaultRdsCa,
  describeCertificate,
  RDS_CA_CERTIFICATES,
} from './tls/ca-bundle.js';
export type { TokenCacheOptions, TokenCacheStats, TokenRequest, TokenSignedInfo } from './token/cache.js';
export { TokenCache } from './token/cache.js';
export type { SignAuthTokenInput } from './token/sign.js';
export { signAuthToken, TOKEN_LIFETIME_SECONDS } from './token/sign.js';
