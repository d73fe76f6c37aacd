/**
 * An in-process manager (on the memory store unless given another) with fake containers: registered over HTTP like real
 * ones, their leases renewed by the test (or not, to let them lapse). No agent runs anywhere: the
 * tests check the control plane's decisions (records, fences, inboxes, events).
 */
import { createLogger } from '../../src/common/logger.js';
import { managerConfigFromEnv } from '../../src/manager/config.js';
import { Manager } from '../../src/manager/manager.js';
import type { RegisterBody, RegisterResponse } from '../../src/protocol/api.js';
import { containerInbox, type ControlBody } from '../../src/protocol/runtime.js';
import { MemoryStore, NO_ENTRY_ID, type Store } from '../../src/store/index.js';
import { http, waitFor, type HttpResult } from './processes.js';

const log = createLogger({ test: 'agents' }, 'silent');

/** Renewals keep a fake container alive this often. */
const RENEW_EVERY_MS = 50;

export interface FakeContainer {
  id: string;
  epoch: number;
  /** Stops renewing: the lease lapses after its timeout. */
  stopRenewing(): void;
}

export interface Control {
  agent: string;
  op: string;
}

export interface AgentCluster {
  store: Store;
  manager: Manager;
  url: string;
  /** Registers (or re-registers, with a new epoch) and renews the lease until told not to. */
  container(name: string, body?: Partial<RegisterBody>): Promise<FakeContainer>;
  call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<HttpResult<T>>;
  /** The control entries in a container's inbox, oldest first. */
  controls(containerId: string): Promise<Control[]>;
  close(): Promise<void>;
}

/** `store` (closed by close()) defaults to a fresh MemoryStore. */
export async function startAgentCluster(store: Store = new MemoryStore()): Promise<AgentCluster> {
  const config = managerConfigFromEnv({
    CLUSTER_PORT: '0',
    FLOTILLA_BIND_ADDRESS: '127.0.0.1',
    FLOTILLA_LEADER_LEASE_MS: '1500',
    FLOTILLA_DETECTOR_INTERVAL_MS: '20',
    FLOTILLA_RECONCILE_INTERVAL_MS: '50',
  });
  const manager = new Manager({ store, config, log });
  await manager.start();
  await waitFor('the manager to lead', () => manager.isLeader, 5_000, 10);
  const url = `http://127.0.0.1:${manager.port}`;
  const timers = new Map<string, NodeJS.Timeout>();

  const call = <T>(method: string, path: string, body?: unknown): Promise<HttpResult<T>> => http<T>(method, `${url}${path}`, body);

  return {
    store,
    manager,
    url,
    call,
    async container(name, body = {}) {
      clearInterval(timers.get(name));
      const res = await call<RegisterResponse>('POST', '/api/v1/cluster/containers/register', {
        container_name: name,
        host_address: '127.0.0.1',
        agent_types: ['echo'],
        lease_interval_ms: 100,
        lease_timeout_ms: 3_000,
        ...body,
      });
      if (res.status !== 200) throw new Error(`register ${name}: ${res.status} ${JSON.stringify(res.body)}`);
      const { epoch, lease } = res.body;
      const timer = setInterval(() => void store.renewLease(name, epoch, lease.timeout_ms).catch(() => undefined), RENEW_EVERY_MS);
      timers.set(name, timer);
      return { id: name, epoch, stopRenewing: () => clearInterval(timer) };
    },
    async controls(containerId) {
      const entries = await store.readInbox(containerInbox(containerId), NO_ENTRY_ID, 0);
      return entries.filter((e) => e.kind === 'control').map((e) => ({ agent: e.ref, op: (JSON.parse(e.body) as ControlBody).op }));
    },
    async close() {
      for (const timer of timers.values()) clearInterval(timer);
      await manager.stop();
      await store.close();
    },
  };
}
