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
export {
  DEFAULT_LATENCY_INTERVAL_MS,
  LATENCY_INTERVAL_MIN_MS,
  LATENCY_PROBE_TIMEOUT_MS,
  LATENCY_WINDOW,
  LatencyProbe,
  MANAGER_TARGET,
  REDIS_TARGET,
  type LatencyProbeOptions,
} from './latency-probe.js';
export { LOG_SHIP_BATCH_MAX, LOG_SHIP_BUFFER_MAX, LOG_SHIP_INTERVAL_MS, LogShipper, logRecordFromLine, type LogShipperOptions } from './log-shipper.js';
