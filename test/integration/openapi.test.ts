/**
 * The OpenAPI description of the manager's API (an in-process manager on the memory store, over
 * real HTTP): /openapi.json is an OpenAPI 3 document that lists every route the app registered,
 * each with a summary and its access level; /docs is a page that needs nothing from elsewhere.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { MemoryStore } from '../../src/store/index.js';
import { managerConfigFromEnv } from '../../src/manager/config.js';
import { buildManagerApp } from '../../src/manager/app.js';
import { createLogger } from '../../src/common/logger.js';
import { VERSION } from '../../src/common/version.js';
import { http } from '../helpers/processes.js';

const log = createLogger({ test: 'openapi' }, 'silent');

interface Operation {
  summary?: string;
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content: Record<string, { schema: { required?: string[]; properties?: Record<string, unknown> } }> };
  responses?: Record<string, unknown>;
  'x-flotilla-access'?: string;
}
interface Doc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
}

/**
 * The routes the app really serves, read from Fastify's router (`printRoutes`), independent of
 * the OpenAPI generator: `METHOD /path/{param}`, without the HEAD twins of GET routes.
 */
function routesOf(app: FastifyInstance): Set<string> {
  const out = new Set<string>();
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const at = line.indexOf('── ');
    if (at < 0) continue;
    const depth = Math.round(at / 4);
    const m = /^(.*?)(?: \(([^)]*)\))?$/.exec(line.slice(at + 3).trimEnd());
    if (m === null) continue;
    stack.length = depth;
    const path = (depth > 0 ? (stack[depth - 1] ?? '') : '') + (m[1] ?? '');
    stack.push(path);
    for (const method of (m[2] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== 'HEAD')) {
      out.add(`${method} ${path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    }
  }
  return out;
}

describe('OpenAPI', () => {
  const store = new MemoryStore();
  let app: FastifyInstance;
  let url: string;
  let doc: Doc;

  before(async () => {
    app = await buildManagerApp({ store, config: managerConfigFromEnv({}), log });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    assert.ok(address !== null && typeof address === 'object');
    url = `http://127.0.0.1:${address.port}`;
    const res = await http<Doc>('GET', `${url}/openapi.json`);
    assert.equal(res.status, 200);
    doc = res.body;
  });
  after(async () => {
    await app.close();
    await store.close();
  });

  test('/openapi.json is an OpenAPI 3 document titled Flotilla with the package version', () => {
    assert.match(doc.openapi, /^3\.\d+\.\d+$/);
    assert.equal(doc.info.title, 'Flotilla');
    assert.equal(doc.info.version, VERSION);
    assert.equal(typeof doc.paths, 'object');
  });

  test('every route the app serves is described, and nothing else', () => {
    const served = routesOf(app);
    // Sanity: the parser found the routes we know are there.
    for (const r of ['GET /health', 'POST /api/v1/cluster/containers/register', 'GET /api/v1/cluster/containers/{id}', 'DELETE /api/v1/topics/{topic}/subscribers/{type}/{name}', 'GET /openapi.json', 'GET /docs']) {
      assert.ok(served.has(r), `router lists ${r}`);
    }
    const described = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) described.add(`${method.toUpperCase()} ${path}`);
    }
    assert.deepEqual([...described].sort(), [...served].sort());
  });

  test('every operation has a summary and an x-flotilla-access', () => {
    const levels = new Set(['public', 'read', 'operate', 'admin', 'container', 'join']);
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        assert.ok(typeof op.summary === 'string' && op.summary.length > 0, `${method} ${path} has a summary`);
        assert.ok(levels.has(op['x-flotilla-access'] ?? ''), `${method} ${path} has x-flotilla-access`);
      }
    }
    assert.equal(doc.paths['/health']?.get?.['x-flotilla-access'], 'public');
    assert.equal(doc.paths['/docs']?.get?.['x-flotilla-access'], 'public');
    assert.equal(doc.paths['/openapi.json']?.get?.['x-flotilla-access'], 'public');
    assert.equal(doc.paths['/api/v1/cluster/containers/register']?.post?.['x-flotilla-access'], 'join');
    assert.equal(doc.paths['/api/v1/cluster/agents/deploy']?.post?.['x-flotilla-access'], 'operate');
    assert.equal(doc.paths['/api/v1/cluster/status']?.get?.['x-flotilla-access'], 'read');
  });

  test('bodies, parameters and responses come from the route schemas', () => {
    const register = doc.paths['/api/v1/cluster/containers/register']?.post;
    const body = register?.requestBody?.content['application/json']?.schema;
    assert.ok(body !== undefined, 'register has a JSON body');
    assert.deepEqual([...(body.required ?? [])].sort(), ['container_name', 'host_address']);
    assert.ok('api_port' in (body.properties ?? {}));
    assert.ok(register?.responses?.['200'] !== undefined);

    const one = doc.paths['/api/v1/cluster/containers/{id}']?.get;
    assert.ok(one?.parameters?.some((p) => p.in === 'path' && p.name === 'id' && p.required === true));
    const list = doc.paths['/api/v1/cluster/containers']?.get;
    assert.ok(list?.parameters?.some((p) => p.in === 'query' && p.name === 'include_inactive'));
  });

  test('/docs is an HTML page with no external URL, in it or in what it loads', async () => {
    const res = await fetch(`${url}/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const html = await res.text();
    assert.match(html, /<html/);
    assert.doesNotMatch(html, /https?:\/\//i, 'no absolute http(s) URL in the page');
    assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\/\//i, 'no protocol-relative URL in the page');
    // It lists the routes, with their access.
    assert.ok(html.includes('/api/v1/cluster/containers/register'));
    assert.ok(html.includes('container'));
    // Whatever it loads or links to is served here, and has no external URL either.
    const refs = [...html.matchAll(/(?:src|href)\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1] ?? '');
    for (const ref of refs) {
      assert.ok(ref.startsWith('/') || ref.startsWith('#'), `${ref} is local`);
      if (!ref.startsWith('/') || ref === '/openapi.json') continue;
      const asset = await fetch(`${url}${ref}`);
      assert.equal(asset.status, 200, ref);
      assert.doesNotMatch(await asset.text(), /https?:\/\//i, `${ref} has no external URL`);
    }
  });
});
