/**
 * `flotilla dev`: a manager and one agent container in one process on the embedded in-memory
 * store. No Redis, no configuration; honours CLUSTER_PORT and AGENT_PORT. For trying Flotilla
 * out and for developing agents, not for production (state is gone when it stops).
 */
import { createLogger } from '../common/logger.js';
import { envPort, envString } from '../common/env.js';
import { exitOnSignal, exitWithConfigError } from '../common/shutdown.js';
import { MemoryStore } from '../store/index.js';
import { managerConfigFromEnv } from '../manager/config.js';
import { Manager } from '../manager/manager.js';
import { containerConfigFromEnv } from '../container/config.js';
import { AgentContainer } from '../container/container.js';
import { agentModulesFromEnv, loadAgentTypes } from '../agents/load.js';
import { DEFAULT_AGENT_PORT, DEFAULT_CLUSTER_PORT } from '../protocol/paths.js';

/** Dev binds to loopback unless told otherwise: it has no authentication to offer yet. */
export const DEV_BIND_ADDRESS = '127.0.0.1';

export async function runDevCommand(env = process.env): Promise<void> {
  const startedAt = performance.now();
  const host = envString(env, 'FLOTILLA_BIND_ADDRESS') ?? DEV_BIND_ADDRESS;
  let managerPort: number;
  let agentPort: number;
  try {
    managerPort = envPort(env, 'CLUSTER_PORT', DEFAULT_CLUSTER_PORT);
    agentPort = envPort(env, 'AGENT_PORT', DEFAULT_AGENT_PORT);
  } catch (err) {
    exitWithConfigError(err);
  }
  const log = createLogger({ role: 'dev' }, env.FLOTILLA_LOG_LEVEL ?? 'warn');
  const store = new MemoryStore();
  let manager: Manager | undefined;
  let container: AgentContainer | undefined;
  try {
    const managerConfig = managerConfigFromEnv({ ...env, FLOTILLA_BIND_ADDRESS: host, EXTERNAL_IP: host, CLUSTER_PORT: String(managerPort) });
    manager = new Manager({ store, config: managerConfig, log: log.child({ role: 'manager' }) });
    await manager.start();
    const managerUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${manager.port}`;
    const containerConfig = containerConfigFromEnv({
      ...env,
      CENTRAL_MANAGER_URL: managerUrl,
      EXTERNAL_IP: host === '0.0.0.0' ? '127.0.0.1' : host,
      FLOTILLA_BIND_ADDRESS: host,
      AGENT_PORT: String(agentPort),
      CONTAINER_NAME: envString(env, 'CONTAINER_NAME') ?? 'dev-container',
    });
    const agentTypes = await loadAgentTypes(agentModulesFromEnv(env));
    container = new AgentContainer({ config: containerConfig, log: log.child({ role: 'container' }), store, agentTypes });
    await container.start();
    await container.joined();
    const readyMs = Math.round(performance.now() - startedAt);
    process.stdout.write(
      [
        '',
        `  Flotilla dev is running (ready in ${readyMs} ms; in-memory store, state is lost on exit)`,
        '',
        `  Manager API   ${managerUrl}`,
        `  Health        ${managerUrl}/health`,
        `  Cluster       ${managerUrl}/api/v1/cluster/status`,
        `  Container     http://${containerConfig.externalIp}:${container.port}/status  (${containerConfig.name})`,
        '',
        `  Try: FLOTILLA_URL=${managerUrl} flotilla status`,
        '  Stop with Ctrl-C.',
        '',
      ].join('\n') + '\n',
    );
  } catch (err) {
    await container?.stop().catch(() => undefined);
    await manager?.stop().catch(() => undefined);
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') exitWithConfigError(new Error(`port in use (${e.message}); set CLUSTER_PORT / AGENT_PORT to free ports`));
    exitWithConfigError(err);
  }
  exitOnSignal(async () => {
    await container?.stop();
    await manager?.stop();
    await store.close();
  }, log);
}
