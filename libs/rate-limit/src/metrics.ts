// Prometheus metrics (prom-client): import this entry only where prom-client is installed.
export { RateLimitMetricsModule } from './metrics/rate-limit-metrics.module.js';
export {
  RateLimitMetrics,
  type DecisionOutcome,
  type RuleStats,
} from './metrics/rate-limit.metrics.js';
export type { ThrottleEvent, ThrottleOutcome } from './metrics/throttle-log.js';
