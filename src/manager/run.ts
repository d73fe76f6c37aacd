/** `flotilla manager`: a manager process configured by the environment. */
import { createLogger } from '../common/logger.js';
import { checkExternalIp } from '../common/network.js';
import { ConfigError, envString } from '../common/env.js';
import { exitOnSignal, exitWithConfigError, redactUrl } from '../common/shutdown.js';
import { createStore } from '../store/index.js';
import { managerConfigFromEnv, type ManagerConfig } from './config.js';
import { Manager } from './manager.js';
import { NO_TRACING, createTracing, tracingConfigFromEnv, type TracingConfig } from '../observability/tracing.js';
import { authSettingsFromEnv, KeyDir, startManagerAuth, type ApiAuthenticator, type AuthSettings } from '../auth/index.js';
import { CertificateIssuer, ManagerTls, tlsSettingsFromEnv, type TlsSettings } from '../tls/index.js';

export async function runManagerCommand(env = process.env): Promise<void> {
  let config: ManagerConfig;
  let authSettings: AuthSettings;
  let ipWarning: string | undefined;
  let tracingConfig: TracingConfig | null;
  let tlsSettings: TlsSettings;
  try {
    config = managerConfigFromEnv(env);
    tlsSettings = tlsSettingsFromEnv(env);
    tracingConfig = tracingConfigFromEnv(env, 'flotilla-manager');
    authSettings = authSettingsFromEnv(env);
    if (config.redisUrl === undefined && envString(env, 'FLOTILLA_STORE') !== 'memory') {
      throw new ConfigError(
        'REDIS_URL is not set: a manager keeps all state in Redis (e.g. REDIS_URL=redis://10.0.0.5:6379). ' +
          'For a single-process try-out use `flotilla dev` (or FLOTILLA_STORE=memory).',
      );
    }
    if (config.externalIp !== undefined) ipWarning = await checkExternalIp(config.externalIp, config.externalIpCheck, env);
  } catch (err) {
    exitWithConfigError(err);
  }
  const log = createLogger({ role: 'manager', managerId: config.managerId });
  if (ipWarning !== undefined) log.warn(ipWarning);
  let store;
  try {
    store = await createStore({
      ...(config.redisUrl === undefined ? {} : { redisUrl: config.redisUrl, onCredentialsRefused: exitWithConfigError }),
      ...(config.redisCaFile === undefined ? {} : { tlsCaFile: config.redisCaFile }),
      prefix: config.prefix,
      name: `flotilla-manager-${config.managerId}`,
    });
  } catch (err) {
    exitWithConfigError(err);
  }
  if (config.redisUrl !== undefined) log.info({ redis: redactUrl(config.redisUrl), prefix: config.prefix }, 'using Redis store');
  else log.warn('FLOTILLA_STORE=memory: state lives in this process only and is lost when it stops');

  let auth: ApiAuthenticator | null;
  try {
    auth = startManagerAuth(authSettings, store, log);
  } catch (err) {
    await store.close();
    exitWithConfigError(err);
  }
  // The key directory's CA signs containers' CSRs (with or without TLS on the API itself).
  const certificates = new CertificateIssuer(new KeyDir(authSettings.keyDir), tlsSettings.certTtlMs);
  let tls: ManagerTls | undefined;
  if (tlsSettings.enabled) {
    try {
      tls = await ManagerTls.create(tlsSettings, tlsSettings.own === null ? certificates : null, config.managerId, config.externalIp, log);
    } catch (err) {
      await store.close();
      exitWithConfigError(err);
    }
    auth?.requireContainerCertificates();
  } else if (tlsSettings.own !== null) {
    log.warn('FLOTILLA_TLS_CERT/KEY/CA are set but FLOTILLA_TLS is not on: serving plain HTTP');
  }
  const tracing = tracingConfig === null ? NO_TRACING : await createTracing(tracingConfig);
  if (tracing.enabled) log.info({ otlp: tracingConfig?.url }, 'exporting traces over OTLP');
  const manager = new Manager({
    store,
    config,
    log,
    tracing,
    certificates,
    ...(tls === undefined ? {} : { tls }),
    ...(auth === null ? {} : { auth, metricsAccess: authSettings.metricsPublic ? 'public' : 'read' }),
  });
  try {
    await manager.start();
  } catch (err) {
    log.error({ err }, 'manager failed to start');
    await store.close();
    process.exit(1);
  }
  exitOnSignal(async () => {
    await manager.stop();
    await tracing.shutdown();
    await store.close();
  }, log);
}
