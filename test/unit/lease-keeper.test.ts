import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseKeeper, type LeaseRenewer } from '../../src/container/lease.js';
import { createLogger } from '../../src/common/logger.js';
import type { RenewResult } from '../../src/store/store.js';
import { waitFor } from '../helpers/processes.js';

const log = createLogger({ test: 'lease' }, 'silent');

/** A renewer whose next answers the test decides. */
function scriptedRenewer(): LeaseRenewer & { mode: 'ok' | 'fail' | 'hang' | RenewResult; calls: number } {
  const r = {
    via: 'redis' as const,
    mode: 'ok' as 'ok' | 'fail' | 'hang' | RenewResult,
    calls: 0,
    renew(): Promise<RenewResult> {
      r.calls += 1;
      if (r.mode === 'ok') return Promise.resolve({ ok: true, deadlineMs: Date.now() + 1_000 });
      if (r.mode === 'fail') return Promise.reject(new Error('ECONNREFUSED'));
      if (r.mode === 'hang') return new Promise(() => undefined);
      return Promise.resolve(r.mode);
    },
  };
  return r;
}

describe('LeaseKeeper', () => {
  test('renews every interval while the store answers', async () => {
    const renewer = scriptedRenewer();
    const keeper = new LeaseKeeper({ id: 'c', epoch: 1, intervalMs: 20, timeoutMs: 100, renewer, log, onSuspended() {}, onResumed() {}, onLost() {} });
    keeper.start();
    await waitFor('5 renewals', () => keeper.stats.renewals >= 5, 2_000);
    await keeper.stop();
    assert.equal(keeper.state, 'held');
    const calls = renewer.calls;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(renewer.calls, calls, 'no renewal after stop');
  });

  test('suspends work once renewals fail for a whole timeout, resumes when they succeed', async () => {
    for (const failure of ['fail', 'hang'] as const) {
      const renewer = scriptedRenewer();
      const seen: string[] = [];
      const keeper = new LeaseKeeper({
        id: 'c', epoch: 1, intervalMs: 20, timeoutMs: 100, renewer, log,
        onSuspended: () => seen.push('suspended'),
        onResumed: () => seen.push('resumed'),
        onLost: () => seen.push('lost'),
      });
      keeper.start();
      await waitFor('a renewal', () => keeper.stats.renewals >= 1, 2_000);
      renewer.mode = failure;
      const failedAt = Date.now();
      await waitFor('suspended', () => keeper.state === 'suspended', 2_000);
      assert.ok(Date.now() - failedAt >= 60, 'not before most of the timeout has passed');
      renewer.mode = 'ok';
      await waitFor('resumed', () => keeper.state === 'held', 2_000);
      await keeper.stop();
      assert.deepEqual(seen, ['suspended', 'resumed'], failure);
    }
  });

  test('a refused renewal (stale epoch, down) ends the registration once', async () => {
    const renewer = scriptedRenewer();
    const lost: string[] = [];
    const keeper = new LeaseKeeper({ id: 'c', epoch: 1, intervalMs: 10, timeoutMs: 100, renewer, log, onSuspended() {}, onResumed() {}, onLost: (r) => lost.push(r) });
    renewer.mode = { ok: false, reason: 'down' };
    keeper.start();
    await waitFor('lost', () => keeper.state === 'lost', 2_000);
    await new Promise((r) => setTimeout(r, 50));
    await keeper.stop();
    assert.deepEqual(lost, ['down']);
  });
});
