/**
 * What authentication costs a request: the same read (GET /api/v1/cluster/containers, 20
 * containers) on one in-process manager app with authentication off, with a valid viewer token
 * (EdDSA verification), and refused without a token (401), through `app.inject()` so the network
 * does not blur the difference. Next to it, the floor measured in the same run: one bare Ed25519
 * signature check (node:crypto) on a token-sized input. Target: a verified request costs at most
 * three such checks more than an open one (the hook's work is one check plus parsing).
 *
 *   npm run bench:auth
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ApiAuthenticator, KeyDir, mintToken } from '../src/auth/index.js';
import { createLogger } from '../src/common/logger.js';
import { buildManagerApp } from '../src/manager/app.js';
import { managerConfigFromEnv } from '../src/manager/config.js';
import { MemoryStore } from '../src/store/index.js';

const REQUESTS = 4_000;
const ROUNDS = 3;
const TARGET_FLOORS = 3;
const URL = '/api/v1/cluster/containers';

const log = createLogger({ bench: 'auth' }, 'silent');

async function perRequestUs(app: FastifyInstance, headers: Record<string, string>, expect: number): Promise<number> {
  for (let i = 0; i < 200; i++) await app.inject({ method: 'GET', url: URL, headers });
  const started = performance.now();
  for (let i = 0; i < REQUESTS; i++) {
    const res = await app.inject({ method: 'GET', url: URL, headers });
    if (res.statusCode !== expect) throw new Error(`expected ${expect}, got ${res.statusCode}: ${res.body}`);
  }
  return ((performance.now() - started) * 1_000) / REQUESTS;
}

/** One bare Ed25519 verification of 300 bytes: the floor of any EdDSA token check. */
function ed25519FloorUs(): number {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const data = Buffer.alloc(300, 7);
  const sig = sign(null, data, privateKey);
  for (let i = 0; i < 200; i++) verify(null, data, publicKey, sig);
  const started = performance.now();
  for (let i = 0; i < REQUESTS; i++) verify(null, data, publicKey, sig);
  return ((performance.now() - started) * 1_000) / REQUESTS;
}

async function freshTokensUs(app: FastifyInstance, tokens: string[]): Promise<number> {
  // A new authenticator cache each round would need a new app; the tokens differ, so none hits.
  let i = 0;
  for (; i < 200; i++) await app.inject({ method: 'GET', url: URL, headers: { authorization: `Bearer ${tokens[i]!}` } });
  const started = performance.now();
  for (let n = 0; n < REQUESTS; n++, i = (i + 1) % tokens.length) {
    const res = await app.inject({ method: 'GET', url: URL, headers: { authorization: `Bearer ${tokens[i]!}` } });
    if (res.statusCode !== 200) throw new Error(`expected 200, got ${res.statusCode}`);
  }
  return ((performance.now() - started) * 1_000) / REQUESTS;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-auth-'));
try {
  const keyDir = new KeyDir(join(dir, 'keys'));
  keyDir.init();
  const store = new MemoryStore();
  for (let i = 0; i < 20; i++) {
    await store.registerContainer({ name: `c${i}`, hostAddress: '127.0.0.1', apiPort: 8001, capabilities: [], labels: {}, resources: {}, metadata: {}, agentTypes: [], leaseIntervalMs: 100_000, leaseTimeoutMs: 600_000 });
  }
  const config = managerConfigFromEnv({});
  const open = await buildManagerApp({ store, config, log });
  // No failure limit: the refused round makes thousands of 401s from one address on purpose.
  const guarded = await buildManagerApp({ store, config, log, auth: new ApiAuthenticator({ keyDir, log, failures: { limit: Number.MAX_SAFE_INTEGER } }) });
  const { token } = await mintToken(keyDir.load(), { sub: 'bench', role: 'viewer', ttlMs: 3_600_000 });
  const rows = { open: [] as number[], token: [] as number[], refused: [] as number[], floor: [] as number[], fresh: [] as number[] };
  // Distinct tokens (distinct jti), so every request pays a full verification.
  const fresh = await Promise.all(Array.from({ length: REQUESTS + 200 }, async () => (await mintToken(keyDir.load(), { sub: 'bench', role: 'viewer', ttlMs: 3_600_000 })).token));
  for (let r = 0; r < ROUNDS; r++) {
    rows.floor.push(ed25519FloorUs());
    rows.open.push(await perRequestUs(open, {}, 200));
    rows.token.push(await perRequestUs(guarded, { authorization: `Bearer ${token}` }, 200));
    rows.refused.push(await perRequestUs(guarded, {}, 401));
    rows.fresh.push(await freshTokensUs(guarded, fresh));
  }
  await open.close();
  await guarded.close();
  const [o, t, f, floor, n] = [median(rows.open), median(rows.token), median(rows.refused), median(rows.floor), median(rows.fresh)];
  const overhead = t - o;
  console.log(`GET ${URL}, ${REQUESTS} requests x ${ROUNDS} rounds (median), in-process:`);
  console.log(`  authentication off                        ${o.toFixed(0).padStart(6)} µs/request`);
  console.log(`  viewer token (verified once, then cached) ${t.toFixed(0).padStart(6)} µs/request  (+${overhead.toFixed(0)} µs)`);
  console.log(`  a new token each time (EdDSA verify)     ${n.toFixed(0).padStart(6)} µs/request  (+${(n - o).toFixed(0)} µs)`);
  console.log(`  no token (401)                            ${f.toFixed(0).padStart(6)} µs/request`);
  console.log(`  floor: one bare Ed25519 verify            ${floor.toFixed(0).padStart(6)} µs (node:crypto, same run)`);
  const met = overhead <= TARGET_FLOORS * floor;
  console.log(`target: a verified request costs at most ${TARGET_FLOORS} bare verifies (${(TARGET_FLOORS * floor).toFixed(0)} µs) more than an open one: ${met ? 'met' : 'MISSED'}`);
  process.exitCode = met ? 0 : 1;
} catch (err) {
  console.error(err);
  process.exitCode = 2;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
