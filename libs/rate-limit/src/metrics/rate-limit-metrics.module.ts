import { Global, Module } from '@nestjs/common';
import { DecisionRecorder } from './decision-recorder.js';
import { RateLimitMetrics } from './rate-limit.metrics.js';
import { TopKeys } from './top-keys.js';
import { RESOLVED_OPTIONS } from '../rate-limit.constants.js';
import type { ResolvedOptions } from '../rate-limit.options.js';

/**
 * The limiter's Prometheus series (`RateLimitMetrics`), fed by observing every decision the
 * core makes. Import it next to a global `RateLimitModule` and serve `RateLimitMetrics.registry`;
 * without it the limiter never loads prom-client. Global, so a metrics controller anywhere can
 * inject `RateLimitMetrics`.
 * @publicApi
 */
@Global()
@Module({
  providers: [
    RateLimitMetrics,
    DecisionRecorder,
    {
      provide: TopKeys,
      useFactory: (options: ResolvedOptions) => new TopKeys({ secret: options.logSecret }),
      inject: [RESOLVED_OPTIONS],
    },
  ],
  exports: [RateLimitMetrics, TopKeys],
})
export class RateLimitMetricsModule {}
