import type { Logger } from '../common/logger.js';
import type { MessageStore } from '../store/messaging.js';
import type { ClusterStore } from '../store/store.js';
import type { ObservabilityStore } from '../store/observability.js';
import type { ManagerConfig } from './config.js';
import type { ClusterView } from './cluster-view.js';
import type { Tracing } from '../observability/tracing.js';
import type { ApiAuthenticator } from '../auth/index.js';
import type { CertificateIssuer, ManagerTls } from '../tls/index.js';

/** What the routes need from the manager: passed to every route plugin. */
export interface ManagerContext {
  /** Both halves: containers and leadership (ClusterStore), agents and their inboxes (MessageStore). */
  store: ClusterStore & MessageStore & ObservabilityStore;
  config: ManagerConfig;
  log: Logger;
  /** Cached reads of the container list and agent counts (see cluster-view.ts). */
  view: ClusterView;
  /** Spans for messages accepted through the API (NO_TRACING unless an OTLP endpoint is set). */
  tracing: Tracing;
  /** Authentication (tokens, join tokens); null when FLOTILLA_AUTH=off or for in-process tests without it. */
  auth: ApiAuthenticator | null;
  /** Signs containers' CSRs with the cluster CA of the key directory; null without a key directory in use. */
  certificates: CertificateIssuer | null;
  /** FLOTILLA_TLS=on: the served certificate, the CA trusted for clients, the client for calls to containers. */
  tls: ManagerTls | null;
}
