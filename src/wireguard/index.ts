/** WireGuard for the VPN deployment method: keys, the tunnel layout, wg0.conf files, rotation. */
export { generateKeyPair, publicKeyOf, InvalidKeyError, type KeyPair } from './keys.js';
export { parseSubnet, parseEndpoint, planHosts, WireguardPlanError, DEFAULT_LISTEN_PORT, MANAGER_HOST, MAX_AGENTS, type Subnet, type Endpoint, type PlannedHost } from './plan.js';
export { agentConfig, managerConfig, type KeyedHost } from './config.js';
export { initLayout, rotateHost, WireguardFilesError, CONFIG_FILE, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, type InitResult, type RotateResult } from './files.js';
