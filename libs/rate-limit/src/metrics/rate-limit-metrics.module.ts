import { Global, Module } from '@nestjs/common';
import { DecisionRecorder } from './decision-recorder.js';
import { RateLimitMetrics } from './rate-limit.metrics.js';

/**
 * The limiter's Prometheus series (`RateLimitMetrics`), fed by observing every decision the
 * core makes. Import it next to a global `RateLimitModule` and serve `RateLimitMetrics.registry`;
 * without it the limiter never loads prom-client. Global, so a metrics controller anywhere can
 * inject `RateLimitMetrics`.
 * @publicApi
 */
@Global()
@Module({
  providers: [RateLimitMetrics, DecisionRecorder],
  exports: [RateLimitMetrics],
})
export class RateLimitMetricsModule {}
