// Health indicators for @nestjs/terminus: import this entry only where terminus is installed.
export { RateLimitHealthIndicator } from './health/rate-limit.health.js';
export { RedisHealthIndicator, type RedisMode } from './health/redis.health.js';
