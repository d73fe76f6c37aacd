import type { Logger } from '../common/logger.js';
import type { ClusterStore } from '../store/store.js';
import type { ManagerConfig } from './config.js';

/** What the routes need from the manager: passed to every route plugin. */
export interface ManagerContext {
  store: ClusterStore;
  config: ManagerConfig;
  log: Logger;
}
