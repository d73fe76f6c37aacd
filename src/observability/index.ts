export {
  ContainerMetrics,
  HANDLING_BUCKETS,
  ManagerMetrics,
  METRICS_PATH,
  METRICS_VIEW_MAX_AGE_MS,
  STORE_PING_TIMEOUT_MS,
  metricsRoutes,
  type ContainerMetricsOptions,
  type ManagerMetricsOptions,
  type MetricsSource,
  type TurnOutcome,
} from './metrics.js';
