/**
 * Many store calls at once, but not all at once: enough in flight to hide round trips, few
 * enough not to flood the store or the event loop.
 */

/**
 * `fn` over every item with at most `limit` calls in flight; results in input order. The first
 * failure rejects the whole and starts no further calls (those in flight finish on their own).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
