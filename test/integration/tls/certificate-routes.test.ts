/**
 * The manager's certificate routes in process (app.inject): a CSR at registration is signed with
 * the names the manager chooses (the container id and its address, never the CSR's), a CSR whose
 * signature does not hold is a 400 that leaves no registration behind, renewal needs a registered
 * container, no CA is a 409; and the TLS settings' clear errors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { MemoryStore } from '../../../src/store/index.js';
import { buildManagerApp } from '../../../src/manager/app.js';
import { managerConfigFromEnv } from '../../../src/manager/config.js';
import { createLogger } from '../../../src/common/logger.js';
import { ApiAuthenticator } from '../../../src/auth/index.js';
import { ConfigError } from '../../../src/common/env.js';
import { caCheckIntervalFromEnv, CertificateIssuer, certificateInfo, DEFAULT_CA_CHECK_INTERVAL_MS, finishCaRotation, initClusterCa, newKeyAndCsr, rotateClusterCa, tlsSettingsFromEnv } from '../../../src/tls/index.js';
import { testKeys, type TestKeys } from '../../helpers/auth.js';

const log = createLogger({ test: 'certificate-routes' }, 'silent');

describe('certificate routes', () => {
  let keys: TestKeys;
  let app: FastifyInstance;
  let store: MemoryStore;
  let caPem: string;

  before(async () => {
    keys = testKeys('certroutes');
    await initClusterCa(keys.keyDir);
    caPem = keys.keyDir.readCa()!.certPem;
    store = new MemoryStore();
    app = await buildManagerApp({ store, config: managerConfigFromEnv({}), log, auth: new ApiAuthenticator({ keyDir: keys.keyDir, log }), certificates: new CertificateIssuer(keys.keyDir, 60_000) });
  });
  after(async () => {
    await app.close();
    await store.close();
    keys.remove();
  });

  const post = (url: string, token: string, payload: object) => app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` }, payload });

  test('registration signs the CSR with the names the manager chooses', async () => {
    const { keyPem, csrPem } = await newKeyAndCsr('box', ['evil.example', '10.9.9.9']);
    const res = await post('/api/v1/cluster/containers/register', keys.joinToken(), { container_name: 'box', host_address: '127.0.0.7', csr: csrPem });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<{ certificate: string; ca_certificate: string; certificate_expires_at: string; certificate_serial: string }>();
    assert.equal(body.ca_certificate, caPem);
    const cert = new X509Certificate(body.certificate);
    assert.ok(cert.checkIssued(new X509Certificate(caPem)) && cert.verify(new X509Certificate(caPem).publicKey), 'issued and signed by the cluster CA');
    const info = certificateInfo(cert);
    assert.equal(info.commonName, 'box');
    assert.deepEqual(info.names.sort(), ['127.0.0.7', 'box'], "the CSR's own names are ignored");
    assert.equal(info.serial, body.certificate_serial);
    assert.ok(Math.abs(info.notAfter.getTime() - (Date.now() + 60_000)) < 5_000, 'lifetime from the issuer (60 s here)');
    // The certificate is for the key the container holds.
    const mine = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
    assert.deepEqual(cert.publicKey.export({ type: 'spki', format: 'der' }), mine);
  });

  test('a CSR whose signature does not hold: 400 invalid_csr, and nothing registered', async () => {
    const { csrPem } = await newKeyAndCsr('tampered');
    // Change one base64 character inside the body (the signed part), keeping the PEM shape.
    const lines = csrPem.split('\n');
    const i = 3;
    lines[i] = lines[i]!.slice(0, 5) + (lines[i]![5] === 'A' ? 'B' : 'A') + lines[i]!.slice(6);
    const res = await post('/api/v1/cluster/containers/register', keys.joinToken(), { container_name: 'tampered', host_address: '127.0.0.1', csr: lines.join('\n') });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json<{ error: string; field: string }>().error, 'invalid_csr');
    assert.equal(await store.getContainer('tampered'), null, 'no registration was written');
    const notPem = await post('/api/v1/cluster/containers/register', keys.joinToken(), { container_name: 'tampered', host_address: '127.0.0.1', csr: 'hello' });
    assert.equal(notPem.statusCode, 400);
    assert.equal(await store.getContainer('tampered'), null);
  });

  test('renewal: a new certificate for a registered container; 404 for an unknown one; the CA is public', async () => {
    const admin = await keys.token('admin');
    const { csrPem } = await newKeyAndCsr('box');
    const renewed = await post('/api/v1/cluster/containers/box/certificate', admin, { csr: csrPem });
    assert.equal(renewed.statusCode, 200, renewed.body);
    assert.deepEqual(certificateInfo(renewed.json<{ certificate: string }>().certificate).names.sort(), ['127.0.0.7', 'box']);
    assert.equal((await post('/api/v1/cluster/containers/nobody/certificate', admin, { csr: csrPem })).statusCode, 404);
    const ca = await app.inject({ method: 'GET', url: '/api/v1/cluster/ca' });
    assert.equal(ca.statusCode, 200);
    assert.equal(ca.json<{ ca_certificate: string }>().ca_certificate, caPem);
  });

  test('during a CA rotation: the new CA signs, answers carry the bundle and the chain, the old join token admits; after finish neither', async () => {
    const admin = await keys.token('admin');
    const oldToken = keys.joinToken();
    const rotated = await rotateClusterCa(keys.keyDir);
    const newCaPem = keys.keyDir.readCa()!.certPem;
    const crossPem = keys.keyDir.readCaState()!.rotation!.crossCertPem;
    const ca = (await app.inject({ method: 'GET', url: '/api/v1/cluster/ca' })).json<{ ca_certificate: string; fingerprint: string; ca_certificates: string[]; rotation: { previous_fingerprint: string; started_at: string } }>();
    assert.equal(ca.ca_certificate, newCaPem);
    assert.equal(ca.fingerprint, rotated.fingerprint);
    assert.deepEqual(ca.ca_certificates, [newCaPem, caPem]);
    assert.deepEqual(ca.rotation, { previous_fingerprint: rotated.previousFingerprint, started_at: rotated.startedAt });

    type Issued = { certificate: string; ca_certificate: string; ca_certificates: string[]; certificate_chain: string[] };
    const { csrPem } = await newKeyAndCsr('box');
    const renewed = await post('/api/v1/cluster/containers/box/certificate', admin, { csr: csrPem });
    assert.equal(renewed.statusCode, 200, renewed.body);
    const body = renewed.json<Issued>();
    assert.ok(new X509Certificate(body.certificate).verify(new X509Certificate(newCaPem).publicKey), 'signed by the new CA');
    assert.deepEqual([body.ca_certificate, body.ca_certificates, body.certificate_chain], [newCaPem, [newCaPem, caPem], [crossPem]]);
    // A join token handed out before the rotation (the previous CA's fingerprint, same secret) still registers.
    const { csrPem: late } = await newKeyAndCsr('late');
    const joined = await post('/api/v1/cluster/containers/register', oldToken, { container_name: 'late', host_address: '127.0.0.8', csr: late });
    assert.equal(joined.statusCode, 200, joined.body);
    assert.equal(joined.json<Issued>().certificate_chain.length, 1);

    finishCaRotation(keys.keyDir);
    const after = (await app.inject({ method: 'GET', url: '/api/v1/cluster/ca' })).json<{ ca_certificates: string[]; rotation?: unknown }>();
    assert.deepEqual(after.ca_certificates, [newCaPem]);
    assert.equal(after.rotation, undefined);
    const finished = await post('/api/v1/cluster/containers/box/certificate', admin, { csr: csrPem });
    assert.deepEqual(finished.json<Issued>().certificate_chain, []);
    // The authenticator re-reads the key directory at most once a second.
    await new Promise((r) => setTimeout(r, 1_100));
    const refused = await post('/api/v1/cluster/containers/register', oldToken, { container_name: 'later', host_address: '127.0.0.9', csr: late });
    assert.equal(refused.statusCode, 401, refused.body);
    assert.equal(refused.json<{ error: string }>().error, 'invalid_join_token');
    caPem = newCaPem;
  });

  test('a manager without a cluster CA: 409 no_cluster_ca for a CSR, 404 for the CA', async () => {
    const bare = testKeys('certroutes-noca');
    const bareStore = new MemoryStore();
    const bareApp = await buildManagerApp({ store: bareStore, config: managerConfigFromEnv({}), log, auth: new ApiAuthenticator({ keyDir: bare.keyDir, log }), certificates: new CertificateIssuer(bare.keyDir, 60_000) });
    try {
      const { csrPem } = await newKeyAndCsr('box');
      const res = await bareApp.inject({ method: 'POST', url: '/api/v1/cluster/containers/register', headers: { authorization: `Bearer ${bare.joinToken()}` }, payload: { container_name: 'box', host_address: '127.0.0.1', csr: csrPem } });
      assert.equal(res.statusCode, 409);
      assert.equal(res.json<{ error: string }>().error, 'no_cluster_ca');
      assert.equal(await bareStore.getContainer('box'), null);
      assert.equal((await bareApp.inject({ method: 'GET', url: '/api/v1/cluster/ca' })).statusCode, 404);
    } finally {
      await bareApp.close();
      await bareStore.close();
      bare.remove();
    }
  });
});

describe('TLS settings', () => {
  test('clear errors for bad values; bring-your-own needs all three files', () => {
    assert.throws(() => tlsSettingsFromEnv({ FLOTILLA_TLS: 'yes' }), (e: unknown) => e instanceof ConfigError && /FLOTILLA_TLS="yes" must be on or off/.test(e.message));
    assert.throws(() => tlsSettingsFromEnv({ FLOTILLA_CERT_TTL: '2s' }), /FLOTILLA_CERT_TTL=2s is too short/);
    assert.throws(() => tlsSettingsFromEnv({ FLOTILLA_CERT_TTL: 'soon' }), /FLOTILLA_CERT_TTL: "soon" is not a duration/);
    assert.throws(() => tlsSettingsFromEnv({ FLOTILLA_TLS_CERT: '/x.crt' }), /needs all three .* missing: FLOTILLA_TLS_KEY, FLOTILLA_TLS_CA/);
    assert.throws(() => tlsSettingsFromEnv({ FLOTILLA_TLS_CERT: '/nope/x.crt', FLOTILLA_TLS_KEY: '/nope/x.key', FLOTILLA_TLS_CA: '/nope/ca.crt' }), /FLOTILLA_TLS_CERT=\/nope\/x\.crt: cannot read it/);
    const s = tlsSettingsFromEnv({ FLOTILLA_TLS: 'on', FLOTILLA_CERT_TTL: '30s', FLOTILLA_TLS_SANS: 'mgr.example, 10.0.0.5' });
    assert.deepEqual(s, { enabled: true, own: null, extraNames: ['mgr.example', '10.0.0.5'], certTtlMs: 30_000 });
    assert.equal(tlsSettingsFromEnv({}).enabled, false);
    assert.equal(caCheckIntervalFromEnv({}), DEFAULT_CA_CHECK_INTERVAL_MS);
    assert.equal(caCheckIntervalFromEnv({ FLOTILLA_CA_CHECK_INTERVAL: '2s' }), 2_000);
    assert.throws(() => caCheckIntervalFromEnv({ FLOTILLA_CA_CHECK_INTERVAL: '0s' }), /FLOTILLA_CA_CHECK_INTERVAL: "0s" must be longer than zero/);
    assert.throws(() => caCheckIntervalFromEnv({ FLOTILLA_CA_CHECK_INTERVAL: 'often' }), /FLOTILLA_CA_CHECK_INTERVAL: "often" is not a duration/);
  });
});
