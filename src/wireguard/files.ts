/**
 * The files of a WireGuard layout on disk: `<dir>/<host>/wg0.conf` and `privatekey` (mode 0600:
 * they hold the private key) and `publickey` (0644). Both operations are all or nothing: init
 * writes into a staging directory renamed into place at the end; rotate prepares every changed
 * file before it renames any into place.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { agentConfig, managerConfig, type KeyedHost } from './config.js';
import { generateKeyPair, publicKeyOf } from './keys.js';
import { planHosts, type Endpoint, type Subnet } from './plan.js';

export const CONFIG_FILE = 'wg0.conf';
export const PRIVATE_KEY_FILE = 'privatekey';
export const PUBLIC_KEY_FILE = 'publickey';
const SECRET_MODE = 0o600;
const PUBLIC_MODE = 0o644;

export class WireguardFilesError extends Error {
  override readonly name = 'WireguardFilesError';
}

export interface InitResult {
  dir: string;
  hosts: { name: string; address: string; publicKey: string; config: string }[];
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: SECRET_MODE });
  chmodSync(path, SECRET_MODE); // the umask may have taken bits away from mode, never added; be exact
}

export function initLayout(outDir: string, subnet: Subnet, endpoint: Endpoint, agents: number): InitResult {
  const dir = resolve(outDir);
  const planned = planHosts(subnet, agents);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new WireguardFilesError(`${dir} is not empty; choose another --out or remove it (keys are never overwritten)`);
  const hosts: KeyedHost[] = planned.map((h) => ({ ...h, ...generateKeyPair() }));
  const [manager, ...agentHosts] = hosts as [KeyedHost, ...KeyedHost[]];
  const staging = join(dirname(dir), `.${basename(dir)}.staging-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(staging, { recursive: true, mode: 0o700 });
    for (const host of hosts) {
      const hostDir = join(staging, host.name);
      mkdirSync(hostDir, { mode: 0o700 });
      const config = host === manager ? managerConfig(manager, agentHosts, subnet, endpoint) : agentConfig(host, manager, subnet, endpoint);
      writeSecret(join(hostDir, CONFIG_FILE), config);
      writeSecret(join(hostDir, PRIVATE_KEY_FILE), `${host.privateKey}\n`);
      writeFileSync(join(hostDir, PUBLIC_KEY_FILE), `${host.publicKey}\n`, { mode: PUBLIC_MODE });
    }
    if (existsSync(dir)) rmdirSync(dir); // empty (checked above)
    renameSync(staging, dir);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw new WireguardFilesError(`could not write ${dir}: ${(err as Error).message}`, { cause: err });
  }
  return { dir, hosts: hosts.map((h) => ({ name: h.name, address: h.address, publicKey: h.publicKey, config: join(dir, h.name, CONFIG_FILE) })) };
}

export interface RotateResult {
  host: string;
  oldPublicKey: string;
  publicKey: string;
  /** The configs that changed: the host's own and every one naming it as a peer. */
  updated: string[];
}

export function rotateHost(layoutDir: string, host: string): RotateResult {
  const dir = resolve(layoutDir);
  if (!existsSync(dir)) throw new WireguardFilesError(`${dir} does not exist; pass the --dir that wireguard init wrote`);
  const hosts = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && existsSync(join(dir, e.name, CONFIG_FILE))).map((e) => e.name);
  if (!hosts.includes(host)) throw new WireguardFilesError(`no host ${JSON.stringify(host)} in ${dir}; hosts: ${hosts.join(', ') || 'none'}`);
  const ownConfigPath = join(dir, host, CONFIG_FILE);
  const ownConfig = readFileSync(ownConfigPath, 'utf8');
  const privateLine = /^PrivateKey\s*=\s*(\S+)\s*$/m.exec(ownConfig);
  if (!privateLine) throw new WireguardFilesError(`${ownConfigPath} has no PrivateKey line`);
  let oldPublicKey: string;
  try {
    oldPublicKey = publicKeyOf(privateLine[1]!);
  } catch (err) {
    throw new WireguardFilesError(`${ownConfigPath}: its PrivateKey is not a WireGuard key (${(err as Error).message})`, { cause: err });
  }
  const fresh = generateKeyPair();

  const changes = new Map<string, string>();
  changes.set(ownConfigPath, ownConfig.replace(privateLine[0], `PrivateKey = ${fresh.privateKey}`));
  for (const other of hosts.filter((h) => h !== host)) {
    const path = join(dir, other, CONFIG_FILE);
    const text = readFileSync(path, 'utf8');
    const peerLine = new RegExp(`^PublicKey\\s*=\\s*${oldPublicKey.replace(/[+/=]/g, (c) => `\\${c}`)}\\s*$`, 'gm');
    if (peerLine.test(text)) changes.set(path, text.replace(peerLine, `PublicKey = ${fresh.publicKey}`));
  }
  changes.set(join(dir, host, PRIVATE_KEY_FILE), `${fresh.privateKey}\n`);
  changes.set(join(dir, host, PUBLIC_KEY_FILE), `${fresh.publicKey}\n`);

  // Every new file is written beside its target first; only then is anything renamed into place.
  const suffix = `.rotate-${randomBytes(4).toString('hex')}`;
  try {
    for (const [path, text] of changes) {
      if (basename(path) === PUBLIC_KEY_FILE) writeFileSync(path + suffix, text, { mode: PUBLIC_MODE });
      else writeSecret(path + suffix, text);
    }
  } catch (err) {
    for (const path of changes.keys()) rmSync(path + suffix, { force: true });
    throw new WireguardFilesError(`could not write the rotated files: ${(err as Error).message}`, { cause: err });
  }
  for (const path of changes.keys()) renameSync(path + suffix, path);
  return { host, oldPublicKey, publicKey: fresh.publicKey, updated: [...changes.keys()].filter((p) => basename(p) === CONFIG_FILE) };
}
