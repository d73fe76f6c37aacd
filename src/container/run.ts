/** `flotilla container`: an agent container process configured by the environment. */
import { createLogger } from '../common/logger.js';
import { checkExternalIp } from '../common/network.js';
import { exitOnSignal, exitWithConfigError, redactUrl } from '../common/shutdown.js';
import { createStore } from '../store/index.js';
import type { Store } from '../store/index.js';
import { containerConfigFromEnv, type ContainerConfig } from './config.js';
import { AgentContainer } from './container.js';
import { LogShipper } from '../observability/index.js';
import { NO_TRACING, createTracing, tracingConfigFromEnv, type TracingConfig } from '../observability/tracing.js';
import { agentModulesFromEnv, loadAgentTypes } from '../agents/load.js';
import type { AnyAgentDefinition } from '../sdk/types.js';

export async function runContainerCommand(env = process.env): Promise<void> {
  let config: ContainerConfig;
  let ipWarning: string | undefined;
  let agentTypes: AnyAgentDefinition[];
  let tracingConfig: TracingConfig | null;
  try {
    config = containerConfigFromEnv(env);
    tracingConfig = tracingConfigFromEnv(env, 'flotilla-container');
    ipWarning = await checkExternalIp(config.externalIp, config.externalIpCheck, env);
    agentTypes = await loadAgentTypes(agentModulesFromEnv(env));
  } catch (err) {
    exitWithConfigError(err);
  }
  // The shipper buffers from the first line; it ships once the store exists (and only with one).
  const shipper = config.logShipping && config.redisUrl !== undefined ? new LogShipper(createLogger({ role: 'container', container: config.name })) : undefined;
  const log = createLogger({ role: 'container', container: config.name }, undefined, shipper);
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
    shipper?.start(store);
  } else {
    log.warn('REDIS_URL is not set: renewing the lease over HTTP through the manager');
  }

  const tracing = tracingConfig === null ? NO_TRACING : await createTracing(tracingConfig);
  if (tracing.enabled) log.info({ otlp: tracingConfig?.url }, 'exporting traces over OTLP');
  const container = new AgentContainer({ config, log, agentTypes, tracing, ...(store === undefined ? {} : { store }) });
  log.info({ agentTypes: agentTypes.map((t) => t.type) }, store === undefined ? 'no store access: hosting no agents' : 'serving agent types');
  const stop = async (): Promise<void> => {
    await container.stop();
    await tracing.shutdown();
    await shipper?.stop();
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
