import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { DecisionEvents } from './core/decision-events.js';
import { RateLimiter } from './core/rate-limiter.service.js';
import { RateLimitGuard } from './guard/rate-limit.guard.js';
import { ThrottleLogObserver } from './metrics/throttle-log.observer.js';
import { REDIS_CLIENT, RESOLVED_OPTIONS } from './rate-limit.constants.js';
import { ConfigurableModuleClass } from './rate-limit.module-definition.js';
import { RedisClientHolder, rateLimitProviders } from './rate-limit.providers.js';
import { RuleRegistry } from './rules/rule-registry.service.js';
import { RuleExplorer } from './rules/rule.explorer.js';
import { RuntimeConfig } from './runtime/runtime-config.service.js';
import { MemoryStore } from './stores/memory.store.js';
import { RateLimitStatusService } from './stores/rate-limit-status.service.js';
import type { ResolvedOptions } from './rate-limit.options.js';
import { DenyCache } from './stores/deny-cache.js';
import { RateLimitStore } from './stores/rate-limit.store.js';

/**
 * Distributed rate limiting: `forRoot(options)` or `forRootAsync({ imports, inject, useFactory })`.
 * The guard is exported, not registered: add it with `APP_GUARD` or `@UseGuards(RateLimitGuard)`.
 * `RateLimiter` is the limiter without HTTP, for workers and your own code. Metrics, health and
 * the admin API are separate modules (entry points `/metrics`, `/health`, `/admin`).
 * @publicApi
 * @example
 * ```ts
 * @Module({
 *   imports: [RateLimitModule.forRoot({ redis: { url: process.env.REDIS_URL } })],
 *   providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
 * })
 * export class AppModule {}
 * ```
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    ...rateLimitProviders,
    {
      provide: DenyCache,
      useFactory: (options: ResolvedOptions) =>
        new DenyCache({ maxEntries: options.denyCacheSize }),
      inject: [RESOLVED_OPTIONS],
    },
    RuntimeConfig,
    DecisionEvents,
    RateLimiter,
    ThrottleLogObserver,
    RuleRegistry,
    RuleExplorer,
    RateLimitGuard,
    RateLimitStatusService,
  ],
  // The guard's dependencies too: a guard added with `@UseGuards` is built in the module using it.
  exports: [
    RateLimiter,
    DecisionEvents,
    RuntimeConfig,
    RateLimitGuard,
    RateLimitStore,
    MemoryStore,
    RuleRegistry,
    RateLimitStatusService,
    RESOLVED_OPTIONS,
    REDIS_CLIENT,
  ],
})
export class RateLimitModule extends ConfigurableModuleClass implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: RedisClientHolder) {
    super();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.close();
  }
}
