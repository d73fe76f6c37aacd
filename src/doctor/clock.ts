/** Clock skew between this host and another clock, from one timed exchange. */

/** Beyond this a warning: leases use Redis's clock and stay safe, but token expiry and log times do not. */
export const CLOCK_SKEW_WARN_MS = 500;

/**
 * The other clock read `remoteMs` somewhere between `sentAtMs` and `receivedAtMs` of ours: the
 * best guess of the skew is against the midpoint, give or take half the round trip.
 */
export function clockSkew(remoteMs: number, sentAtMs: number, receivedAtMs: number): { skewMs: number; uncertaintyMs: number } {
  const mid = (sentAtMs + receivedAtMs) / 2;
  return { skewMs: Math.round(remoteMs - mid), uncertaintyMs: Math.ceil((receivedAtMs - sentAtMs) / 2) };
}

/** Whether a skew is large enough to report, given the uncertainty of its measurement. */
export function skewTooLarge(skewMs: number, uncertaintyMs: number, limitMs = CLOCK_SKEW_WARN_MS): boolean {
  return Math.abs(skewMs) - uncertaintyMs > limitMs;
}
