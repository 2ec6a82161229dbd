import { Module } from '@nestjs/common';
import { RateLimitMetricsModule } from '../metrics/rate-limit-metrics.module.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { RateLimitAdminController } from './rate-limit-admin.controller.js';
import { AdminConfigurableModuleClass } from './rate-limit-admin.module-definition.js';

/**
 * The admin API (README: Admin API) under `/admin` (or `path`): rules and their runtime
 * overrides, per-key caps, inspect and reset of a key, allow and block lists, stats. Every call
 * needs `Authorization: Bearer <token>`; without a token configured every route answers 404.
 * `forRoot({ token, path })` mounts it under `path` (default `admin`); `forRootAsync` takes the
 * token from a factory. The token must be at least 16 characters without whitespace; failed
 * authentications are limited to 10 per minute per client IP. Needs `RateLimitModule`
 * registered globally (its default); brings `RateLimitMetricsModule` for `GET stats`.
 * @publicApi
 * @example
 * ```ts
 * @Module({
 *   imports: [
 *     RateLimitModule.forRoot({ redis: { url: process.env.REDIS_URL } }),
 *     RateLimitAdminModule.forRoot({ token: process.env.ADMIN_TOKEN }),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
@Module({
  imports: [RateLimitMetricsModule],
  controllers: [RateLimitAdminController],
  providers: [AdminTokenGuard],
})
export class RateLimitAdminModule extends AdminConfigurableModuleClass {}
