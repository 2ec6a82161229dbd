import { Module } from '@nestjs/common';
import { RateLimitMetricsModule } from '@app/rate-limit/metrics';
import { MetricsController } from './metrics.controller.js';

/** Serves `/metrics` from the limiter's metrics module. */
@Module({ imports: [RateLimitMetricsModule], controllers: [MetricsController] })
export class MetricsModule {}
