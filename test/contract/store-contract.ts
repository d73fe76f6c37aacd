/**
 * The scenarios every ClusterStore must pass, run against each implementation (memory, Redis)
 * so that they cannot drift. Time-based cases use short real timeouts and bounded polling.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerRegistration } from '../../src/protocol/container.js';
import type { ClusterEvent } from '../../src/protocol/events.js';
import { InvalidNameError } from '../../src/protocol/names.js';
import { EVENTS_MAX_LENGTH, StoreError, StoreUnavailableError, type ClusterStore } from '../../src/store/index.js';

export type MakeStore = () => Promise<{ store: ClusterStore; cleanup(): Promise<void> }>;

/** Short enough to keep the suite fast, long enough that a busy machine does not flake. */
const SHORT_TTL_MS = 200;
const LONG_TTL_MS = 60_000;
const EVENTUALLY_TIMEOUT_MS = 3_000;
const TEST_TIMEOUT_MS = 20_000;

export function registration(name: string, overrides: Partial<ContainerRegistration> = {}): ContainerRegistration {
  return {
    name,
    hostAddress: '127.0.0.1',
    apiPort: 8001,
    capabilities: ['gpu'],
    labels: { zone: 'a' },
    resources: { cpu_cores: 4, memory_mb: 8192 },
    metadata: {},
    agentTypes: ['echo'],
    leaseTimeoutMs: LONG_TTL_MS,
    leaseIntervalMs: 1_000,
    ...overrides,
  };
}

/** Calls `fn` until `done` holds for its result, for at most EVENTUALLY_TIMEOUT_MS. */
async function eventually<T>(fn: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + EVENTUALLY_TIMEOUT_MS;
  for (;;) {
    const value = await fn();
    if (done(value)) return value;
    if (Date.now() > deadline) assert.fail(`condition not met within ${EVENTUALLY_TIMEOUT_MS} ms; last value ${JSON.stringify(value)}`);
    await sleep(25);
  }
}

function idParts(id: string): [number, number] {
  const [ms, seq] = id.split('-').map(Number);
  return [ms ?? NaN, seq ?? NaN];
}

function assertIncreasing(events: ClusterEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    const [ams, aseq] = idParts(events[i - 1]!.id);
    const [bms, bseq] = idParts(events[i]!.id);
    assert.ok(bms > ams || (bms === ams && bseq > aseq), `event ids must increase: ${events[i - 1]!.id} then ${events[i]!.id}`);
  }
}

async function eventsOf(store: ClusterStore, containerId: string): Promise<ClusterEvent[]> {
  return (await store.listEvents()).filter((e) => e.containerId === containerId);
}

export function describeStoreContract(name: string, makeStore: MakeStore): void {
  describe(`ClusterStore contract: ${name}`, { timeout: TEST_TIMEOUT_MS * 10 }, () => {
    let store: ClusterStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });
    afterEach(async () => {
      await cleanup();
    });

    describe('registerContainer', () => {
      it('writes an active, schedulable record with epoch 1 and store-clock times', async () => {
        const before = await store.now();
        const record = await store.registerContainer(registration('c1'));
        const after = await store.now();
        assert.equal(record.id, 'c1');
        assert.equal(record.name, 'c1');
        assert.equal(record.epoch, 1);
        assert.equal(record.state, 'active');
        assert.equal(record.availability, 'schedulable');
        assert.equal(record.downAtMs, null);
        assert.ok(record.registeredAtMs >= before && record.registeredAtMs <= after);
        assert.equal(record.lastRenewalMs, record.registeredAtMs);
        assert.deepEqual(await store.getContainer('c1'), record);
      });

      it('keeps every registration field, nested JSON included', async () => {
        const reg = registration('c1', {
          hostAddress: 'gpu-box.internal',
          apiPort: 9001,
          capabilities: ['gpu', 'cuda-12'],
          labels: { 'node.role': 'worker', zone: 'b' },
          resources: { cpu_cores: 16, memory_mb: 65536, gpus: 2, tpu: 1 },
          metadata: { os: 'linux', nested: { list: [1, 'two', null, true] } },
          agentTypes: ['echo', 'llm'],
          leaseTimeoutMs: 3_000,
          leaseIntervalMs: 500,
        });
        const record = await store.registerContainer(reg);
        for (const key of Object.keys(reg) as (keyof ContainerRegistration)[]) {
          if (key === 'name') continue;
          assert.deepEqual(record[key], reg[key], key);
        }
        assert.deepEqual(await store.getContainer('c1'), record);
      });

      it('gives the same name epoch 2 on re-registration and makes it active again', async () => {
        await store.registerContainer(registration('c1', { leaseTimeoutMs: SHORT_TTL_MS }));
        await eventually(() => store.expireLeases(), (ids) => ids.includes('c1'));
        const again = await store.registerContainer(registration('c1', { hostAddress: '127.0.0.2' }));
        assert.equal(again.epoch, 2);
        assert.equal(again.state, 'active');
        assert.equal(again.downAtMs, null);
        assert.equal(again.hostAddress, '127.0.0.2');
      });

      it('keeps a cordoned or draining availability across re-registration', async () => {
        await store.registerContainer(registration('c1'));
        await store.setAvailability('c1', 'cordoned');
        assert.equal((await store.registerContainer(registration('c1'))).availability, 'cordoned');
        await store.setAvailability('c1', 'draining');
        assert.equal((await store.registerContainer(registration('c1'))).availability, 'draining');
        await store.setAvailability('c1', 'schedulable');
        assert.equal((await store.registerContainer(registration('c1'))).availability, 'schedulable');
      });

      it('never lowers an epoch, even after the record was removed', async () => {
        const first = await store.registerContainer(registration('c1'));
        assert.equal(await store.deregisterContainer('c1', first.epoch), true);
        assert.equal((await store.registerContainer(registration('c1'))).epoch, 2);
        assert.equal((await store.removeContainer('c1', { force: true })).ok, true);
        assert.equal((await store.registerContainer(registration('c1'))).epoch, 3);
      });

      it('counts epochs per name', async () => {
        await store.registerContainer(registration('c1'));
        await store.registerContainer(registration('c1'));
        assert.equal((await store.registerContainer(registration('c2'))).epoch, 1);
      });

      it('logs container_joined with the epoch', async () => {
        await store.registerContainer(registration('c1'));
        await store.registerContainer(registration('c1'));
        const joined = await eventsOf(store, 'c1');
        assert.deepEqual(
          joined.map((e) => [e.type, e.epoch]),
          [
            ['container_joined', 1],
            ['container_joined', 2],
          ],
        );
        assert.deepEqual(joined[0]?.data, { hostAddress: '127.0.0.1', apiPort: 8001 });
      });

      it('rejects an unsafe name and bad numbers without writing anything', async () => {
        await assert.rejects(store.registerContainer(registration('a/b')), InvalidNameError);
        await assert.rejects(store.registerContainer(registration('x{c}')), InvalidNameError);
        await assert.rejects(store.registerContainer(registration('c1', { leaseTimeoutMs: 0 })), StoreError);
        await assert.rejects(store.registerContainer(registration('c1', { apiPort: 70_000 })), StoreError);
        assert.deepEqual(await store.listContainers(), []);
        assert.deepEqual(await store.listEvents(), []);
      });
    });

    describe('getContainer / listContainers', () => {
      it('returns null for an unknown id and [] for an empty cluster', async () => {
        assert.equal(await store.getContainer('nope'), null);
        assert.deepEqual(await store.listContainers(), []);
      });

      it('lists every container, sorted by id, as getContainer returns them', async () => {
        for (const name of ['c3', 'c1', 'c2']) await store.registerContainer(registration(name));
        const all = await store.listContainers();
        assert.deepEqual(
          all.map((r) => r.id),
          ['c1', 'c2', 'c3'],
        );
        for (const record of all) assert.deepEqual(await store.getContainer(record.id), record);
      });

      it('hands out copies: changing a returned record changes nothing stored', async () => {
        const record = await store.registerContainer(registration('c1'));
        record.labels.zone = 'changed';
        record.capabilities.push('changed');
        const stored = await store.getContainer('c1');
        assert.equal(stored?.labels.zone, 'a');
        assert.deepEqual(stored?.capabilities, ['gpu']);
      });
    });

    describe('renewLease', () => {
      it('extends the lease of the current epoch and records the renewal', async () => {
        const record = await store.registerContainer(registration('c1'));
        const before = await store.now();
        const result = await store.renewLease('c1', record.epoch, 5_000);
        const after = await store.now();
        assert.equal(result.ok, true);
        assert.ok(result.ok && result.deadlineMs >= before + 5_000 && result.deadlineMs <= after + 5_000);
        const renewed = await store.getContainer('c1');
        assert.ok(renewed && renewed.lastRenewalMs >= before && renewed.lastRenewalMs <= after);
      });

      it('refuses an unknown container', async () => {
        assert.deepEqual(await store.renewLease('ghost', 1, 1_000), { ok: false, reason: 'unknown' });
      });

      it('refuses a stale epoch (an older incarnation)', async () => {
        await store.registerContainer(registration('c1'));
        await store.registerContainer(registration('c1'));
        assert.deepEqual(await store.renewLease('c1', 1, 1_000), { ok: false, reason: 'stale_epoch' });
        assert.deepEqual(await store.renewLease('c1', 3, 1_000), { ok: false, reason: 'stale_epoch' });
        assert.equal((await store.renewLease('c1', 2, 1_000)).ok, true);
      });

      it('refuses a container already declared down, which stays down', async () => {
        const record = await store.registerContainer(registration('c1', { leaseTimeoutMs: SHORT_TTL_MS }));
        await eventually(() => store.expireLeases(), (ids) => ids.includes('c1'));
        assert.deepEqual(await store.renewLease('c1', record.epoch, 1_000), { ok: false, reason: 'down' });
        assert.equal((await store.getContainer('c1'))?.state, 'down');
      });

      it('keeps a container alive past its first deadline while it renews', async () => {
        const timeoutMs = 400;
        const record = await store.registerContainer(registration('c1', { leaseTimeoutMs: timeoutMs }));
        const until = Date.now() + timeoutMs * 2;
        while (Date.now() < until) {
          assert.equal((await store.renewLease('c1', record.epoch, timeoutMs)).ok, true);
          assert.deepEqual(await store.expireLeases(), []);
          await sleep(50);
        }
        assert.equal((await store.getContainer('c1'))?.state, 'active');
      });

      it('rejects a non-positive epoch or timeout', async () => {
        await store.registerContainer(registration('c1'));
        await assert.rejects(store.renewLease('c1', 0, 1_000), StoreError);
        await assert.rejects(store.renewLease('c1', 1, -5), StoreError);
      });
    });

    describe('expireLeases', () => {
      it('marks a container down once its lease has lapsed, and only once', async () => {
        const record = await store.registerContainer(registration('c1', { leaseTimeoutMs: SHORT_TTL_MS }));
        assert.deepEqual(await store.expireLeases(), [], 'not before the timeout');
        const down = await eventually(() => store.expireLeases(), (ids) => ids.length > 0);
        assert.deepEqual(down, ['c1']);
        const after = await store.getContainer('c1');
        assert.equal(after?.state, 'down');
        assert.ok(after?.downAtMs !== null && after !== null && after.downAtMs >= record.registeredAtMs + SHORT_TTL_MS);
        assert.deepEqual(await store.expireLeases(), []);
        const downEvents = (await eventsOf(store, 'c1')).filter((e) => e.type === 'container_down');
        assert.equal(downEvents.length, 1);
        assert.equal(downEvents[0]?.epoch, record.epoch);
        assert.deepEqual(downEvents[0]?.data, { lastRenewalMs: record.lastRenewalMs });
      });

      it('leaves containers with live leases alone', async () => {
        await store.registerContainer(registration('short', { leaseTimeoutMs: SHORT_TTL_MS }));
        await store.registerContainer(registration('long'));
        await eventually(() => store.expireLeases(), (ids) => ids.length > 0);
        assert.equal((await store.getContainer('short'))?.state, 'down');
        assert.equal((await store.getContainer('long'))?.state, 'active');
      });

      it('marks at most `limit` per call; the rest go on the next', async () => {
        for (const name of ['c1', 'c2', 'c3']) {
          await store.registerContainer(registration(name, { leaseTimeoutMs: SHORT_TTL_MS }));
        }
        await sleep(SHORT_TTL_MS + 50);
        const first = await store.expireLeases(2);
        assert.equal(first.length, 2);
        const second = await store.expireLeases(2);
        assert.deepEqual([...first, ...second].sort(), ['c1', 'c2', 'c3']);
      });

      it('does not report a container that deregistered or was removed', async () => {
        const a = await store.registerContainer(registration('a', { leaseTimeoutMs: SHORT_TTL_MS }));
        await store.registerContainer(registration('b', { leaseTimeoutMs: SHORT_TTL_MS }));
        await store.deregisterContainer('a', a.epoch);
        await store.removeContainer('b', { force: true });
        await sleep(SHORT_TTL_MS + 50);
        assert.deepEqual(await store.expireLeases(), []);
      });

      it('lets a container that was down register again with a new epoch and a running lease', async () => {
        await store.registerContainer(registration('c1', { leaseTimeoutMs: SHORT_TTL_MS }));
        await eventually(() => store.expireLeases(), (ids) => ids.includes('c1'));
        const again = await store.registerContainer(registration('c1', { leaseTimeoutMs: SHORT_TTL_MS }));
        assert.equal(again.epoch, 2);
        assert.equal((await store.renewLease('c1', 2, SHORT_TTL_MS)).ok, true);
        await eventually(() => store.expireLeases(), (ids) => ids.includes('c1'));
      });
    });

    describe('lateContainers and markUnreachable (the probe path)', () => {
      it('finds an active container late with its renewal, with its address, and marks it down once', async () => {
        // Interval 50 ms, timeout 60 s: late after 1.2 × 50 ms, the lease far from lapsing.
        const record = await store.registerContainer(registration('late', { leaseIntervalMs: 50, hostAddress: '127.0.0.9', apiPort: 8123 }));
        await store.registerContainer(registration('punctual', { leaseIntervalMs: 60_000 }));
        const late = await eventually(() => store.lateContainers(LONG_TTL_MS, 1.2), (cs) => cs.length > 0);
        assert.deepEqual(late, [{ id: 'late', epoch: record.epoch, lastRenewalMs: record.lastRenewalMs, hostAddress: '127.0.0.9', apiPort: 8123 }]);
        assert.deepEqual(await store.markUnreachable(late), ['late']);
        assert.deepEqual(await store.markUnreachable(late), [], 'only once');
        assert.equal((await store.getContainer('late'))?.state, 'down');
        assert.equal((await store.getContainer('punctual'))?.state, 'active');
        const down = (await eventsOf(store, 'late')).at(-1);
        assert.equal(down?.type, 'container_down');
        assert.equal(down?.data.reason, 'unreachable');
        assert.deepEqual(await store.expireLeases(), [], 'its lease is gone with it');
      });

      it('leaves a container alone that renewed since it was found late', async () => {
        const record = await store.registerContainer(registration('c1', { leaseIntervalMs: 50 }));
        const late = await eventually(() => store.lateContainers(LONG_TTL_MS, 1.2), (cs) => cs.length > 0);
        await sleep(5);
        assert.equal((await store.renewLease('c1', record.epoch, LONG_TTL_MS)).ok, true);
        assert.deepEqual(await store.markUnreachable(late), []);
        assert.equal((await store.getContainer('c1'))?.state, 'active');
      });

      it('looks only at leases within the window, and at most `limit`', async () => {
        for (const name of ['a', 'b', 'c']) await store.registerContainer(registration(name, { leaseIntervalMs: 50 }));
        await sleep(100);
        assert.deepEqual(await store.lateContainers(1_000, 1.2), [], 'deadlines 60 s away are outside a 1 s window');
        assert.equal((await store.lateContainers(LONG_TTL_MS, 1.2, 2)).length, 2);
        await assert.rejects(store.lateContainers(LONG_TTL_MS, 0), StoreError);
      });
    });

    describe('deregisterContainer', () => {
      it('removes the record of the current epoch and logs container_left', async () => {
        const record = await store.registerContainer(registration('c1'));
        assert.equal(await store.deregisterContainer('c1', record.epoch), true);
        assert.equal(await store.getContainer('c1'), null);
        assert.deepEqual(await store.listContainers(), []);
        const left = (await eventsOf(store, 'c1')).at(-1);
        assert.equal(left?.type, 'container_left');
        assert.equal(left?.epoch, record.epoch);
      });

      it('refuses a stale epoch and leaves the newer incarnation untouched', async () => {
        await store.registerContainer(registration('c1'));
        const newer = await store.registerContainer(registration('c1'));
        assert.equal(await store.deregisterContainer('c1', 1), false);
        assert.deepEqual(await store.getContainer('c1'), newer);
        assert.equal((await eventsOf(store, 'c1')).some((e) => e.type === 'container_left'), false);
      });

      it('returns false for an unknown container', async () => {
        assert.equal(await store.deregisterContainer('ghost', 1), false);
      });
    });

    describe('removeContainer', () => {
      it('refuses an active container without force and leaves it in place', async () => {
        const record = await store.registerContainer(registration('c1'));
        assert.deepEqual(await store.removeContainer('c1'), { ok: false, reason: 'active' });
        assert.deepEqual(await store.removeContainer('c1', { force: false }), { ok: false, reason: 'active' });
        assert.deepEqual(await store.getContainer('c1'), record);
      });

      it('removes an active container with force, returns it and logs container_removed', async () => {
        const record = await store.registerContainer(registration('c1'));
        assert.deepEqual(await store.removeContainer('c1', { force: true }), { ok: true, record });
        assert.equal(await store.getContainer('c1'), null);
        const removed = (await eventsOf(store, 'c1')).at(-1);
        assert.equal(removed?.type, 'container_removed');
        assert.deepEqual(removed?.data, { state: 'active' });
      });

      it('removes a down container without force', async () => {
        await store.registerContainer(registration('c1', { leaseTimeoutMs: SHORT_TTL_MS }));
        await eventually(() => store.expireLeases(), (ids) => ids.includes('c1'));
        const result = await store.removeContainer('c1');
        assert.equal(result.ok, true);
        assert.equal(result.ok && result.record.state, 'down');
        assert.deepEqual(await store.listContainers(), []);
      });

      it('reports not_found for an unknown container', async () => {
        assert.deepEqual(await store.removeContainer('ghost', { force: true }), { ok: false, reason: 'not_found' });
      });
    });

    describe('setAvailability', () => {
      it('sets each availability and logs the matching event', async () => {
        await store.registerContainer(registration('c1'));
        assert.equal((await store.setAvailability('c1', 'cordoned'))?.availability, 'cordoned');
        assert.equal((await store.setAvailability('c1', 'draining'))?.availability, 'draining');
        assert.equal((await store.setAvailability('c1', 'schedulable'))?.availability, 'schedulable');
        assert.equal((await store.getContainer('c1'))?.availability, 'schedulable');
        const changes = (await eventsOf(store, 'c1')).filter((e) => e.type !== 'container_joined');
        assert.deepEqual(
          changes.map((e) => [e.type, e.epoch, e.data]),
          [
            ['container_cordoned', 1, { from: 'schedulable' }],
            ['container_draining', 1, { from: 'cordoned' }],
            ['container_uncordoned', 1, { from: 'draining' }],
          ],
        );
      });

      it('logs nothing when the availability does not change', async () => {
        await store.registerContainer(registration('c1'));
        await store.setAvailability('c1', 'cordoned');
        const record = await store.setAvailability('c1', 'cordoned');
        assert.equal(record?.availability, 'cordoned');
        assert.equal((await eventsOf(store, 'c1')).filter((e) => e.type === 'container_cordoned').length, 1);
      });

      it('returns null for an unknown container and rejects an unknown availability', async () => {
        assert.equal(await store.setAvailability('ghost', 'cordoned'), null);
        await store.registerContainer(registration('c1'));
        await assert.rejects(store.setAvailability('c1', 'paused' as never), StoreError);
        assert.equal((await store.getContainer('c1'))?.availability, 'schedulable');
      });
    });

    describe('fencing', () => {
      const resource = 'agent:reviewer/alice';

      it('refuses writes to a resource without a fence', async () => {
        assert.deepEqual(await store.fencedWrite(resource, { owner: 'c1', epoch: 1 }, { a: '1' }), { ok: false, reason: 'no_fence' });
        assert.deepEqual(await store.readResource(resource), {});
      });

      it('accepts writes from the assigned owner and epoch, merging fields', async () => {
        await store.assignFence(resource, { owner: 'c1', epoch: 3 });
        assert.deepEqual(await store.fencedWrite(resource, { owner: 'c1', epoch: 3 }, { state: 's1', turn: '1' }), { ok: true });
        assert.deepEqual(await store.fencedWrite(resource, { owner: 'c1', epoch: 3 }, { turn: '2' }), { ok: true });
        assert.deepEqual(await store.fencedWrite(resource, { owner: 'c1', epoch: 3 }, {}), { ok: true });
        assert.deepEqual(await store.readResource(resource), { state: 's1', turn: '2' });
      });

      it('rejects a stale epoch or another owner and leaves the data untouched', async () => {
        await store.assignFence(resource, { owner: 'c1', epoch: 2 });
        await store.fencedWrite(resource, { owner: 'c1', epoch: 2 }, { state: 'good' });
        assert.deepEqual(await store.fencedWrite(resource, { owner: 'c1', epoch: 1 }, { state: 'old' }), { ok: false, reason: 'stale_epoch' });
        assert.deepEqual(await store.fencedWrite(resource, { owner: 'c1', epoch: 5 }, { state: 'ahead' }), { ok: false, reason: 'stale_epoch' });
        assert.deepEqual(await store.fencedWrite(resource, { owner: 'c2', epoch: 2 }, { state: 'other' }), { ok: false, reason: 'not_owner' });
        assert.deepEqual(await store.readResource(resource), { state: 'good' });
      });

      it('moves the right to write with a new assignment (failover)', async () => {
        await store.assignFence(resource, { owner: 'c1', epoch: 1 });
        await store.assignFence(resource, { owner: 'c2', epoch: 4 });
        assert.deepEqual(await store.fencedWrite(resource, { owner: 'c1', epoch: 1 }, { state: 'zombie' }), { ok: false, reason: 'not_owner' });
        assert.deepEqual(await store.fencedWrite(resource, { owner: 'c2', epoch: 4 }, { state: 'new' }), { ok: true });
        assert.deepEqual(await store.readResource(resource), { state: 'new' });
      });

      it('keeps resources apart', async () => {
        await store.assignFence('agent:a', { owner: 'c1', epoch: 1 });
        await store.assignFence('agent:b', { owner: 'c1', epoch: 1 });
        await store.fencedWrite('agent:a', { owner: 'c1', epoch: 1 }, { v: 'a' });
        assert.deepEqual(await store.readResource('agent:b'), {});
      });

      it('rejects invalid resource names and fences', async () => {
        await assert.rejects(store.assignFence('bad}name', { owner: 'c1', epoch: 1 }), StoreError);
        await assert.rejects(store.assignFence('', { owner: 'c1', epoch: 1 }), StoreError);
        await assert.rejects(store.readResource('x{y}'), StoreError);
        await assert.rejects(store.assignFence(resource, { owner: 'c1', epoch: 0 }), StoreError);
        await assert.rejects(store.fencedWrite(resource, { owner: 'bad owner', epoch: 1 }, {}), InvalidNameError);
      });
    });

    describe('leadership', () => {
      it('starts with no leader and term 0', async () => {
        assert.deepEqual(await store.getLeader(), { leaderId: null, term: 0 });
      });

      it('lets only one of two managers lead', async () => {
        assert.deepEqual(await store.acquireLeadership('m1', LONG_TTL_MS), { isLeader: true, leaderId: 'm1', term: 1 });
        assert.deepEqual(await store.acquireLeadership('m2', LONG_TTL_MS), { isLeader: false, leaderId: 'm1', term: 1 });
        assert.deepEqual(await store.acquireLeadership('m1', LONG_TTL_MS), { isLeader: true, leaderId: 'm1', term: 1 }, 'extending keeps the term');
        assert.deepEqual(await store.getLeader(), { leaderId: 'm1', term: 1 });
      });

      it('keeps the lease while the leader extends it', async () => {
        await store.acquireLeadership('m1', SHORT_TTL_MS * 2);
        const until = Date.now() + SHORT_TTL_MS * 4;
        while (Date.now() < until) {
          assert.equal((await store.acquireLeadership('m1', SHORT_TTL_MS * 2)).isLeader, true);
          assert.equal((await store.acquireLeadership('m2', SHORT_TTL_MS * 2)).isLeader, false);
          await sleep(50);
        }
      });

      it('passes to another manager once the ttl lapses, with a higher term', async () => {
        await store.acquireLeadership('m1', SHORT_TTL_MS);
        const taken = await eventually(() => store.acquireLeadership('m2', SHORT_TTL_MS), (r) => r.isLeader);
        assert.deepEqual(taken, { isLeader: true, leaderId: 'm2', term: 2 });
        assert.deepEqual(await store.acquireLeadership('m1', SHORT_TTL_MS), { isLeader: false, leaderId: 'm2', term: 2 });
        const elected = (await store.listEvents()).filter((e) => e.type === 'leader_elected');
        assert.deepEqual(
          elected.map((e) => [e.managerId, e.data]),
          [
            ['m1', { term: 1 }],
            ['m2', { term: 2 }],
          ],
        );
      });

      it('releases only when the caller holds the lease', async () => {
        await store.acquireLeadership('m1', LONG_TTL_MS);
        await store.releaseLeadership('m2');
        assert.deepEqual(await store.getLeader(), { leaderId: 'm1', term: 1 });
        await store.releaseLeadership('m1');
        assert.deepEqual(await store.getLeader(), { leaderId: null, term: 1 });
        assert.deepEqual(await store.acquireLeadership('m2', LONG_TTL_MS), { isLeader: true, leaderId: 'm2', term: 2 });
      });
    });

    describe('managers', () => {
      const info = (id: string, version = '0.1.0') => ({ id, address: `http://127.0.0.1:8000/${id}`, version, startedAtMs: 1_700_000_000_000 });

      it('lists managers that heartbeat, stamped with the store clock', async () => {
        const before = await store.now();
        await store.heartbeatManager(info('m2'), LONG_TTL_MS);
        await store.heartbeatManager(info('m1'), LONG_TTL_MS);
        const after = await store.now();
        const managers = await store.listManagers();
        assert.deepEqual(
          managers.map(({ lastSeenMs: _, ...rest }) => rest),
          [info('m1'), info('m2')],
        );
        for (const m of managers) assert.ok(m.lastSeenMs >= before && m.lastSeenMs <= after);
      });

      it('updates a manager on its next heartbeat', async () => {
        await store.heartbeatManager(info('m1'), LONG_TTL_MS);
        const [first] = await store.listManagers();
        await sleep(5);
        await store.heartbeatManager(info('m1', '0.2.0'), LONG_TTL_MS);
        const [second] = await store.listManagers();
        assert.equal(second?.version, '0.2.0');
        assert.ok(second && first && second.lastSeenMs >= first.lastSeenMs);
      });

      it('forgets a manager whose presence expired', async () => {
        await store.heartbeatManager(info('gone'), SHORT_TTL_MS);
        await store.heartbeatManager(info('stays'), LONG_TTL_MS);
        const managers = await eventually(() => store.listManagers(), (list) => list.length === 1);
        assert.deepEqual(
          managers.map((m) => m.id),
          ['stays'],
        );
      });

      it('removes a manager on request', async () => {
        await store.heartbeatManager(info('m1'), LONG_TTL_MS);
        await store.removeManager('m1');
        await store.removeManager('never-there');
        assert.deepEqual(await store.listManagers(), []);
      });

      it('rejects an unsafe manager id', async () => {
        await assert.rejects(store.heartbeatManager(info('m 1'), LONG_TTL_MS), InvalidNameError);
      });
    });

    describe('events', () => {
      it('lastEventId is a version that moves with every container change', async () => {
        assert.equal(await store.lastEventId(), null);
        const c = await store.registerContainer(registration('v1'));
        const afterJoin = await store.lastEventId();
        assert.ok(afterJoin !== null);
        await store.renewLease('v1', c.epoch, LONG_TTL_MS);
        assert.equal(await store.lastEventId(), afterJoin, 'a renewal changes nothing the version covers');
        await store.setAvailability('v1', 'cordoned');
        const afterCordon = await store.lastEventId();
        assert.notEqual(afterCordon, afterJoin);
        assert.equal(afterCordon, (await store.listEvents({ limit: 1 }))[0]?.id);
      });

      it('appends events with increasing ids and store-clock times', async () => {
        const before = await store.now();
        const a = await store.appendEvent('container_joined', { containerId: 'c1', epoch: 1, data: { why: 'test' } });
        const b = await store.appendEvent('leader_elected', { managerId: 'm1', data: {} });
        const c = await store.appendEvent('container_left');
        const after = await store.now();
        assertIncreasing([a, b, c]);
        for (const e of [a, b, c]) assert.ok(e.atMs >= before && e.atMs <= after);
        assert.deepEqual(await store.listEvents(), [a, b, c]);
        assert.deepEqual(Object.keys(c).sort(), ['atMs', 'data', 'id', 'type'], 'absent fields stay absent');
        assert.deepEqual(c.data, {});
        assert.deepEqual(b.managerId, 'm1');
      });

      it('keeps ids increasing within one millisecond', async () => {
        const events = await Promise.all(Array.from({ length: 50 }, () => store.appendEvent('container_joined', { data: {} })));
        assertIncreasing(await store.listEvents());
        assert.equal((await store.listEvents()).length, events.length);
      });

      it('answers limit with the newest, and afterId with the next ones, oldest first', async () => {
        const all: ClusterEvent[] = [];
        for (let i = 0; i < 5; i++) all.push(await store.appendEvent('container_joined', { data: { i } }));
        assert.deepEqual(await store.listEvents({ limit: 2 }), all.slice(3));
        assert.deepEqual(await store.listEvents({ limit: 50 }), all);
        assert.deepEqual(await store.listEvents({ limit: 0 }), []);
        assert.deepEqual(await store.listEvents({ afterId: all[1]!.id }), all.slice(2));
        assert.deepEqual(await store.listEvents({ afterId: all[1]!.id, limit: 2 }), all.slice(2, 4));
        assert.deepEqual(await store.listEvents({ afterId: all[4]!.id }), []);
        assert.deepEqual(await store.listEvents({ afterId: '0-0' }), all);
      });

      it('rejects a malformed afterId or limit', async () => {
        await assert.rejects(store.listEvents({ afterId: 'yesterday' }), StoreError);
        await assert.rejects(store.listEvents({ limit: -1 }), StoreError);
        await assert.rejects(store.listEvents({ limit: 1.5 }), StoreError);
      });

      it(`caps the log near ${EVENTS_MAX_LENGTH} events, dropping the oldest`, { timeout: TEST_TIMEOUT_MS * 3 }, async () => {
        const total = EVENTS_MAX_LENGTH + 500;
        const batch = 1_000;
        let first: ClusterEvent | undefined;
        let last: ClusterEvent | undefined;
        for (let start = 0; start < total; start += batch) {
          const size = Math.min(batch, total - start);
          const appended = await Promise.all(Array.from({ length: size }, (_, i) => store.appendEvent('container_joined', { data: { n: start + i } })));
          first ??= appended[0];
          last = appended.at(-1);
        }
        const kept = await store.listEvents();
        // Redis trims whole stream nodes (MAXLEN ~), so it may keep a few more than the cap.
        assert.ok(kept.length >= EVENTS_MAX_LENGTH && kept.length <= EVENTS_MAX_LENGTH + 200, `kept ${kept.length}`);
        assert.notEqual(kept[0]?.id, first?.id);
        assert.deepEqual(kept.at(-1), last);
        assertIncreasing(kept);
      });
    });

    describe('health', () => {
      it('pings and tells the time', async () => {
        const rtt = await store.ping();
        assert.ok(Number.isFinite(rtt) && rtt >= 0);
        const now = await store.now();
        assert.ok(Math.abs(now - Date.now()) < 5_000);
      });

      it('fails calls with StoreUnavailableError once closed', async () => {
        await store.close();
        await assert.rejects(store.ping(), StoreUnavailableError);
        await assert.rejects(store.getContainer('c1'), StoreUnavailableError);
      });
    });
  });
}
