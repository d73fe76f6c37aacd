/** `flotilla container`: an agent container process configured by the environment. */
import { createLogger } from '../common/logger.js';
import { checkExternalIp } from '../common/network.js';
import { exitOnSignal, exitWithConfigError, redactUrl } from '../common/shutdown.js';
import { createStore } from '../store/index.js';
import type { Store } from '../store/index.js';
import { containerConfigFromEnv, type ContainerConfig } from './config.js';
import { AgentContainer } from './container.js';
import { agentModulesFromEnv, loadAgentTypes } from '../agents/load.js';
import type { AnyAgentDefinition } from '../sdk/types.js';

export async function runContainerCommand(env = process.env): Promise<void> {
  let config: ContainerConfig;
  let ipWarning: string | undefined;
  let agentTypes: AnyAgentDefinition[];
  try {
    config = containerConfigFromEnv(env);
    ipWarning = await checkExternalIp(config.externalIp, config.externalIpCheck, env);
    agentTypes = await loadAgentTypes(agentModulesFromEnv(env));
  } catch (err) {
    exitWithConfigError(err);
  }
  const log = createLogger({ role: 'container', container: config.name });
  if (ipWarning !== undefined) log.warn(ipWarning);
  if (config.externalIpGuessed) {
    log.warn({ externalIp: config.externalIp }, `EXTERNAL_IP is not set: advertising ${config.externalIp}; set EXTERNAL_IP to the address other hosts reach this one at`);
  }
  let store: Store | undefined;
  if (config.redisUrl !== undefined) {
    try {
      store = await createStore({
        redisUrl: config.redisUrl,
        onCredentialsRefused: exitWithConfigError,
        ...(config.redisCaFile === undefined ? {} : { tlsCaFile: config.redisCaFile }),
        prefix: config.prefix,
        name: `flotilla-container-${config.name}`,
      });
    } catch (err) {
      exitWithConfigError(err);
    }
    log.info({ redis: redactUrl(config.redisUrl) }, 'renewing the lease in Redis');
  } else {
    log.warn('REDIS_URL is not set: renewing the lease over HTTP through the manager');
  }

  const container = new AgentContainer({ config, log, agentTypes, ...(store === undefined ? {} : { store }) });
  log.info({ agentTypes: agentTypes.map((t) => t.type) }, store === undefined ? 'no store access: hosting no agents' : 'serving agent types');
  const stop = async (): Promise<void> => {
    await container.stop();
    await store?.close();
  };
  container.onFatal = () => {
    void stop().finally(() => process.exit(2));
  };
  try {
    await container.start();
  } catch (err) {
    log.fatal({ err }, `container failed to start: ${(err as Error).message}`);
    await store?.close();
    process.exit(1);
  }
  exitOnSignal(stop, log);
}
