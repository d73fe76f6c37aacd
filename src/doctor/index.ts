export { DOCTOR_TIMEOUT_MS, checkExternalIp, checkManager, checkRedis, runDoctor, type DoctorInput } from './checks.js';
export { CLOCK_SKEW_WARN_MS, clockSkew, skewTooLarge } from './clock.js';
export type { Finding, FindingStatus } from './finding.js';
