import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { RateLimitStatusService } from '../stores/rate-limit-status.service.js';

/**
 * Terminus indicator of the limiter: `{ status, store, breaker, degraded }`. `up` on Redis (or
 * without Redis configured); `degraded` (HTTP 200) while the `memory` or `open` failure mode
 * decides; `down` (HTTP 503) while the `closed` failure mode refuses requests.
 * Needs `TerminusModule` and a global `RateLimitModule` (the default) in scope.
 * @publicApi
 * @example
 * ```ts
 * @Get('health')
 * @HealthCheck()
 * check() {
 *   return this.health.check([() => this.rateLimit.isHealthy()]);
 * }
 * ```
 */
@Injectable()
export class RateLimitHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly status: RateLimitStatusService,
  ) {}

  isHealthy<const Key extends string = 'rate_limit'>(key: Key = 'rate_limit' as Key) {
    const { store, breaker, degraded, deciding } = this.status.snapshot();
    const check = this.indicators.check(key);
    const data = { store, breaker, degraded };
    if (!deciding) return check.down(data);
    return degraded ? check.degraded(data) : check.up(data);
  }
}
