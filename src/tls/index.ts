/** TLS for the cluster: the CA, certificates issued at join and renewed, mutual TLS between members. */
export {
  CA_COMMON_NAME,
  finishCaRotation,
  initClusterCa,
  issueClientCertificate,
  rotateClusterCa,
  type CaFinishResult,
  type CaInitResult,
  type CaRotateResult,
  type IssuedClientCertificate,
} from './ca.js';
export {
  CA_CHECK_INTERVAL_ENV,
  CA_FILE_ENV,
  caCheckIntervalFromEnv,
  DEFAULT_CA_CHECK_INTERVAL_MS,
  CERT_TTL_ENV,
  certTtlFromEnv,
  DEFAULT_CERT_TTL_MS,
  MIN_CERT_TTL_MS,
  ownCertificatesFromEnv,
  TLS_CA_ENV,
  TLS_CERT_ENV,
  TLS_ENV,
  TLS_KEY_ENV,
  tlsSettingsFromEnv,
  type OwnCertificates,
  type TlsSettings,
} from './config.js';
export { CertificateIssuer, NoClusterCaError, type CaRotationView, type ClusterTrust, type IssuedCertificate } from './issuer.js';
export { CA_RELOAD_INTERVAL_MS, clientAgent, ManagerTls, RENEW_AT_SHARE, secureOptions } from './manager-tls.js';
export { clusterPeerProblem, peerNames, type PeerProblem } from './peer.js';
export { certFingerprint, certificateInfo, type CertificateInfo } from './cert-info.js';
export { InvalidCsrError, newKeyAndCsr, selfSigned, type KeyAndCert } from './x509.js';
