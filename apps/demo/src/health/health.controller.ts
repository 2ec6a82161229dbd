import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { SkipRateLimit } from '@app/rate-limit';
import { RateLimitHealthIndicator, RedisHealthIndicator } from '@app/rate-limit/health';

/** Health (see the README): whether the limiter can decide, and whether Redis answers. */
@Controller('health')
@SkipRateLimit()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly rateLimit: RateLimitHealthIndicator,
    private readonly redis: RedisHealthIndicator,
  ) {}

  /** 200 while the limiter decides (`degraded` while off Redis); 503 in `closed` mode without Redis. */
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.rateLimit.isHealthy('rate_limit')]);
  }

  /** 503 while Redis does not answer PING; 200 with `mode: 'memory-only'` without Redis. */
  @Get('redis')
  @HealthCheck()
  redisCheck() {
    return this.health.check([() => this.redis.isHealthy('redis')]);
  }
}
