export {
  RateLimitMetrics,
  type DecisionOutcome,
  type RuleStats,
} from './metrics/rate-limit.metrics.js';
