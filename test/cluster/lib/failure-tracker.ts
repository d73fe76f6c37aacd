/**
 * Whether a test of the file has failed, so that `Cluster.close(failed)` prints every host's logs
 * only then. `guard` wraps a test body and marks the failure before rethrowing it.
 */
export interface FailureTracker {
  readonly failed: boolean;
  guard(fn: () => Promise<void>): () => Promise<void>;
}

export function failureTracker(): FailureTracker {
  let failed = false;
  return {
    get failed() {
      return failed;
    },
    guard: (fn) => async () => {
      try {
        await fn();
      } catch (err) {
        failed = true;
        throw err;
      }
    },
  };
}
