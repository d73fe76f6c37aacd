/**
 * `flotilla dev`: a manager and one agent container in one process on the embedded in-memory
 * store. No Redis, no configuration; honours CLUSTER_PORT and AGENT_PORT. For trying Flotilla
 * out and for developing agents, not for production (state is gone when it stops).
 *
 * Authentication is on as in production (FLOTILLA_AUTH=off turns it off, loudly): the keys live
 * in a fresh temporary directory removed at exit (or FLOTILLA_KEY_DIR), and dev prints an admin
 * token and a dashboard link that carries it in the URL fragment, as Jupyter does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authSettingsFromEnv, KEY_DIR_ENV, mintToken, startManagerAuth, type ApiAuthenticator } from '../auth/index.js';
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

/** Dev binds to loopback unless told otherwise: it is for one person's machine. */
export const DEV_BIND_ADDRESS = '127.0.0.1';
/** The admin token dev prints lives this long (a working day and then some). */
export const DEV_ADMIN_TOKEN_TTL_MS = 24 * 3_600_000;
export const DASHBOARD_PATH = '/dashboard/';

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
  // A key directory of its own unless one is given: removed at exit, like the in-memory state.
  let ownKeyDir: string | undefined;
  const removeOwnKeyDir = (): void => {
    if (ownKeyDir !== undefined) rmSync(ownKeyDir, { recursive: true, force: true });
  };
  try {
    const authSettings = authSettingsFromEnv(env);
    if (authSettings.mode === 'on' && envString(env, KEY_DIR_ENV) === undefined) {
      ownKeyDir = mkdtempSync(join(tmpdir(), 'flotilla-dev-keys-'));
      authSettings.keyDir = ownKeyDir;
    }
    const auth: ApiAuthenticator | null = startManagerAuth(authSettings, store, log.child({ role: 'manager' }));
    const managerConfig = managerConfigFromEnv({ ...env, FLOTILLA_BIND_ADDRESS: host, EXTERNAL_IP: host, CLUSTER_PORT: String(managerPort) });
    manager = new Manager({ store, config: managerConfig, log: log.child({ role: 'manager' }), ...(auth === null ? {} : { auth, metricsAccess: authSettings.metricsPublic ? 'public' : 'read' }) });
    await manager.start();
    const managerUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${manager.port}`;
    const containerConfig = containerConfigFromEnv({
      ...env,
      CENTRAL_MANAGER_URL: managerUrl,
      EXTERNAL_IP: host === '0.0.0.0' ? '127.0.0.1' : host,
      FLOTILLA_BIND_ADDRESS: host,
      AGENT_PORT: String(agentPort),
      CONTAINER_NAME: envString(env, 'CONTAINER_NAME') ?? 'dev-container',
      ...(auth === null ? {} : { FLOTILLA_JOIN_TOKEN: auth.keys().joinToken }),
    });
    const agentTypes = await loadAgentTypes(agentModulesFromEnv(env));
    container = new AgentContainer({ config: containerConfig, log: log.child({ role: 'container' }), store, agentTypes });
    await container.start();
    await container.joined();
    const admin = auth === null ? null : (await mintToken(auth.keys(), { sub: 'dev-admin', role: 'admin', ttlMs: DEV_ADMIN_TOKEN_TTL_MS })).token;
    const readyMs = Math.round(performance.now() - startedAt);
    process.stdout.write(
      [
        '',
        `  Flotilla dev is running (ready in ${readyMs} ms; in-memory store, state is lost on exit)`,
        '',
        `  Manager API   ${managerUrl}`,
        `  Health        ${managerUrl}/health`,
        `  Cluster       ${managerUrl}/api/v1/cluster/status`,
        `  Container     http://${containerConfig.externalIp}:${container.port}/status  (${containerConfig.name}${admin === null ? '' : '; with the admin token as a bearer token'})`,
        ...(admin === null
          ? ['', '  Authentication is OFF (FLOTILLA_AUTH=off).', '', `  Try: FLOTILLA_URL=${managerUrl} flotilla status`]
          : [
              `  Dashboard     ${managerUrl}${DASHBOARD_PATH}#token=${admin}`,
              `  Admin token   ${admin}`,
              '',
              `  Try: FLOTILLA_URL=${managerUrl} FLOTILLA_TOKEN=${admin} flotilla status`,
            ]),
        '  Stop with Ctrl-C.',
        '',
      ].join('\n') + '\n',
    );
  } catch (err) {
    await container?.stop().catch(() => undefined);
    await manager?.stop().catch(() => undefined);
    removeOwnKeyDir();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') exitWithConfigError(new Error(`port in use (${e.message}); set CLUSTER_PORT / AGENT_PORT to free ports`));
    exitWithConfigError(err);
  }
  exitOnSignal(async () => {
    await container?.stop();
    await manager?.stop();
    await store.close();
    removeOwnKeyDir();
  }, log);
}
