import type { Api } from '../api.js';
import type { Cluster } from '../cluster.js';

/** What every view gets: the API client, the shared cluster data, and what the user may do. */
export interface AppContext {
  api: Api;
  cluster: Cluster;
  /** False for a viewer: actions are hidden and disabled (the API would answer 403). */
  mayOperate: boolean;
}

/** A page of the dashboard. `unmount` removes its listeners and stops its timers. */
export interface View {
  mount(root: HTMLElement): void;
  unmount(): void;
}
