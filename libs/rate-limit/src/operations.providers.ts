import { DecisionRecorder } from './metrics/decision-recorder.js';
import { RateLimitMetrics } from './metrics/rate-limit.metrics.js';
import { TopKeys } from './metrics/top-keys.js';
import { RuntimeConfig } from './runtime/runtime-config.service.js';
import { DenyCache } from './stores/deny-cache.js';

/**
 * What operating the limiter live needs: the runtime configuration (overrides, per-key caps,
 * lists), the metrics, the throttle log and the most throttled callers. Exported too, because a
 * guard added with `@UseGuards` is built in the module that uses it.
 * @internal
 */
export const operationsProviders = [
  RuntimeConfig,
  RateLimitMetrics,
  DecisionRecorder,
  { provide: DenyCache, useFactory: () => new DenyCache() },
  { provide: TopKeys, useFactory: () => new TopKeys() },
];
