/**
 * `flotilla wireguard init` and `rotate`, run as the built CLI on a temporary directory: the
 * files, their modes, keys that are real X25519 pairs (checked with node's crypto, and with
 * `wg pubkey` when wireguard-tools is installed, as .ci/run does), the configs' peers, and the
 * errors for bad input (exit 2, one line, nothing written).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run-cli.js';
import { assertNoStackTrace } from './fake-manager.js';
import { publicKeyOf } from '../../src/wireguard/index.js';

const base = mkdtempSync(join(tmpdir(), 'flotilla-wg-test-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(base, `layout-${n++}`);

const read = (dir: string, host: string, file: string): string => readFileSync(join(dir, host, file), 'utf8');
const field = (text: string, name: string): string[] => [...text.matchAll(new RegExp(`^${name} = (.+)$`, 'gm'))].map((m) => m[1]!);
const hasWg = spawnSync('wg', ['--version']).status === 0;

async function init(dir: string, agents = 3): Promise<void> {
  const res = await runCli(['wireguard', 'init', '--subnet', '10.214.7.0/24', '--manager-endpoint', 'vpn.example.test:51820', '--agents', String(agents), '--out', dir]);
  assert.equal(res.code, 0, res.stderr);
}

describe('flotilla wireguard init', () => {
  test('writes a manager and N agents: keys that pair up, 0600 secrets, peers and addresses', async () => {
    const dir = fresh();
    await init(dir);
    assert.deepEqual(readdirSync(dir).sort(), ['agent-1', 'agent-2', 'agent-3', 'manager']);
    const pub = new Map<string, string>();
    for (const host of readdirSync(dir)) {
      for (const file of ['wg0.conf', 'privatekey']) assert.equal(statSync(join(dir, host, file)).mode & 0o777, 0o600, `${host}/${file} mode`);
      const privateKey = read(dir, host, 'privatekey').trim();
      const publicKey = read(dir, host, 'publickey').trim();
      assert.equal(Buffer.from(privateKey, 'base64').length, 32);
      assert.equal(publicKeyOf(privateKey), publicKey, `${host}: publickey is the X25519 public key of privatekey`);
      if (hasWg) assert.equal(spawnSync('wg', ['pubkey'], { input: `${privateKey}\n`, encoding: 'utf8' }).stdout.trim(), publicKey, `${host}: wg pubkey agrees`);
      assert.deepEqual(field(read(dir, host, 'wg0.conf'), 'PrivateKey'), [privateKey]);
      pub.set(host, publicKey);
    }
    assert.equal(new Set(pub.values()).size, 4, 'every host has its own key');
    const manager = read(dir, 'manager', 'wg0.conf');
    assert.deepEqual(field(manager, 'Address'), ['10.214.7.1/24']);
    assert.deepEqual(field(manager, 'ListenPort'), ['51820']);
    assert.deepEqual(field(manager, 'PublicKey'), [pub.get('agent-1'), pub.get('agent-2'), pub.get('agent-3')]);
    assert.deepEqual(field(manager, 'AllowedIPs'), ['10.214.7.2/32', '10.214.7.3/32', '10.214.7.4/32']);
    const agent2 = read(dir, 'agent-2', 'wg0.conf');
    assert.deepEqual(field(agent2, 'Address'), ['10.214.7.3/24']);
    assert.deepEqual(field(agent2, 'PublicKey'), [pub.get('manager')]);
    assert.deepEqual(field(agent2, 'Endpoint'), ['vpn.example.test:51820']);
    assert.deepEqual(field(agent2, 'AllowedIPs'), ['10.214.7.0/24']);
  });

  test('--json describes the layout', async () => {
    const dir = fresh();
    const res = await runCli(['wireguard', 'init', '--subnet', '10.214.8.0/29', '--manager-endpoint', '[fd00::1]:51820', '--agents', '5', '--out', dir, '--json']);
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { hosts: { name: string; address: string; publicKey: string }[] };
    assert.deepEqual(out.hosts.map((h) => h.address), ['10.214.8.1', '10.214.8.2', '10.214.8.3', '10.214.8.4', '10.214.8.5', '10.214.8.6']);
    assert.deepEqual(field(read(dir, 'agent-5', 'wg0.conf'), 'Endpoint'), ['[fd00::1]:51820']);
  });

  const bad: [string, string[], RegExp][] = [
    ['host bits in the subnet', ['--subnet', '10.214.0.1/24', '--manager-endpoint', 'h:51820', '--agents', '2'], /host bits are set; the network address is 10\.214\.0\.0\/24/],
    ['not a CIDR', ['--subnet', 'ten', '--manager-endpoint', 'h:51820', '--agents', '2'], /not an IPv4 CIDR/],
    ['an endpoint without a port', ['--subnet', '10.214.0.0/24', '--manager-endpoint', 'h', '--agents', '2'], /not HOST:PORT/],
    ['port out of range', ['--subnet', '10.214.0.0/24', '--manager-endpoint', 'h:70000', '--agents', '2'], /port 1\.\.65535/],
    ['zero agents', ['--subnet', '10.214.0.0/24', '--manager-endpoint', 'h:51820', '--agents', '0'], /whole number from 1/],
    ['a subnet too small', ['--subnet', '10.214.0.0/30', '--manager-endpoint', 'h:51820', '--agents', '2'], /has 2 host addresses; a manager and 2 agents need 3/],
    ['a missing flag', ['--subnet', '10.214.0.0/24', '--agents', '2'], /--manager-endpoint/],
  ];
  for (const [what, args, message] of bad) {
    test(`refuses ${what}: exit 2, one line, nothing written`, async () => {
      const dir = fresh();
      const res = await runCli(['wireguard', 'init', ...args, '--out', dir]);
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, message);
      assertNoStackTrace(res.stderr);
      assert.equal(existsSync(dir), false);
    });
  }

  test('never overwrites keys: a non-empty --out is refused', async () => {
    const dir = fresh();
    await init(dir, 1);
    const before = read(dir, 'manager', 'privatekey');
    const res = await runCli(['wireguard', 'init', '--subnet', '10.214.0.0/24', '--manager-endpoint', 'h:51820', '--agents', '1', '--out', dir]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /is not empty/);
    assert.equal(read(dir, 'manager', 'privatekey'), before);
    assert.equal(readdirSync(base).filter((f) => f.includes('staging')).length, 0, 'no staging directory left behind');
  });
});

describe('flotilla wireguard rotate', () => {
  test('replaces one host\'s key in its config and in every config naming it, and nothing else', async () => {
    const dir = fresh();
    await init(dir);
    const snapshot = (host: string) => read(dir, host, 'wg0.conf');
    const before = Object.fromEntries(['manager', 'agent-1', 'agent-2', 'agent-3'].map((h) => [h, snapshot(h)]));
    const oldPublic = read(dir, 'agent-2', 'publickey').trim();
    const res = await runCli(['wireguard', 'rotate', 'agent-2', '--dir', dir, '--json']);
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { publicKey: string; oldPublicKey: string; updated: string[] };
    assert.equal(out.oldPublicKey, oldPublic);
    const newPrivate = read(dir, 'agent-2', 'privatekey').trim();
    assert.equal(publicKeyOf(newPrivate), out.publicKey);
    assert.equal(read(dir, 'agent-2', 'publickey').trim(), out.publicKey);
    assert.deepEqual(field(snapshot('agent-2'), 'PrivateKey'), [newPrivate]);
    assert.equal(statSync(join(dir, 'agent-2', 'privatekey')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'agent-2', 'wg0.conf')).mode & 0o777, 0o600);
    const manager = snapshot('manager');
    assert.ok(manager.includes(`PublicKey = ${out.publicKey}`));
    assert.ok(!manager.includes(oldPublic));
    assert.equal(manager.replace(out.publicKey, oldPublic), before.manager, 'only that peer key changed in the manager config');
    assert.equal(snapshot('agent-1'), before['agent-1']);
    assert.equal(snapshot('agent-3'), before['agent-3']);
    assert.deepEqual(out.updated.map((p) => p.slice(dir.length + 1)).sort(), ['agent-2/wg0.conf', 'manager/wg0.conf']);
  });

  test('rotating the manager updates every agent', async () => {
    const dir = fresh();
    await init(dir, 2);
    const res = await runCli(['wireguard', 'rotate', 'manager', '--dir', dir]);
    assert.equal(res.code, 0, res.stderr);
    const managerPublic = read(dir, 'manager', 'publickey').trim();
    for (const agent of ['agent-1', 'agent-2']) assert.deepEqual(field(read(dir, agent, 'wg0.conf'), 'PublicKey'), [managerPublic]);
  });

  test('an unknown host or directory: exit 2 naming what exists', async () => {
    const dir = fresh();
    await init(dir, 1);
    const unknown = await runCli(['wireguard', 'rotate', 'agent-9', '--dir', dir]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no host "agent-9" in .*; hosts: agent-1, manager/);
    assertNoStackTrace(unknown.stderr);
    const missing = await runCli(['wireguard', 'rotate', 'manager', '--dir', join(base, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /does not exist/);
    writeFileSync(join(dir, 'manager', 'wg0.conf'), '[Interface]\n', { mode: 0o600 });
    const broken = await runCli(['wireguard', 'rotate', 'manager', '--dir', dir]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /has no PrivateKey line/);
    writeFileSync(join(dir, 'manager', 'wg0.conf'), '[Interface]\nPrivateKey = c2hvcnQ=\n', { mode: 0o600 });
    const garbage = await runCli(['wireguard', 'rotate', 'manager', '--dir', dir]);
    assert.equal(garbage.code, 2);
    assert.match(garbage.stderr, /its PrivateKey is not a WireGuard key/);
    assertNoStackTrace(garbage.stderr);
  });
});
