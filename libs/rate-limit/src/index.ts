// The root entry: the module, the HTTP adapter and the core. Nothing here loads
// @nestjs/terminus, prom-client or class-validator; those live behind the `health`,
// `metrics` and `admin` entries.
export { RateLimitModule } from './rate-limit.module.js';
export type {
  Algorithm,
  ClientInfo,
  Decision,
  FailureMode,
  KeyBy,
  RateLimitModuleOptions,
  RateLimitRule,
  RedisConnectionOptions,
  RequestFn,
  RuleDecision,
  RuleInput,
} from './interfaces/index.js';
export { RateLimit, SkipRateLimit } from './decorators/index.js';
export { RateLimitGuard } from './guard/rate-limit.guard.js';
export { RateLimitException } from './guard/rate-limit.exception.js';
export {
  RateLimitConfigError,
  RateLimitExceededError,
  StoreUnavailableError,
} from './errors/index.js';
export { RateLimiter, type AcquireResult, type LimitResult } from './core/rate-limiter.service.js';
export { DecisionEvents, type DecisionObserver } from './core/decision-events.js';
export {
  RateLimitStore,
  type RuleCall,
  type RuleOutcome,
  type StoreResult,
} from './stores/rate-limit.store.js';
export { MemoryStore } from './stores/memory.store.js';
export { RedisStore } from './stores/redis.store.js';
export {
  RateLimitStatusService,
  type RateLimitStatus,
} from './stores/rate-limit-status.service.js';
export type { BreakerState } from './stores/resilient.store.js';
export { parseDuration } from './rules/duration.js';
