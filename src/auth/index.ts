/** Authentication and authorization: keys, tokens, join tokens, the request hook, the audit trail. */
export { ApiAuthenticator, bearerToken, DEFAULT_CONTAINER_TOKEN_TTL_MS, KEY_RELOAD_INTERVAL_MS, MAX_AUTHORIZATION_LENGTH, type AuthenticatorOptions, type Caller } from './authenticator.js';
export { auditHook, who } from './audit.js';
export { AUTH_ENV, AUTH_OFF_WARNING, authSettingsFromEnv, type AuthMode, type AuthSettings } from './config.js';
export { envDuration, formatDuration, InvalidDurationError, parseDuration } from './duration.js';
export { AuthFailure, KeyDirError, type AuthFailureCode } from './errors.js';
export { formatJoinToken, JOIN_TOKEN_PREFIX, looksLikeJoinToken, parseJoinToken, sameJoinToken, type JoinTokenParts } from './join-token.js';
export {
  activeSigningKey,
  DEFAULT_KEY_DIR,
  DEFAULT_MAX_TOKEN_TTL_MS,
  acceptedJoinTokens,
  caFingerprint,
  CA_CERT_FILE,
  CA_KEY_FILE,
  clusterFingerprint,
  identityFingerprint,
  KEY_DIR_ENV,
  KeyDir,
  keyState,
  type CaRotationFile,
  type CaState,
  type KeySet,
  type SigningKeyFile,
  type SigningKeyState,
} from './key-dir.js';
export { FailureLimiter, type FailureLimiterSettings } from './rate-limit.js';
export { isRole, ROLES, ROLES_FOR_ACCESS, roleAllows, type Role } from './roles.js';
export { mintToken, publicJwks, TOKEN_ISSUER, verifyToken, verifyTokenWithJwks, type MintRequest, type Principal } from './tokens.js';
export { DEFAULT_JWKS_REFRESH_MS, JWKS_RETRY_MS, KeysUnavailableError, PublishedKeys, type PublishedKeysOptions } from './published-keys.js';
export { keysChangedData, startManagerAuth } from './manager-auth.js';
