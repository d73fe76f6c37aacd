/**
 * Redis over TLS with an ACL user, against a real `redis-server` started with TLS (certificates
 * made by openssl for the test): a manager and a container run on it, with authentication on,
 * and an agent answers a message; a wrong password, a missing user or an unknown CA stop a
 * process at start with a message that says what is wrong (exit 2).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { FlotillaProcess, freePort, http, waitFor, waitForHttp } from '../../helpers/processes.js';
import { bearer, testKeys, type TestKeys } from '../../helpers/auth.js';

const USER = 'flotilla';
const PASSWORD = 's3cret-for-tests';

/** A CA and a server certificate for 127.0.0.1 (EC P-256, one day). */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (name: string) => join(dir, name);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '1', '-subj', '/CN=flotilla-test-ca']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  run(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '1', '-extfile', f('ext.cnf')]);
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}

describe('Redis over TLS with an ACL user', { timeout: 180_000 }, () => {
  let dir: string;
  let certs: { ca: string; cert: string; key: string };
  let redis: RedisServer;
  let tlsPort: number;
  let keys: TestKeys;
  const procs: FlotillaProcess[] = [];
  const url = (user: string, password: string) => `rediss://${user}:${password}@127.0.0.1:${tlsPort}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flotilla-redis-tls-'));
    certs = makeCertificates(dir);
    tlsPort = await freePort();
    keys = testKeys('redis-tls');
    // The plain port stays for the helper's readiness probe; with the default user off it answers
    // NOAUTH there. Flotilla connects to the TLS port only.
    redis = await startRedisServer({
      args: [
        '--tls-port', String(tlsPort),
        '--tls-cert-file', certs.cert,
        '--tls-key-file', certs.key,
        '--tls-ca-cert-file', certs.ca,
        '--tls-auth-clients', 'no',
        '--user', 'default', 'off',
        '--user', USER, 'on', `>${PASSWORD}`, '~*', '&*', '+@all',
      ],
    }); // prettier-ignore
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await redis?.stop();
    keys.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  function start(label: string, role: 'manager' | 'container', env: Record<string, string>): FlotillaProcess {
    const p = new FlotillaProcess(label, [role], { FLOTILLA_BIND_ADDRESS: '127.0.0.1', FLOTILLA_PREFIX: `tls${process.pid}:`, ...env });
    procs.push(p);
    return p;
  }

  test('a manager and a container run on it: the container joins, an agent answers', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    start('manager', 'manager', { ...keys.env, REDIS_URL: url(USER, PASSWORD), FLOTILLA_REDIS_CA_FILE: certs.ca, CLUSTER_PORT: String(port) });
    await waitForHttp(`${base}/health`, 15_000);
    await waitFor('/ready', async () => (await http('GET', `${base}/ready`)).status === 200, 15_000);
    start('c-tls', 'container', {
      ...keys.env,
      REDIS_URL: url(USER, PASSWORD),
      FLOTILLA_REDIS_CA_FILE: certs.ca,
      CENTRAL_MANAGER_URL: base,
      CONTAINER_NAME: 'c-tls',
      EXTERNAL_IP: '127.0.0.1',
      AGENT_PORT: String(await freePort()),
      FLOTILLA_JOIN_TOKEN: keys.joinToken(),
    });
    const admin = bearer(await keys.token('admin'));
    await waitFor('c-tls active', async () => (await http<{ state?: string }>('GET', `${base}/api/v1/cluster/containers/c-tls`, undefined, admin)).body.state === 'active', 20_000);
    const deployed = await http('POST', `${base}/api/v1/cluster/agents/deploy`, { agent_type: 'echo', name: 'over-tls' }, admin);
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    const reply = await waitFor('a reply', async () => {
      const res = await http<{ status?: string; result?: unknown }>('POST', `${base}/api/v1/agents/echo/over-tls/messages`, { message: 'hello', timeout_ms: 5_000 }, admin);
      return res.status === 200 ? res.body : undefined;
    }, 30_000);
    assert.equal(reply.status, 'completed');
    assert.deepEqual((reply.result as { echo?: unknown }).echo, 'hello');
  });

  test('a wrong password, an unknown user or no password: the process says so and exits 2', async () => {
    for (const [label, redisUrl] of [
      ['wrong password', url(USER, 'not-it')],
      ['unknown user', url('nobody', PASSWORD)],
      ['no credentials', `rediss://127.0.0.1:${tlsPort}`],
    ] as const) {
      const p = start(`manager (${label})`, 'manager', { FLOTILLA_AUTH: 'off', REDIS_URL: redisUrl, FLOTILLA_REDIS_CA_FILE: certs.ca, CLUSTER_PORT: String(await freePort()) });
      assert.equal((await p.exited).code, 2, `${label}: ${p.text}`);
      assert.match(p.text, /refused the credentials .*check the user and password in REDIS_URL/, label);
      assert.doesNotMatch(p.text, new RegExp(PASSWORD), 'the password is not printed');
      assert.doesNotMatch(p.text, /\n\s+at /, 'no stack trace');
    }
    const c = start('container (wrong password)', 'container', {
      REDIS_URL: url(USER, 'not-it'),
      FLOTILLA_REDIS_CA_FILE: certs.ca,
      CENTRAL_MANAGER_URL: 'http://127.0.0.1:9',
      CONTAINER_NAME: 'c-bad',
      EXTERNAL_IP: '127.0.0.1',
      AGENT_PORT: String(await freePort()),
    });
    assert.equal((await c.exited).code, 2, c.text);
    assert.match(c.text, /refused the credentials/);
  });

  test('without the CA that signed the server certificate: a TLS error that says what to give', async () => {
    const p = start('manager (no CA)', 'manager', { FLOTILLA_AUTH: 'off', REDIS_URL: url(USER, PASSWORD), CLUSTER_PORT: String(await freePort()) });
    assert.equal((await p.exited).code, 2, p.text);
    assert.match(p.text, /TLS to Redis .* failed .*FLOTILLA_REDIS_CA_FILE/);
  });
});
