import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { LatencyProbe, MANAGER_TARGET, REDIS_TARGET } from '../../../src/observability/index.js';
import type { LatencyReport } from '../../../src/store/index.js';
import type { ContainerRecord } from '../../../src/protocol/container.js';
import { freePort } from '../../helpers/processes.js';

test('the probe reads the peer list again only when the event log moved, and reports every target', async () => {
  let lists = 0;
  let eventId = '1-0';
  const reports: LatencyReport[] = [];
  // A closed loopback port stands for the manager and the peer: their probes fail, which is reported.
  const closed = await freePort();
  const peer = { id: 'c2', hostAddress: '127.0.0.1', apiPort: closed, state: 'active' } as ContainerRecord;
  const down = { id: 'c3', hostAddress: '127.0.0.1', apiPort: closed, state: 'down' } as ContainerRecord;
  const probe = new LatencyProbe({
    selfId: 'c1',
    managerUrl: `http://127.0.0.1:${closed}`,
    intervalMs: 1_000,
    log: pino({ level: 'silent' }),
    store: {
      ping: async () => 0,
      lastEventId: async () => eventId,
      listContainers: async () => {
        lists++;
        return [{ ...peer }, { ...down }, { id: 'c1', hostAddress: '127.0.0.1', apiPort: closed, state: 'active' } as ContainerRecord];
      },
      putLatency: async (report) => void reports.push(report),
    },
  });
  await probe.round();
  await probe.round();
  assert.equal(lists, 1, 'same event id: the cached list');
  eventId = '2-0';
  await probe.round();
  assert.equal(lists, 2, 'the log moved: listed again');
  const last = reports.at(-1)!;
  assert.equal(last.from, 'c1');
  assert.deepEqual(last.entries.map((e) => e.to).sort(), ['c2', MANAGER_TARGET, REDIS_TARGET].sort(), 'itself and down peers are not probed');
  assert.equal(last.entries.find((e) => e.to === REDIS_TARGET)?.samples, 3);
  const failed = last.entries.find((e) => e.to === 'c2')!;
  assert.equal(failed.samples, 0);
  assert.ok(failed.error !== null && failed.error.length > 0, 'why the peer probe failed');
});
