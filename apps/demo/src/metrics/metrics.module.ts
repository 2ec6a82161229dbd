import { Module } from '@nestjs/common';
import { RateLimitMetricsModule } from '../../../../libs/rate-limit/src/metrics.js';
import { MetricsController } from './metrics.controller.js';

/** Serves `/metrics` from the limiter's metrics module. */
@Module({ imports: [RateLimitMetricsModule], controllers: [MetricsController] })
export class MetricsModule {}
