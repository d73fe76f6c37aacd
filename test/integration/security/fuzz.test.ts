/**
 * Hostile input: at least 10,000 generated bad requests (fast-check, fixed seed) spread over every
 * route of the manager (read from its route table): wrong types, missing and extra fields, bodies
 * that are not JSON, too big or too deeply nested, the wrong content type, odd unicode and path
 * tricks in ids, bad query values, bad credentials. Every answer must be a 4xx with the JSON
 * error body and no stack trace; the cluster's state afterwards is exactly what it was before.
 * Sent with `app.inject()` (in-process, no sockets) with an admin token, so authorization never
 * hides a validation gap; a few checks that need a real socket (oversized headers) use one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { MemoryStore } from '../../../src/store/index.js';
import { buildManagerApp, routesOf } from '../../../src/manager/app.js';
import { managerConfigFromEnv } from '../../../src/manager/config.js';
import { createLogger } from '../../../src/common/logger.js';
import { ApiAuthenticator } from '../../../src/auth/index.js';
import { isAgentId, isSafeName } from '../../../src/protocol/names.js';
import { testKeys, type TestKeys } from '../../helpers/auth.js';
import { SAMPLES, seedCluster, type Sample, type SampleState } from './api-samples.js';

const log = createLogger({ test: 'fuzz' }, 'silent');
const RUNS = 10_000;
const SEED = 20_261_126;
const MAX_BODY = 65_536;

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: unknown;
  pattern?: string;
}
interface RouteInfo {
  key: string;
  method: string;
  url: string;
  access: string;
  sample: Sample;
  body?: JsonSchema;
  query: string[];
  params: string[];
}

interface BadRequest {
  route: string;
  strategy: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids no route accepts: odd unicode, separators, traversal, too long, or empty. */
const badId = fc.oneof(
  fc.constantFrom('..', '.', '-lead', '_lead', 'a b', 'a/b', 'a\\b', 'a:b', '{x}', 'a'.repeat(129), '\u0000', '\u202eevil', '😀', 'ü', 'a%00b', '<script>', "'; DROP", '${x}', ''),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((s) => !isSafeName(s)),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((s) => !isSafeName(s)),
);
const PATH_TRICKS = ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd', '//etc//passwd', '/.%00./nope', '/%ff%fe/nope', '/;/nope', '/a?b=../../nope'];

function jsonTypeOk(v: unknown, type: string): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    case 'array':
      return Array.isArray(v);
    case 'object':
      return v !== null && typeof v === 'object' && !Array.isArray(v);
    case 'null':
      return v === null;
    default:
      return true;
  }
}
const anyJson = fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }));

function nested(depth: number, asObject: boolean): string {
  return asObject ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth);
}

function routeStrategies(r: RouteInfo, state: SampleState, auth: Record<string, string>): fc.Arbitrary<BadRequest>[] {
  const path = r.sample.path(state);
  const sampleBody = r.sample.body?.(state) as Record<string, unknown> | undefined;
  const base = (strategy: string, extra: Partial<BadRequest>): BadRequest => ({ route: r.key, strategy, method: r.method, url: path, headers: { ...auth }, ...extra });
  const json = (strategy: string, payload: string) => base(strategy, { headers: { ...auth, 'content-type': 'application/json' }, payload });
  const out: fc.Arbitrary<BadRequest>[] = [];
  const schema = r.body;

  if (r.method === 'POST') {
    out.push(fc.string().filter((s) => { try { JSON.parse(s); return false; } catch { return true; } }).map((s) => json('invalid_json', s)));
    out.push(fc.tuple(fc.constantFrom('text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'image/png'), fc.string()).map(([ct, s]) => base('content_type', { headers: { ...auth, 'content-type': ct }, payload: s })));
    out.push(fc.integer({ min: MAX_BODY + 1, max: MAX_BODY * 3 }).map((n) => json('huge_body', JSON.stringify({ message: 'x'.repeat(n) }))));
    out.push(fc.tuple(fc.integer({ min: 65, max: 5_000 }), fc.boolean()).map(([d, o]) => json('deep_body', nested(d, o))));
    if (schema !== undefined) {
      out.push(fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.array(anyJson, { maxLength: 4 })).map((v) => json('body_not_object', JSON.stringify(v))));
      const props = schema.properties ?? {};
      if (schema.additionalProperties === false && sampleBody !== undefined) {
        out.push(fc.tuple(fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !(k in props) && k !== '__proto__'), anyJson).map(([k, v]) => json('extra_field', JSON.stringify({ ...sampleBody, [k]: v }))));
      }
      const required = (schema.required ?? []).filter((k) => sampleBody !== undefined && k in sampleBody);
      if (required.length > 0 && sampleBody !== undefined) {
        out.push(fc.constantFrom(...required).map((k) => {
          const { [k]: _gone, ...rest } = sampleBody;
          return json('missing_field', JSON.stringify(rest));
        }));
      }
      const typed = Object.entries(props).filter(([, p]) => typeof p.type === 'string' && p.type !== 'null');
      if (typed.length > 0 && sampleBody !== undefined) {
        out.push(
          fc.tuple(fc.constantFrom(...typed), anyJson)
            .filter(([[, p], v]) => !jsonTypeOk(v, p.type as string))
            .map(([[k], v]) => json('wrong_type', JSON.stringify({ ...sampleBody, [k]: v }))),
        );
      }
      // Ids inside bodies (names, agent ids, container ids) with the wrong characters.
      const idFields = Object.entries(props).filter(([, p]) => typeof p.pattern === 'string').map(([k]) => k);
      if (idFields.length > 0 && sampleBody !== undefined) {
        out.push(fc.tuple(fc.constantFrom(...idFields), badId).filter(([k, v]) => new RegExp(props[k]!.pattern!).test(v) === false && !isAgentId(v)).map(([k, v]) => json('bad_body_id', JSON.stringify({ ...sampleBody, [k]: v }))));
      }
    }
  }
  if (r.params.length > 0) {
    out.push(
      fc.tuple(fc.constantFrom(...r.params), badId).map(([param, bad]) => {
        const url = r.url.replace(/:([A-Za-z_]+)/g, (_m, name: string) => {
          if (name === param) return encodeURIComponent(bad);
          // The other params keep the sample's values.
          const i = r.url.split('/').indexOf(`:${name}`);
          return path.split('?')[0]!.split('/')[i] ?? 'x';
        });
        const body = sampleBody === undefined ? {} : { headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify(sampleBody) };
        return base('bad_path_id', { url, ...body });
      }),
    );
    if (r.params.includes('message_id')) {
      out.push(fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !UUID_RE.test(s)).map((s) => base('bad_message_id', { url: path.replace(/[^/]+$/, encodeURIComponent(s)) })));
    }
  }
  if (r.query.length > 0) {
    const badValues: Record<string, fc.Arbitrary<string>> = {
      limit: fc.oneof(fc.constantFrom('abc', '-1', '0', '1001', '1.5', '99999999999999999999', 'NaN', '[]'), fc.string({ minLength: 1 }).filter((s) => !/^\s*[+]?\d/.test(s))),
      after: fc.string({ minLength: 1, maxLength: 50 }).filter((s) => !/^\d+-\d+$/.test(s)),
      include_inactive: fc.constantFrom('maybe', 'yes', 'on', '2', 'tru', 'null', '[]'),
      force: fc.constantFrom('maybe', 'yes', 'on', '2', 'tru', 'null', '[]'),
      container_id: badId.filter((s) => s !== ''),
    };
    out.push(
      fc.oneof(
        fc.string({ minLength: 1, maxLength: 10 }).filter((k) => /^[a-z_]+$/.test(k) && !r.query.includes(k)).map((k) => `${k}=1`),
        ...r.query.filter((q) => badValues[q] !== undefined).map((q) => badValues[q]!.map((v) => `${q}=${encodeURIComponent(v)}`)),
      ).map((qs) => base('bad_query', { url: `${path.split('?')[0]}?${qs}` })),
    );
  }
  if (r.access !== 'public') {
    out.push(
      fc.oneof(
        fc.string({ maxLength: 60 }).map((s) => `Bearer ${s}`),
        fc.string({ maxLength: 60 }),
        fc.constantFrom('Basic YWRtaW46YWRtaW4=', 'Bearer', 'Bearer ', 'bearer a.b.c', `Bearer ${'a'.repeat(5_000)}`, 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0.', 'Bearer FLTKN-1-00-00'),
      ).map((h) => {
        const body = sampleBody === undefined ? {} : { payload: JSON.stringify(sampleBody) };
        return base('bad_auth', { headers: { authorization: h, ...(sampleBody === undefined ? {} : { 'content-type': 'application/json' }) }, ...body });
      }),
    );
  }
  // Ending in more segments than any route has: inject() resolves dot segments as a URL parser
  // does, and the trick must not land on a real route after that.
  out.push(fc.constantFrom(...PATH_TRICKS).map((t) => base('path_trick', { url: `${path.split('?')[0]}${t}/zz/zz/zz/zz/zz/zz` })));
  return out;
}

async function snapshot(store: MemoryStore): Promise<unknown> {
  const containers = await store.listContainers();
  const agents = await store.listAgents();
  return {
    containers: containers.sort((a, b) => a.id.localeCompare(b.id)),
    agents: agents.sort((a, b) => a.id.localeCompare(b.id)),
    depths: await Promise.all(agents.map((a) => store.mailboxDepth(a.id))),
    events: await store.listEvents({ limit: 10_000 }),
    subscribers: await store.subscribers('t1'),
  };
}

describe('fuzz: every route with generated bad requests', { timeout: 240_000 }, () => {
  let keys: TestKeys;
  let app: FastifyInstance;
  let store: MemoryStore;
  let state: SampleState;
  let routes: RouteInfo[];
  let admin: string;

  before(async () => {
    keys = testKeys('fuzz');
    admin = await keys.token('admin');
    store = new MemoryStore();
    state = await seedCluster(store);
    app = await buildManagerApp({
      store,
      config: managerConfigFromEnv({ FLOTILLA_MAX_BODY_BYTES: String(MAX_BODY) }),
      log,
      auth: new ApiAuthenticator({ keyDir: keys.keyDir, log, failures: { limit: 1_000_000 } }),
      metrics: { render: async () => '', contentType: 'text/plain' } as never,
    });
    await app.ready();
    const doc = app.swagger() as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: JsonSchema }> }; parameters?: Array<{ in: string; name: string }> }>> };
    const samples = new Map(SAMPLES);
    routes = routesOf(app)
      .filter((r) => r.method !== 'HEAD' && r.url !== '/api/v1/cluster/events/stream')
      .map((r) => {
        const op = doc.paths[r.url.replace(/:([A-Za-z_]+)/g, '{$1}')]?.[r.method.toLowerCase()];
        const sample = samples.get(`${r.method} ${r.url}`);
        assert.ok(sample !== undefined, `no sample for ${r.method} ${r.url}`);
        const body = op?.requestBody?.content?.['application/json']?.schema;
        return {
          key: `${r.method} ${r.url}`,
          method: r.method,
          url: r.url,
          access: r.access,
          sample,
          ...(body === undefined ? {} : { body }),
          query: (op?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
          params: [...r.url.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]!),
        };
      });
  });
  after(async () => {
    await app.close();
    await store.close();
    keys.remove();
  });

  test(`${RUNS} bad requests: each a 4xx with a JSON error, no stack trace, state unchanged`, async () => {
    const before = await snapshot(store);
    const auth = { authorization: `Bearer ${admin}` };
    const arb = fc.oneof(...routes.flatMap((r) => routeStrategies(r, state, auth)));
    const seen = new Map<string, number>();
    const perRoute = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(arb, async (bad) => {
        const res = await app.inject({ method: bad.method as 'GET', url: bad.url, headers: bad.headers, ...(bad.payload === undefined ? {} : { payload: bad.payload }) });
        const what = `${bad.strategy} ${bad.method} ${bad.url.slice(0, 120)} → ${res.statusCode} ${res.body.slice(0, 200)}`;
        assert.ok(res.statusCode >= 400 && res.statusCode < 500, what);
        assert.match(String(res.headers['content-type']), /application\/json/, what);
        const body = JSON.parse(res.body) as { error?: unknown; message?: unknown; status_code?: unknown };
        assert.equal(typeof body.error, 'string', what);
        assert.equal(typeof body.message, 'string', what);
        assert.equal(body.status_code, res.statusCode, what);
        assert.doesNotMatch(res.body, /\bat .*\.(ts|js):\d+|node_modules/, `stack trace: ${what}`);
        seen.set(bad.strategy, (seen.get(bad.strategy) ?? 0) + 1);
        perRoute.set(bad.route, (perRoute.get(bad.route) ?? 0) + 1);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: false },
    );
    const total = [...seen.values()].reduce((a, b) => a + b, 0);
    assert.ok(total >= RUNS, `sent ${total}`);
    // Every route and every kind of bad input was exercised.
    assert.deepEqual(routes.filter((r) => (perRoute.get(r.key) ?? 0) === 0).map((r) => r.key), []);
    for (const s of ['invalid_json', 'content_type', 'huge_body', 'deep_body', 'body_not_object', 'extra_field', 'missing_field', 'wrong_type', 'bad_path_id', 'bad_query', 'bad_auth', 'path_trick', 'bad_body_id', 'bad_message_id']) {
      assert.ok((seen.get(s) ?? 0) > 0, `strategy ${s} was used`);
    }
    assert.deepEqual(await snapshot(store), before, 'the cluster state is unchanged');
    // Still serving.
    const ok = await app.inject({ method: 'GET', url: '/api/v1/cluster/status', headers: auth });
    assert.equal(ok.statusCode, 200);
  });

  test('over a real socket: oversized headers and a malformed request get a JSON 4xx', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const res = await request(`http://127.0.0.1:${port}/api/v1/cluster/status`, { headers: { authorization: `Bearer ${admin}`, 'x-pad': 'p'.repeat(20_000) } });
    const text = await res.body.text();
    assert.equal(res.statusCode, 431, text);
    assert.equal(JSON.parse(text).error, 'headers_too_large');
    const { createConnection } = await import('node:net');
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = createConnection({ port, host: '127.0.0.1' }, () => socket.write('GARBAGE / HTTP/9.9\r\n\r\n'));
      let got = '';
      socket.on('data', (d) => (got += d.toString()));
      socket.on('end', () => resolve(got));
      socket.on('error', reject);
      socket.setTimeout(5_000, () => socket.destroy(new Error('no answer')));
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.equal(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).error, 'bad_request');
  });
});
