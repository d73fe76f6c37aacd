/** `flotilla doctor`: the troubleshooting steps a person runs by hand, with what to do for each finding. */
export { runDoctor } from './run.js';
export { CHECK_TIMEOUT_MS, CLOCK_SKEW_WARN_MS, checkClock } from './checks.js';
export type { Finding, FindingStatus } from './findings.js';
