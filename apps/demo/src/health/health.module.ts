import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { RateLimitHealthIndicator, RedisHealthIndicator } from '../../../../libs/rate-limit/src/health.js';
import { HealthController } from './health.controller.js';

/** `/health` and `/health/redis`; the indicators read the global `RateLimitModule`. */
@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'pretty' })],
  controllers: [HealthController],
  providers: [RateLimitHealthIndicator, RedisHealthIndicator],
})
export class HealthModule {}
