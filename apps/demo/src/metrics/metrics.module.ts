import { Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller.js';

/** Serves `/metrics`; `RateLimitMetrics` comes from the global `RateLimitModule`. */
@Module({ controllers: [MetricsController] })
export class MetricsModule {}
