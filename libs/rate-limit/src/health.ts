export { RateLimitHealthIndicator } from './health/rate-limit.health.js';
export { RedisHealthIndicator, type RedisMode } from './health/redis.health.js';
