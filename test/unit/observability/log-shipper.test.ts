import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { LogShipper, logRecordFromLine } from '../../../src/observability/index.js';
import { MemoryStore, type LogRecord, type ObservabilityStore } from '../../../src/store/index.js';
import { tracingConfigFromEnv } from '../../../src/observability/tracing.js';
import { ConfigError } from '../../../src/common/env.js';

const quiet = pino({ level: 'silent' });

function line(fields: Record<string, unknown>): string {
  return JSON.stringify({ level: 30, time: '2026-11-26T20:00:00.000Z', pid: 1, hostname: 'h', role: 'container', msg: 'm', ...fields });
}

describe('logRecordFromLine', () => {
  test('maps pino fields to columns and keeps the rest as JSON', () => {
    const r = logRecordFromLine(line({ level: 40, container: 'c1', agent: 'echo/a', trace_id: 'ab'.repeat(16), msg: 'hello', step: 3 }));
    assert.deepEqual(r, { time: '2026-11-26T20:00:00.000Z', level: 'warn', containerId: 'c1', agentId: 'echo/a', traceId: 'ab'.repeat(16), msg: 'hello', fields: '{"step":3}' });
  });

  test('a line without extra fields has none; a line that is not JSON is skipped', () => {
    assert.equal(logRecordFromLine(line({}))?.fields, undefined);
    assert.equal(logRecordFromLine('not json'), null);
    assert.equal(logRecordFromLine('42'), null);
  });
});

/** A store whose appends fail while `down` is set. */
function flakyStore(): { store: ObservabilityStore; memory: MemoryStore; setDown(down: boolean): void } {
  const memory = new MemoryStore();
  let down = false;
  const store: ObservabilityStore = {
    appendLogs: (records) => (down ? Promise.reject(new Error('store down')) : memory.appendLogs(records)),
    readLogs: (q) => memory.readLogs(q),
    putLatency: (r, t) => memory.putLatency(r, t),
    listLatency: (ids) => memory.listLatency(ids),
  };
  return { store, memory, setDown: (d) => (down = d) };
}

const msgs = async (store: ObservabilityStore): Promise<string[]> => (await store.readLogs({ limit: 1_000 })).entries.map((e: LogRecord) => e.msg);

describe('LogShipper', () => {
  test('ships lines written before and after start, in order, and flushes what is left on stop', async () => {
    const { store } = flakyStore();
    const shipper = new LogShipper(quiet, { intervalMs: 10_000 });
    shipper.write(line({ msg: 'early' }));
    shipper.start(store);
    for (let i = 0; i < 5; i++) shipper.write(line({ msg: `n${i}` }));
    await shipper.stop();
    assert.deepEqual(await msgs(store), ['early', 'n0', 'n1', 'n2', 'n3', 'n4']);
    assert.equal(shipper.shipped, 6);
  });

  test('keeps lines while the store is down (dropping the oldest beyond its bound), and ships them once it is back', async () => {
    const { store, setDown } = flakyStore();
    setDown(true);
    const shipper = new LogShipper(quiet, { intervalMs: 20, bufferMax: 4, batchMax: 2 });
    shipper.start(store);
    for (let i = 0; i < 6; i++) shipper.write(line({ msg: `n${i}` }));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(shipper.dropped, 2);
    assert.deepEqual(await msgs(store), []);
    setDown(false);
    await new Promise((r) => setTimeout(r, 200));
    await shipper.stop();
    assert.deepEqual(await msgs(store), ['n2', 'n3', 'n4', 'n5'], 'the newest four, in order, none twice');
  });

  test('a pino logger with the shipper as its copy ships its lines', async () => {
    const { store } = flakyStore();
    const shipper = new LogShipper(quiet, { intervalMs: 10_000 });
    shipper.start(store);
    const { createLogger } = await import('../../../src/common/logger.js');
    const log = createLogger({ role: 'container', container: 'c9' }, 'info', shipper);
    log.child({ agent: 'echo/x' }).info({ k: 1 }, 'from the agent');
    log.debug('below the level: not shipped');
    await shipper.stop();
    const [entry] = (await store.readLogs({ limit: 10 })).entries;
    assert.equal(entry?.msg, 'from the agent');
    assert.equal(entry?.containerId, 'c9');
    assert.equal(entry?.agentId, 'echo/x');
    assert.equal((await store.readLogs({ limit: 10 })).entries.length, 1);
  });
});

describe('tracingConfigFromEnv', () => {
  test('off without an endpoint; the traces endpoint wins; the base endpoint gets /v1/traces', () => {
    assert.equal(tracingConfigFromEnv({}, 'svc'), null);
    assert.deepEqual(tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/' }, 'svc'), { url: 'http://127.0.0.1:4318/v1/traces', serviceName: 'svc' });
    assert.deepEqual(
      tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:1', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:2/t', OTEL_SERVICE_NAME: 'mine' }, 'svc'),
      { url: 'http://b:2/t', serviceName: 'mine' },
    );
  });

  test('a bad endpoint is a ConfigError naming the variable', () => {
    assert.throws(() => tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }, 's'), (e: Error) => e instanceof ConfigError && /OTEL_EXPORTER_OTLP_ENDPOINT/.test(e.message));
    assert.throws(() => tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://x:4317' }, 's'), /OTLP over HTTP/);
  });
});
