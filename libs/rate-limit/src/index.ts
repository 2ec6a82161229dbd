export { RateLimitModule } from './rate-limit.module.js';
export type {
  Algorithm,
  BreakerOptions,
  ClientInfo,
  Decision,
  Duration,
  FailureMode,
  HeaderStyle,
  KeyBy,
  KeySource,
  RateLimitModuleOptions,
  RateLimitRule,
  RedisConnectionOptions,
  RequestFn,
  RuleDecision,
  RuleInput,
  RuleMode,
} from './interfaces/index.js';
export { RateLimit, SkipRateLimit } from './decorators/index.js';
export { RateLimitGuard } from './guard/rate-limit.guard.js';
export { RateLimitException } from './guard/rate-limit.exception.js';
export { RateLimitConfigError, StoreUnavailableError, type StoreErrorCode } from './errors/index.js';
export { RateLimitStore, type RuleCall, type RuleOutcome, type StoreResult } from './stores/rate-limit.store.js';
export { MemoryStore, type MemoryStoreOptions } from './stores/memory.store.js';
export { RedisStore } from './stores/redis.store.js';
export {
  ResilientStore,
  type BreakerState,
  type DecisionSource,
  type GuardedStore,
  type ResilientStoreEvents,
  type ResilientStoreOptions,
  type ResilientStoreStats,
} from './stores/resilient.store.js';
export { RateLimitStatusService, type RateLimitStatus } from './stores/rate-limit-status.service.js';
export { RuleRegistry, type RuleOverride } from './rules/rule-registry.service.js';
export { parseDuration } from './rules/duration.js';
export type { ThrottleEvent, ThrottleOutcome } from './metrics/throttle-log.js';
export type { TopKey } from './metrics/top-keys.js';
export { RuntimeConfig, type ListHit } from './runtime/runtime-config.service.js';
export type { KeyCap } from './runtime/config-codec.js';
export type { ListName } from './lists/access-list.js';
