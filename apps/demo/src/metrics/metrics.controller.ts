import { Controller, Get, Header } from '@nestjs/common';
import { Registry } from 'prom-client';
import { SkipRateLimit } from '@app/rate-limit';
import { RateLimitMetrics } from '@app/rate-limit/metrics';

/** `GET /metrics`: the limiter's series and the process metrics, Prometheus text format (see the README's Metrics section). */
@SkipRateLimit()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: RateLimitMetrics) {}

  @Get()
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
